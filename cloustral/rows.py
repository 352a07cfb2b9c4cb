"""Table rows built in Python for the long lists (the explorer, the findings list): fifty rows of
template lookups and includes were most of those pages' time. ``esc`` escapes a value exactly as the
templates' autoescape does (``& < > " '``), so a row built here is as safe as one rendered there."""

from __future__ import annotations

import html
from typing import Any


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)
