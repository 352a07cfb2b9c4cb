"""Findings as CSV or JSON, streamed row by row (100,000 findings never sit in memory at once).

Every CSV cell goes through ``cloustral.csvsafe.neutralize_cell`` (the explorer's export too): resource
names, tags and titles are attacker-controllable, and a cell a spreadsheet would read as a formula
gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from cloustral.csvsafe import neutralize_cell

# What a spreadsheet treats as the start of a formula (OWASP "CSV injection"), tab and CR included.

EXPORT_COLUMNS = (
    "id",
    "status",
    "severity",
    "category",
    "rule_id",
    "title",
    "connection",
    "provider",
    "resource_type",
    "native_id",
    "resource_name",
    "region",
    "first_seen",
    "last_seen",
    "resolved_at",
    "monthly_usd",
    "suppressed_reason",
)
# Model fields read for each column (the connection's name and provider through one join).
_SOURCE_FIELDS = (
    "id",
    "status",
    "severity",
    "category",
    "rule_id",
    "title",
    "connection__name",
    "connection__provider",
    "resource_type",
    "native_id",
    "resource_name",
    "region",
    "first_seen",
    "last_seen",
    "resolved_at",
    "monthly_usd",
    "suppressed_reason",
)
CHUNK_SIZE = 2000
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _time(value: datetime | None, tz: tzinfo) -> str | None:
    return timezone.localtime(value, tz).isoformat() if value is not None else None


def export_rows(queryset: QuerySet, tz: tzinfo | None = None) -> Iterator[dict[str, Any]]:
    """One plain dict per finding, in ``EXPORT_COLUMNS`` order: times as ISO 8601 in ``tz`` (the
    user's timezone), money as a Decimal (``"8.00"`` in CSV, a number in JSON). Reads in chunks."""
    tz = tz or timezone.get_current_timezone()
    for values in queryset.values_list(*_SOURCE_FIELDS).iterator(chunk_size=CHUNK_SIZE):
        row = dict(zip(EXPORT_COLUMNS, values, strict=True))
        for key in ("first_seen", "last_seen", "resolved_at"):
            row[key] = _time(row[key], tz)
        yield row


class _Line:
    """A file-like object whose ``write`` returns what was written (csv.writer → one line at a time)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A header line then one line per row, every cell neutralized (None → empty cell)."""
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        yield writer.writerow([neutralize_cell("" if row[c] is None else row[c]) for c in EXPORT_COLUMNS])


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of objects, one object per chunk."""
    yield "["
    first = True
    for row in rows:
        yield ("\n" if first else ",\n") + json.dumps(row, ensure_ascii=False, default=_json_default)
        first = False
    yield "\n]\n"


def stream(fmt: str, queryset: QuerySet, tz: tzinfo | None = None) -> Iterator[str]:
    rows = export_rows(queryset, tz)
    return csv_lines(rows) if fmt == "csv" else json_chunks(rows)
