"""Spreadsheet safety for every CSV export of cloud data (resource names, tags and titles come from
the customer's cloud and may be crafted): a cell a spreadsheet would evaluate as a formula is
neutralised with a leading apostrophe (OWASP "CSV injection")."""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: Any) -> Any:
    """``=HYPERLINK(...)``, ``+1``, ``-2``, ``@SUM``, a leading tab or carriage return get an apostrophe
    in front; other values are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
