"""A data archive on disk: a zip with one JSON file per table (an array of objects) and a README.md.

Rows are written one at a time into the zip entry, which is compressed as it goes: memory stays
bounded by one row and zlib's window, whatever the size of the organization.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

PROGRESS_EVERY = 5000  # rows between two progress reports within one table


class ArchiveWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)

    def write_table(
        self, name: str, rows: Iterable[dict[str, Any]], on_progress: Callable[[int], None] | None = None
    ) -> int:
        """Write ``rows`` as ``<name>.json``; returns how many. ``on_progress(n)`` is called every
        PROGRESS_EVERY rows with the number written since the previous call."""
        count = 0
        # force_zip64: the size of an entry is not known before it is written.
        with self._zip.open(f"{name}.json", "w", force_zip64=True) as out:
            out.write(b"[")
            for row in rows:
                out.write(b",\n" if count else b"\n")
                out.write(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False).encode())
                count += 1
                if on_progress is not None and count % PROGRESS_EVERY == 0:
                    on_progress(PROGRESS_EVERY)
            out.write(b"\n]\n" if count else b"]\n")
        if on_progress is not None and count % PROGRESS_EVERY:
            on_progress(count % PROGRESS_EVERY)
        return count

    def write_text(self, name: str, text: str) -> None:
        self._zip.writestr(name, text.encode())

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
