"""Searching an organization's inventory: the explorer's query side, as plain functions (no HTTP).

Shared by the explorer page (``dashboard/explorer.py`` and ``explorer_views.py``) and the REST API
(``api/``). It lives in findings because it joins the inventory with the findings ("has open findings",
the per-resource badges), and findings may read inventory.

- ``parse_filters(querydict)``: the URL's filters, validated; bad values are dropped with a warning for
  the user, never an exception.
- ``filtered_resources(org, filters)``: the filtered queryset (org-scoped).
- ``page_after(queryset, sort, cursor)``: keyset pagination. A page is "the next N rows after this
  (sort value, id)", so the 50th page costs what the first does (no OFFSET). Cursors are opaque,
  URL-safe tokens; a damaged one gives the first page.
- ``bounded_count``, ``explorer_facets``, ``open_findings_by_resource``: the rest of a page of results,
  each one query whatever the inventory's size.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.db import connections
from django.db.models import Count, Exists, F, Func, OuterRef, Q, QuerySet, TextField, Value
from django.utils.dateparse import parse_datetime

from connections.models import CloudConnection
from findings.models import Finding, Severity
from inventory.models import Relationship, Resource
from inventory.stats import grouped_counts

PAGE_SIZE = 50
COUNT_LIMIT = 10_000  # counted exactly up to here; beyond, "10,000+"
MAX_VALUES = 50  # values per multi-valued filter
MAX_TAG_FILTERS = 5
MAX_Q = 200
MAX_CURSOR = 4096

PROVIDERS = {c.value: c.label for c in CloudConnection.Provider}
FINDINGS_CHOICES = {"yes": True, "no": False}
_TYPE_RE = re.compile(r"^[a-z][a-z0-9]*(\.[A-Za-z0-9_-]+)+$")
_REGION_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # NUL & co. (PostgreSQL rejects NUL in text)


@dataclass(frozen=True)
class SortColumn:
    label: str
    column: str  # ORM path
    is_time: bool = False
    newest_first: bool = False  # the first click on the header sorts descending


SORTS: dict[str, SortColumn] = {
    "name": SortColumn("Name", "name"),
    "type": SortColumn("Type", "resource_type"),
    "region": SortColumn("Region", "region"),
    "connection": SortColumn("Connection", "connection__name"),
    "last_seen": SortColumn("Last seen", "last_seen", is_time=True, newest_first=True),
    "first_seen": SortColumn("First seen", "first_seen", is_time=True, newest_first=True),
}
DEFAULT_SORT = "type"


# --- filters ----------------------------------------------------------------------------------------


@dataclass
class ExplorerFilters:
    connections: list[int] = field(default_factory=list)
    provider: str = ""
    types: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    tags: list[tuple[str, str | None]] = field(default_factory=list)  # (key, value) or (key, None): has key
    has_findings: bool | None = None  # open findings: True with, False without, None either
    q: str = ""
    sort: str = DEFAULT_SORT  # "name" ascending, "-name" descending
    cursor: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @property
    def is_filtered(self) -> bool:
        return bool(self.connections or self.provider or self.types or self.regions or self.tags or self.q) or (
            self.has_findings is not None
        )

    @property
    def sort_param(self) -> str:
        """The sort as a URL value: empty for the default, so shared URLs stay short."""
        return "" if self.sort == DEFAULT_SORT else self.sort

    @property
    def findings_param(self) -> str:
        if self.has_findings is None:
            return ""
        return "yes" if self.has_findings else "no"

    @property
    def tag_params(self) -> list[str]:
        return [key if value is None else f"{key}={value}" for key, value in self.tags]

    def params(self, *, sort: str | None = None, cursor: str = "") -> list[tuple[str, str]]:
        """The filters as URL parameters (empty ones left out); the default sort is implied."""
        out: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        out += [("connection", str(pk)) for pk in self.connections]
        out += [("provider", self.provider)] if self.provider else []
        out += [("type", t) for t in self.types]
        out += [("region", r) for r in self.regions]
        out += [("tag", t) for t in self.tag_params]
        out += [("findings", self.findings_param)] if self.has_findings is not None else []
        sort = self.sort if sort is None else sort
        out += [("sort", sort)] if sort != DEFAULT_SORT else []
        out += [("cursor", cursor)] if cursor else []
        return out

    def query(self, *, sort: str | None = None, cursor: str = "") -> str:
        return urlencode(self.params(sort=sort, cursor=cursor))

    def without(self, name: str, value: str = "") -> str:
        """The query string of this view minus one filter value (an active-filter chip's "remove" link)."""
        return urlencode([(k, v) for k, v in self.params() if not (k == name and (not value or v == value))])

    def sort_links(self) -> dict[str, dict[str, Any]]:
        """Per sortable column: the query that sorts by it (toggling direction if already sorted by it)."""
        links = {}
        for key, col in SORTS.items():
            active = self.sort_key == key
            if active:
                target = key if self.descending else f"-{key}"
            else:
                target = f"-{key}" if col.newest_first else key
            links[key] = {
                "label": col.label,
                "query": self.query(sort=target),
                "active": active,
                "descending": active and self.descending,
            }
        return links

    def chips(self, facets: Facets | None = None) -> list[tuple[str, str]]:
        """(label, query without it) for each active filter value."""
        names = {c.id: c.name for c in facets.connections} if facets else {}
        chips = [(f"Search: {self.q}", self.without("q"))] if self.q else []
        chips += [(f"Connection: {names.get(pk, pk)}", self.without("connection", str(pk))) for pk in self.connections]
        if self.provider:
            chips.append((f"Provider: {PROVIDERS[self.provider]}", self.without("provider")))
        chips += [(f"Type: {t}", self.without("type", t)) for t in self.types]
        chips += [(f"Region: {r}", self.without("region", r)) for r in self.regions]
        chips += [(f"Tag: {t}", self.without("tag", t)) for t in self.tag_params]
        if self.has_findings is not None:
            label = "With open findings" if self.has_findings else "Without open findings"
            chips.append((label, self.without("findings")))
        return chips


def _getlist(querydict: Mapping[str, Any], name: str) -> list[str]:
    if hasattr(querydict, "getlist"):
        values = querydict.getlist(name)
    else:
        raw = querydict.get(name, [])
        values = raw if isinstance(raw, list | tuple) else [raw]
    return [str(v) for v in values]


def _clean_text(value: str) -> str:
    return _CONTROL_RE.sub("", value).strip()


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def parse_filters(querydict: Mapping[str, Any]) -> ExplorerFilters:
    """Read the explorer's filters from a QueryDict (or a plain dict). Never raises: each value that is
    not understood is dropped, and ``warnings`` says so in words a user can act on."""
    f = ExplorerFilters()
    warn = f.warnings.append

    for raw in _getlist(querydict, "connection"):
        if raw.strip().isdigit() and 0 < int(raw) < 2**63:
            f.connections.append(int(raw))
        elif raw.strip():
            warn(f"Ignored the connection filter “{raw[:40]}”: not a connection.")
    f.connections = _unique(f.connections)[:MAX_VALUES]

    provider = _clean_text((_getlist(querydict, "provider") or [""])[0]).lower()
    if provider in PROVIDERS:
        f.provider = provider
    elif provider:
        warn(f"Ignored the provider filter “{provider[:40]}”: choose {' or '.join(PROVIDERS.values())}.")

    for name, pattern, attr, label in (
        ("type", _TYPE_RE, "types", "resource type"),
        ("region", _REGION_RE, "regions", "region"),
    ):
        values = []
        for raw in _getlist(querydict, name):
            value = _clean_text(raw)
            if not value:
                continue
            if len(value) <= 100 and pattern.match(value):
                values.append(value)
            else:
                warn(f"Ignored the {label} filter “{value[:40]}”: not a valid {label}.")
        setattr(f, attr, _unique(values)[:MAX_VALUES])

    tags: list[tuple[str, str | None]] = []
    for raw in _getlist(querydict, "tag"):
        text = _CONTROL_RE.sub("", raw)
        if not text.strip():
            continue
        key, sep, value = text.partition("=")
        key = key.strip()
        if not key or len(key) > 128 or len(value) > 256:
            warn(f"Ignored the tag filter “{text[:40]}”: write a tag key, or key=value.")
            continue
        tags.append((key, value.strip() if sep else None))
    tags = _unique(tags)
    if len(tags) > MAX_TAG_FILTERS:
        warn(f"Only the first {MAX_TAG_FILTERS} tag filters are applied.")
    f.tags = tags[:MAX_TAG_FILTERS]

    findings = _clean_text((_getlist(querydict, "findings") or [""])[0]).lower()
    if findings in FINDINGS_CHOICES:
        f.has_findings = FINDINGS_CHOICES[findings]
    elif findings not in ("", "any"):
        warn("Ignored the findings filter: choose with or without open findings.")

    q = _clean_text((_getlist(querydict, "q") or [""])[0])
    if len(q) > MAX_Q:
        warn(f"The search was cut to its first {MAX_Q} characters.")
        q = q[:MAX_Q]
    f.q = q

    sort = _clean_text((_getlist(querydict, "sort") or [""])[0])
    if sort and sort.lstrip("-") in SORTS and sort.count("-") <= 1:
        f.sort = sort
    elif sort:
        warn(f"Unknown sort “{sort[:40]}”: sorted by type instead.")

    cursor = (_getlist(querydict, "cursor") or [""])[0].strip()
    if cursor:
        if decode_cursor(cursor, f.sort) is None:
            warn("That page link is out of date or damaged: here is the first page.")
        else:
            f.cursor = cursor
    return f


# --- the filtered set -------------------------------------------------------------------------------


def _json_path(key: str) -> str:
    # SQLite JSON path of one object key, quoted so dots, brackets and digits stay part of the key.
    return "$." + json.dumps(key)


def _tag_filter(qs: QuerySet, key: str, value: str | None) -> QuerySet:
    if connections[qs.db].vendor == "postgresql":
        # ``?`` and ``@>`` are served by the GIN index on tags (migration 0002).
        return qs.filter(tags__has_key=key) if value is None else qs.filter(tags__contains={key: value})
    # SQLite has no JSON containment (Django raises NotSupportedError), and Django's key lookups read a
    # numeric key ("2024") as an array index: use the JSON1 functions with an explicitly quoted path.
    path = Value(_json_path(key), output_field=TextField())
    name = f"_tag_{len(qs.query.annotations)}"  # a fresh alias per tag filter: they combine with AND
    if value is None:
        found = Func(F("tags"), path, function="JSON_TYPE", output_field=TextField())
        return qs.alias(**{name: found}).filter(**{f"{name}__isnull": False})
    extracted = Func(F("tags"), path, function="JSON_EXTRACT", output_field=TextField())
    return qs.alias(**{name: extracted}).filter(**{name: value})


def open_findings_exist(org) -> Exists:
    return Exists(Finding.objects.for_org(org).filter(resource_id=OuterRef("pk"), status=Finding.Status.OPEN))


def filtered_resources(org, filters: ExplorerFilters) -> QuerySet[Resource]:
    """The organization's resources matching ``filters`` (unordered: ``page_after`` and the export order
    them)."""
    qs = Resource.objects.for_org(org)
    if filters.connections:
        qs = qs.filter(connection_id__in=filters.connections)
    if filters.provider:
        qs = qs.filter(provider=filters.provider)
    if filters.types:
        qs = qs.filter(resource_type__in=filters.types)
    if filters.regions:
        qs = qs.filter(region__in=filters.regions)
    for key, value in filters.tags:
        qs = _tag_filter(qs, key, value)
    if filters.has_findings is not None:
        exists = open_findings_exist(org)
        qs = qs.filter(exists if filters.has_findings else ~exists)
    if filters.q:
        qs = qs.filter(Q(name__icontains=filters.q) | Q(native_id__icontains=filters.q))
    return qs


def ordering(sort: str) -> list[str]:
    column = SORTS[sort.lstrip("-")].column
    return [f"-{column}", "-id"] if sort.startswith("-") else [column, "id"]


def bounded_count(qs: QuerySet, limit: int | None = None) -> tuple[int, bool]:
    """(count, more): the exact count up to ``limit`` (COUNT_LIMIT), and whether there are more: one
    query that stops counting at the limit."""
    limit = COUNT_LIMIT if limit is None else limit
    n = qs.order_by().values("pk")[: limit + 1].count()
    return min(n, limit), n > limit


# --- keyset pagination ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    sort: str
    value: Any
    pk: int
    backwards: bool  # "the page before this row" (Previous) rather than "after" (Next)


def encode_cursor(sort: str, value: Any, pk: int, *, backwards: bool = False) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    payload = {"s": sort, "v": value, "i": pk, "d": "p" if backwards else "n"}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: str) -> Cursor | None:
    """The cursor, or None when it is damaged or was made for another sort order. A cursor comes from
    the URL, so anyone can forge one: every way it can be wrong gives None, never an exception here or
    in the query it feeds."""
    column = SORTS.get(sort.lstrip("-"))
    if not token or len(token) > MAX_CURSOR or column is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw.decode())
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: deeply nested JSON
        return None
    if not isinstance(data, dict) or data.get("s") != sort or data.get("d") not in ("n", "p"):
        return None
    pk, value = data.get("i"), data.get("v")
    if type(pk) is not int or not 0 <= pk < 2**63 or not isinstance(value, str):
        return None
    if _CONTROL_RE.search(value) or not _encodable(value):
        return None
    if column.is_time:
        value = _aware_utc(value) if len(value) < 64 else None
        if value is None:
            return None
    return Cursor(sort=sort, value=value, pk=pk, backwards=data["d"] == "p")


def _encodable(value: str) -> bool:
    # JSON escapes can carry lone surrogates, which no database driver can encode.
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _aware_utc(value: str) -> datetime | None:
    """An ISO time with an offset, in UTC; None when naive, impossible (month 13, offset +99:99: parse_datetime
    raises) or out of range once in UTC (year 1 at +14:00: the database adapter would raise)."""
    try:
        parsed = parse_datetime(value)
        return parsed.astimezone(UTC) if parsed is not None and parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def _beyond(column: str, value: Any, pk: int, *, greater: bool) -> Q:
    # (column, id) strictly beyond (value, pk). The leading column >= / <= lets an index on
    # (org, column, id) serve the range.
    op = "gt" if greater else "lt"
    return Q(**{f"{column}__{op}e": value}) & (Q(**{f"{column}__{op}": value}) | Q(**{column: value, f"id__{op}": pk}))


def page_after(
    queryset: QuerySet, sort: str, cursor: str | None, size: int = PAGE_SIZE
) -> tuple[list, str | None, str | None]:
    """One page of ``queryset`` in ``sort`` order: (rows, next cursor, previous cursor). Each row gets
    ``sort_value``. One query (two when a Previous link lands on the start of the list); an invalid
    cursor gives the first page."""
    column = SORTS[sort.lstrip("-")].column
    descending = sort.startswith("-")
    qs = queryset.annotate(sort_value=F(column))
    forward = ordering(sort)
    position = decode_cursor(cursor, sort) if cursor else None

    if position is not None and position.backwards:
        before = qs.filter(_beyond(column, position.value, position.pk, greater=descending))
        backward = [o[1:] if o.startswith("-") else f"-{o}" for o in forward]
        rows = list(before.order_by(*backward)[: size + 1])
        if len(rows) <= size:
            # Nothing before these rows: this is the first page (filled up to ``size`` rows).
            return page_after(queryset, sort, None, size)
        rows = rows[:size][::-1]
        return rows, _cursor_of(sort, rows[-1]), _cursor_of(sort, rows[0], backwards=True)

    if position is not None:
        qs = qs.filter(_beyond(column, position.value, position.pk, greater=not descending))
    rows = list(qs.order_by(*forward)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = _cursor_of(sort, rows[-1]) if more else None
    prev_cursor = None
    if position is not None and rows:
        prev_cursor = _cursor_of(sort, rows[0], backwards=True)
    elif position is not None:
        # The rows after the cursor have gone since: Previous shows the page that ended with the cursor's
        # row (ids are integers, so one step past its id makes "before" include it).
        inclusive = position.pk - 1 if descending else position.pk + 1
        prev_cursor = encode_cursor(sort, position.value, inclusive, backwards=True)
    return rows, next_cursor, prev_cursor


def _cursor_of(sort: str, row: Any, *, backwards: bool = False) -> str:
    return encode_cursor(sort, row.sort_value, row.pk, backwards=backwards)


# --- facets and per-row facts -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionFacet:
    id: int
    name: str
    provider: str
    count: int


@dataclass
class Facets:
    connections: list[ConnectionFacet]
    providers: list[tuple[str, str, int]]  # (value, label, count)
    types: list[tuple[str, int]]
    regions: list[tuple[str, int]]
    total: int
    groups: list[tuple[int, str, str, str, int]] = field(default_factory=list)  # inventory.stats.grouped_counts

    @property
    def has_connections(self) -> bool:
        return bool(self.connections)


def explorer_facets(org) -> Facets:
    """The values the filter menus offer, with the organization's count of each: the connections, and
    ``inventory.stats.grouped_counts`` (cached until the inventory changes)."""
    conns = list(CloudConnection.objects.for_org(org).order_by("name", "id").values("id", "name", "provider"))
    by_conn: dict[int, int] = defaultdict(int)
    by_type: dict[str, int] = defaultdict(int)
    by_region: dict[str, int] = defaultdict(int)
    groups = grouped_counts(org)
    for connection_id, _provider, resource_type, region, n in groups:
        by_conn[connection_id] += n
        by_type[resource_type] += n
        if region:
            by_region[region] += n
    by_provider: dict[str, int] = defaultdict(int)
    for c in conns:
        by_provider[c["provider"]] += by_conn.get(c["id"], 0)
    return Facets(
        connections=[ConnectionFacet(c["id"], c["name"], c["provider"], by_conn.get(c["id"], 0)) for c in conns],
        providers=[(p, label, by_provider[p]) for p, label in PROVIDERS.items() if p in by_provider],
        types=sorted(by_type.items()),
        regions=sorted(by_region.items()),
        total=sum(by_type.values()),
        groups=groups,
    )


def known_values_only(filters: ExplorerFilters, facets: Facets) -> None:
    """Drop connection ids that are not the organization's (with a warning): they could only ever match
    nothing, and the menus could not show them as chosen."""
    known = {c.id for c in facets.connections}
    unknown = [pk for pk in filters.connections if pk not in known]
    if unknown:
        filters.connections = [pk for pk in filters.connections if pk in known]
        filters.warnings.append("Ignored a connection filter: no such connection in this organization.")


@dataclass(frozen=True)
class FindingsBadge:
    total: int
    worst: str  # the most severe open finding's severity
    by_severity: tuple[tuple[str, int], ...]

    @property
    def title(self) -> str:
        return ", ".join(f"{n} {sev}" for sev, n in self.by_severity)


def open_findings_by_resource(org, resource_ids: Iterable[int]) -> dict[int, FindingsBadge]:
    """Open findings per resource, by severity, for a page of resources: one grouped query."""
    ids = list(resource_ids)
    if not ids:
        return {}
    severities = [s.value for s in Severity]
    rows = (
        Finding.objects.for_org(org)
        .filter(resource_id__in=ids, status=Finding.Status.OPEN)
        .order_by()
        .values("resource_id")
        .annotate(total=Count("id"), **{s: Count("id", filter=Q(severity=s)) for s in severities})
    )
    badges = {}
    for row in rows:
        present = tuple((s, row[s]) for s in severities if row[s])
        badges[row["resource_id"]] = FindingsBadge(row["total"], present[0][0] if present else "info", present)
    return badges


# --- A resource's relationships (the resource page and the API) ------------------------------------

RELATIONSHIP_LIMIT = 200  # per direction; the rest is counted


def related_resources(org, resource, *, outgoing: bool) -> tuple[list[dict], int]:
    """(relationships, total) in one direction, each row ``kind, resource_id, name, resource_type,
    native_id`` of the resource at the other end: at most RELATIONSHIP_LIMIT rows (the count is a second
    query only when there are more)."""
    here, other = ("source", "target") if outgoing else ("target", "source")
    qs = Relationship.objects.for_org(org).filter(**{here: resource})
    rows = list(
        qs.order_by("kind", f"{other}__resource_type", f"{other}__name", "id").values(
            "kind",
            resource_id=F(f"{other}_id"),
            name=F(f"{other}__name"),
            resource_type=F(f"{other}__resource_type"),
            native_id=F(f"{other}__native_id"),
        )[: RELATIONSHIP_LIMIT + 1]
    )
    if len(rows) > RELATIONSHIP_LIMIT:
        return rows[:RELATIONSHIP_LIMIT], qs.count()
    return rows, len(rows)
