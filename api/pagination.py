"""Keyset pages for the API's lists (the resources reuse the explorer's own, ``findings.resource_search``).

A page is "the ``limit`` rows after this position" in a total order that ends with the id, so page
500 costs what page 1 does (no OFFSET) and rows added meanwhile never shift a page. The position
travels as an opaque, URL-safe ``cursor``; a damaged or foreign one is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from api.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR = 2048


def parse_limit(params) -> int:
    raw = (params.get("limit") or "").strip()
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, "invalid_parameter", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def bad_cursor() -> ApiError:
    return ApiError(400, "invalid_cursor", "The cursor is damaged or belongs to another list or sort: start again.")


@dataclass(frozen=True)
class Keyset:
    """A total order: ``fields`` (``-`` for descending; the last one the id), ``kinds`` of their values
    (``int``, ``str`` or ``time``), and a ``name`` binding cursors to this list and order."""

    name: str
    fields: Sequence[str]
    kinds: Sequence[str]

    def encode(self, values: Sequence[Any]) -> str:
        """The cursor of the position after a row with these sort values (in ``fields`` order)."""
        plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
        raw = json.dumps({"k": self.name, "v": plain}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: str) -> list[Any]:
        if len(token) > MAX_CURSOR:
            raise bad_cursor()
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
        except (ValueError, binascii.Error, RecursionError):
            raise bad_cursor() from None
        if not isinstance(data, dict) or data.get("k") != self.name:
            raise bad_cursor()
        values = data.get("v")
        if not isinstance(values, list) or len(values) != len(self.fields):
            raise bad_cursor()
        out = []
        for value, kind in zip(values, self.kinds, strict=True):
            if kind == "int":
                ok = type(value) is int and -(2**63) <= value < 2**63
            elif kind == "str":
                ok = isinstance(value, str) and len(value) <= 1024 and "\x00" not in value
                try:
                    value.encode() if ok else None
                except UnicodeEncodeError:  # a lone surrogate no database driver can encode
                    ok = False
            else:
                parsed = None
                try:
                    parsed = parse_datetime(value) if isinstance(value, str) and len(value) < 64 else None
                except (ValueError, OverflowError):
                    parsed = None
                ok = parsed is not None and parsed.tzinfo is not None
                value = parsed
            if not ok:
                raise bad_cursor()
            out.append(value)
        return out

    def after(self, values: list[Any]) -> Q:
        """Rows strictly after ``values`` in this order (lexicographic over the fields)."""
        alternatives = []
        equal = Q()
        for f, value in zip(self.fields, values, strict=True):
            column = f.lstrip("-")
            op = "lt" if f.startswith("-") else "gt"
            alternatives.append(equal & Q(**{f"{column}__{op}": value}))
            equal &= Q(**{column: value})
        return reduce(operator.or_, alternatives)

    def page(self, queryset: QuerySet, cursor: str, limit: int) -> tuple[list, str | None]:
        """(rows, next cursor or None). Two queries: the page's sort values and ids first (a narrow
        sort, however wide the rows and their joins), then those rows by id."""
        columns = [f.lstrip("-") for f in self.fields]
        ordered = queryset.order_by(*self.fields)
        if cursor:
            ordered = ordered.filter(self.after(self.decode(cursor)))
        keys = list(ordered.values_list(*columns)[: limit + 1])
        more = len(keys) > limit
        keys = keys[:limit]
        if not keys:
            return [], None
        at = columns.index("id")
        by_pk = {row.pk: row for row in queryset.order_by().filter(pk__in=[k[at] for k in keys])}
        rows = [by_pk[k[at]] for k in keys if k[at] in by_pk]
        return rows, (self.encode(keys[-1]) if more else None)


def page_url(request, cursor: str | None) -> str | None:
    """The URL of the page at ``cursor`` (the request's other parameters kept)."""
    if not cursor:
        return None
    params = [(k, v) for k, values in request.query_params.lists() for v in values if k != "cursor"]
    params.append(("cursor", cursor))
    return request.build_absolute_uri(request.path) + "?" + urlencode(params)
