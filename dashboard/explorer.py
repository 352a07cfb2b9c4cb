"""The explorer's page side, as plain functions (no HTTP; views in explorer_views.py). The query side
(filters, the filtered set, keyset pages, facets, badges) is ``findings/resource_search.py``, shared
with the REST API.

- ``tag_preview``: the few tags a row of results shows.
- ``export_rows`` + ``csv_stream`` / ``json_stream``: the filtered set, streamed.
- ``config_rows``, ``diff_lines``, ``resource_record``: the resource page's readable configuration,
  change diffs and raw JSON record.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from cloustral.csvsafe import neutralize_cell
from cloustral.rows import esc
from dashboard.config_tones import bool_tone
from findings.models import Finding
from findings.resource_search import ExplorerFilters, filtered_resources, ordering
from inventory.models import Resource

EXPORT_CHUNK = 2000


def count_from_groups(groups: Iterable[tuple], filters: ExplorerFilters) -> int | None:
    """How many resources match ``filters``, read from the inventory's group counts
    (``inventory.stats.grouped_counts`` rows, as the facets carry them) when the filters are ones they
    break down: connection, provider, type and region. None for the others (tags, text, findings), which
    are counted by a query."""
    if filters.tags or filters.q or filters.has_findings is not None:
        return None
    return sum(
        n
        for conn_id, provider, rtype, region, n in groups
        if (not filters.connections or conn_id in filters.connections)
        and (not filters.provider or provider == filters.provider)
        and (not filters.types or rtype in filters.types)
        and (not filters.regions or region in filters.regions)
    )


def row_display(row: Any, url_template: str) -> None:
    """What an explorer row shows, computed once in Python: its page's URL (from a template reversed
    once per request) and its first/last seen times in the active time zone. The template's ``date``
    filter and ``{% url %}`` cost tens of microseconds a call, and a page of rows made hundreds."""
    row.url = url_template.format(id=row.pk)
    for name in ("last_seen", "first_seen"):
        local = timezone.localtime(getattr(row, name))
        setattr(row, f"{name}_iso", local.isoformat())
        setattr(row, f"{name}_full", f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}".rstrip())
        setattr(row, f"{name}_short", f"{local:%Y-%m-%d %H:%M}" if name == "last_seen" else f"{local:%Y-%m-%d}")


def row_html(row: Any) -> SafeString:
    """An explorer row's table row, built once in Python after ``row_display`` (and the row's
    ``badge``, ``tag_list`` and ``more_tags``): fifty rows of template lookups, then of ``format_html``
    calls, were most of the page's time. Every value goes through ``esc`` (the template's escaping)."""
    name = f'<a href="{esc(row.url)}">{esc(row.name or row.native_id)}</a>'
    if row.name:
        name += f'<span class="ex-native" title="{esc(row.native_id)}">{esc(row.native_id)}</span>'
    tags = (
        "".join(
            f'<span class="ex-tag" title="{esc(k)}={esc(v)}"><span class="ex-tag-k">{esc(k)}</span>'
            + (f'<span class="ex-tag-v">{esc(v)}</span>' if v else "")
            + "</span>"
            for k, v in row.tag_list
        )
        or '<span class="ex-muted">—</span>'
    )
    if row.more_tags:
        tags += f'<span class="ex-muted">+{int(row.more_tags)}</span>'
    badge = row.badge
    findings = (
        f'<span class="ex-sev ex-sev-{esc(badge.worst)}" title="{esc(badge.title)}" data-testid="findings-badge">'
        f"{int(badge.total)}</span>"
        if badge
        else '<span class="ex-muted">0</span>'
    )
    return mark_safe(  # noqa: S308 (every value above is escaped)
        f'<tr data-testid="resource-row"><td class="ex-name">{name}</td>'
        f'<td><span class="ex-type"><span class="ex-provider ex-provider-{esc(row.provider)}">'
        f"{esc(row.provider)}</span> {esc(row.resource_type)}</span></td>"
        f'<td class="ex-nowrap">{esc(row.region or "—")}</td><td class="ex-conn">{esc(row.connection.name)}</td>'
        f'<td class="ex-tags">{tags}</td><td class="ex-num">{findings}</td>'
        f'<td class="ex-time"><time datetime="{esc(row.last_seen_iso)}" title="Last seen {esc(row.last_seen_full)}">'
        f"{esc(row.last_seen_short)}</time> "
        f'<span class="ex-first">first <time datetime="{esc(row.first_seen_iso)}" '
        f'title="First seen {esc(row.first_seen_full)}">{esc(row.first_seen_short)}</time></span></td></tr>'
    )


def resource_url_template(org) -> str:
    """The resource page's URL with ``{id}`` for the resource's id."""
    return reverse("dashboard:resource", kwargs={"org_slug": org.slug, "resource_id": 987654321}).replace(
        "987654321", "{id}"
    )


def tag_preview(tags: Any, limit: int = 3) -> tuple[list[tuple[str, str]], int]:
    """The first ``limit`` tags (sorted by key) as (key, value) strings, and how many more there are."""
    if not isinstance(tags, dict):
        return [], 0
    items = sorted(tags.items())
    return [(str(k), "" if v is None else str(v)) for k, v in items[:limit]], max(0, len(items) - limit)


# --- export -------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "id",
    "provider",
    "resource_type",
    "name",
    "native_id",
    "region",
    "connection",
    "tags",
    "first_seen",
    "last_seen",
    "open_findings",
)


def export_rows(org, filters: ExplorerFilters) -> Iterator[dict[str, Any]]:
    """Every resource of the filtered set, in the view's sort order, as plain dicts: one streamed
    query (open findings counted by a correlated subquery on the (resource, status) index)."""
    open_count = (
        Finding.objects.for_org(org)
        .filter(resource_id=OuterRef("pk"), status=Finding.Status.OPEN)
        .order_by()
        .values("resource_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    qs = (
        filtered_resources(org, filters)
        .annotate(open_findings=Coalesce(Subquery(open_count, output_field=IntegerField()), 0))
        .order_by(*ordering(filters.sort))
        .values(
            "id",
            "provider",
            "resource_type",
            "name",
            "native_id",
            "region",
            "connection__name",
            "tags",
            "first_seen",
            "last_seen",
            "open_findings",
        )
    )
    for row in qs.iterator(chunk_size=EXPORT_CHUNK):
        yield {
            "id": row["id"],
            "provider": row["provider"],
            "resource_type": row["resource_type"],
            "name": row["name"],
            "native_id": row["native_id"],
            "region": row["region"],
            "connection": row["connection__name"],
            "tags": row["tags"] if isinstance(row["tags"], dict) else {},
            "first_seen": row["first_seen"].isoformat(),
            "last_seen": row["last_seen"].isoformat(),
            "open_findings": row["open_findings"],
        }


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        cells = dict(row, tags=json.dumps(row["tags"], sort_keys=True, ensure_ascii=False))
        yield writer.writerow([neutralize_cell(cells[c]) for c in EXPORT_COLUMNS])


def json_stream(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield "["
    first = True
    for row in rows:
        yield ("\n" if first else ",\n") + json.dumps(row, ensure_ascii=False)
        first = False
    yield "\n]\n"


# --- the resource page ----------------------------------------------------------------------------------

LIST_PREVIEW = 20  # list items shown before "show all"
MAX_CONFIG_ROWS = 3000  # beyond: the raw JSON
CHIP_LIST_MAX_CHARS = 160


@dataclass
class ConfigRow:
    depth: int
    label: str
    kind: str  # str | num | bool | null | dict | list | chips | more
    value: str = ""
    is_index: bool = False
    chips: list[str] = field(default_factory=list)
    rows: list[ConfigRow] = field(default_factory=list)  # kind "more": the hidden rest of a list
    count: int = 0  # dict/list: entries; more: hidden items
    tone: str = ""  # bool: "good" / "bad" for this key (dashboard/config_tones.py), "" when neutral

    @property
    def indent(self) -> int:
        return min(self.depth, 8)


@dataclass
class ConfigTree:
    rows: list[ConfigRow]
    truncated: int  # values left out (see the raw JSON)


def _scalar(value: Any) -> tuple[str, str]:
    if value is None:
        return "null", "null"
    if isinstance(value, bool):
        return "bool", "true" if value else "false"
    if isinstance(value, int | float):
        return "num", str(value)
    return "str", str(value)


def config_rows(config: Any, *, list_preview: int = LIST_PREVIEW, max_rows: int = MAX_CONFIG_ROWS) -> ConfigTree:
    """The configuration as indented rows for a readable table: dict keys sorted, short lists of scalars
    as chips, long lists cut after ``list_preview`` items (a quarter of that for lists of objects) with
    the rest in a "show all" group, and at most ``max_rows`` rows in all."""
    budget = [max_rows]
    left_out = [0]

    def walk(value: Any, depth: int, out: list[ConfigRow], preview: bool) -> None:
        items: list[tuple[str, Any, bool]]
        if isinstance(value, dict):
            items = [(str(k), v, False) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]
        else:
            items = [(str(i + 1), v, True) for i, v in enumerate(value)]
        shown = items
        rest: list[tuple[str, Any, bool]] = []
        if preview and isinstance(value, list):
            # Lists of objects take several rows per item: fewer of them before "show all".
            scalars = all(not isinstance(v, dict | list) for v in value)
            limit = list_preview if scalars else max(3, list_preview // 4)
            if len(items) > limit:
                shown, rest = items[:limit], items[limit:]
        for label, child, is_index in shown:
            emit(label, child, is_index, depth, out, preview)
        if rest:
            group = ConfigRow(depth=depth, label="", kind="more", count=len(rest))
            for label, child, is_index in rest:
                emit(label, child, is_index, depth, group.rows, False)
            if group.rows:
                out.append(group)

    def emit(label: str, value: Any, is_index: bool, depth: int, out: list[ConfigRow], preview: bool) -> None:
        if budget[0] <= 0:
            left_out[0] += 1
            return
        budget[0] -= 1
        if isinstance(value, dict | list):
            if value and isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
                texts = [_scalar(v)[1] for v in value]
                if len(value) <= list_preview and sum(len(t) for t in texts) <= CHIP_LIST_MAX_CHARS:
                    out.append(ConfigRow(depth, label, "chips", is_index=is_index, chips=texts, count=len(value)))
                    return
            kind = "dict" if isinstance(value, dict) else "list"
            out.append(ConfigRow(depth, label, kind, is_index=is_index, count=len(value)))
            walk(value, depth + 1, out, preview)
            return
        kind, text = _scalar(value)
        tone = bool_tone(label, value) if isinstance(value, bool) and not is_index else ""
        out.append(ConfigRow(depth, label, kind, value=text, is_index=is_index, tone=tone))

    rows: list[ConfigRow] = []
    if isinstance(config, dict | list):
        walk(config, 0, rows, True)
    elif config is not None:
        emit("value", config, False, 0, rows, True)
    return ConfigTree(rows=rows, truncated=left_out[0])


@dataclass(frozen=True)
class DiffLine:
    path: str
    old: str | None  # None: absent
    new: str | None
    multiline: bool


def _pretty(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def diff_lines(diff: Any, limit: int = 25) -> tuple[list[DiffLine], list[DiffLine]]:
    """A change's field-level diff as (first ``limit`` lines, the rest), values as pretty JSON."""
    if not isinstance(diff, dict):
        return [], []
    lines = []
    for path, change in sorted(diff.items()):
        change = change if isinstance(change, dict) else {}
        old, new = _pretty(change.get("old")), _pretty(change.get("new"))
        lines.append(DiffLine(str(path), old, new, "\n" in (old or "") or "\n" in (new or "")))
    return lines[:limit], lines[limit:]


def resource_record(resource: Resource) -> dict[str, Any]:
    """The resource as one JSON document (the raw view)."""
    return {
        "id": resource.pk,
        "provider": resource.provider,
        "resource_type": resource.resource_type,
        "native_id": resource.native_id,
        "name": resource.name,
        "region": resource.region,
        "connection": {"id": resource.connection_id, "name": resource.connection.name},
        "tags": resource.tags,
        "config": resource.config,
        "first_seen": resource.first_seen.isoformat(),
        "last_seen": resource.last_seen.isoformat(),
        "updated_at": resource.updated_at.isoformat(),
    }
