"""The inventory explorer (filters in the URL, keyset pages, CSV/JSON export) and the resource page
(configuration, tags, relationships, findings, change history, baseline). Thin: the logic lives in
``findings/resource_search.py`` (the query side) and
``dashboard/explorer.py``; each page runs a fixed number of queries whatever the inventory's size.

htmx: the explorer's filter form and its sort/pager links fetch only the results region
(``HX-Target: explorer-results``), the change timeline's pager only the timeline; both push the URL, so
any view can be shared, and every page also works as plain links and a GET form without JavaScript."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from cloustral import product_events
from dashboard import explorer as ex
from dashboard.exposure_views import exposure_context
from findings import resource_search as rs
from findings.models import Finding
from findings.views.baselines import baseline_panel_context
from inventory.access import get_resource_for_member
from inventory.models import ResourceChange
from inventory.seen import fill_last_seen
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
FINDINGS_LIMIT = 100
CHANGES_PER_PAGE = 20
RAW_JSON_INLINE_LIMIT = 300_000  # characters; a bigger configuration is one click away as raw.json
RESULTS_TARGET = "explorer-results"
TIMELINE_TARGET = "change-timeline"
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
# What a row of the explorer shows (never the configuration, which can be large).
ROW_FIELDS = (
    "id",
    "name",
    "native_id",
    "provider",
    "resource_type",
    "region",
    "tags",
    "first_seen",
    "last_seen",
    "connection__id",
    "connection__name",
)


def _htmx_target(request: HttpRequest) -> str:
    """The element an htmx request will swap, or "" for a full page (including history restores)."""
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-History-Restore-Request") == "true":
        return ""
    return request.headers.get("HX-Target", "")


def _count_label(count: int, more: bool) -> str:
    return f"{count:,}+" if more else f"{count:,}"


# --- the explorer ----------------------------------------------------------------------------------


@org_view(_C.VIEW)
def explorer(request: HttpRequest) -> HttpResponse:
    org = request.org
    filters = rs.parse_filters(request.GET)
    facets = rs.explorer_facets(org)
    rs.known_values_only(filters, facets)

    matching = rs.filtered_resources(org, filters)
    rows, next_cursor, prev_cursor = rs.page_after(
        matching.select_related("connection").only(*ROW_FIELDS), filters.sort, filters.cursor
    )
    known = ex.count_from_groups(facets.groups, filters)
    count, more, count_later = 0, False, False
    if not filters.cursor and next_cursor is None:
        count = len(rows)  # the whole set is on this page: no need to count
    elif known is not None:
        count = known  # the cached group counts answer it
    else:
        count_later = True  # counted by its own request (explorer_count), after the rows are shown
    badges = rs.open_findings_by_resource(org, [r.pk for r in rows])
    fill_last_seen(rows, org.pk)  # a sync rewrites only changed rows (inventory/seen.py)
    url_template = ex.resource_url_template(org)
    for r in rows:
        r.badge = badges.get(r.pk)
        r.tag_list, r.more_tags = ex.tag_preview(r.tags, limit=2)
        ex.row_display(r, url_template)
        r.html = ex.row_html(r)

    context = {
        "filters": filters,
        "facets": facets,
        "rows": rows,
        "next_query": filters.query(cursor=next_cursor) if next_cursor else None,
        "prev_query": filters.query(cursor=prev_cursor) if prev_cursor else None,
        "first_query": filters.query() if prev_cursor else None,
        "count_label": _count_label(count, more),
        "count": count,
        "count_later": count_later,
        "total_label": f"{facets.total:,}",
        "sort_links": filters.sort_links(),
        "chips": filters.chips(facets),
        "export_query": filters.query(),
        "results_target": RESULTS_TARGET,
    }
    partial = _htmx_target(request) == RESULTS_TARGET
    response = render(request, "dashboard/_explorer_results.html" if partial else "dashboard/explorer.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@org_view(_C.VIEW)
def explorer_count(request: HttpRequest) -> HttpResponse:
    """How many resources the explorer's filters match, when neither the page nor the cached group
    counts say (tags, text, findings): up to rs.COUNT_LIMIT, fetched by the results once shown, so the
    rows never wait for a count of thousands."""
    filters = rs.parse_filters(request.GET)
    rs.known_values_only(filters, rs.explorer_facets(request.org))
    count, more = rs.bounded_count(rs.filtered_resources(request.org, filters))
    context = {"filters": filters, "count": count, "count_label": _count_label(count, more)}
    return render(request, "dashboard/_explorer_count.html", context)


@org_view(_C.VIEW)
def explorer_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in EXPORT_TYPES:
        raise Http404("Export as csv or json.")
    filters = rs.parse_filters(request.GET)
    rows = ex.export_rows(request.org, filters)
    product_events.emit(request, "export", what="inventory", format=fmt)
    stream = ex.csv_stream(rows) if fmt == "csv" else ex.json_stream(rows)
    response = StreamingHttpResponse(stream, content_type=EXPORT_TYPES[fmt])
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{request.org.slug}-inventory-{stamp}.{fmt}"'
    add_never_cache_headers(response)
    return response


# --- the resource page -----------------------------------------------------------------------------


def _findings(org, resource) -> tuple[list[Finding], int, int]:
    """(findings: open first, then by severity; total; open) for the resource."""
    status_rank = Case(
        When(status=Finding.Status.OPEN, then=Value(0)),
        When(status=Finding.Status.SUPPRESSED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    qs = Finding.objects.for_org(org).filter(resource=resource)
    findings = list(
        qs.annotate(status_rank=status_rank)
        .order_by("status_rank", "severity_rank", "-last_seen", "id")
        .only("id", "title", "severity", "category", "status", "rule_id", "last_seen", "monthly_usd")[
            : FINDINGS_LIMIT + 1
        ]
    )
    if len(findings) > FINDINGS_LIMIT:
        totals = qs.order_by().aggregate(total=Count("id"), open=Count("id", filter=Q(status=Finding.Status.OPEN)))
        return findings[:FINDINGS_LIMIT], totals["total"], totals["open"]
    return findings, len(findings), sum(1 for f in findings if f.is_open)


def _timeline(request: HttpRequest, resource) -> dict:
    changes = (
        ResourceChange.objects.for_org(request.org)
        .filter(resource=resource)
        .only("id", "kind", "diff", "created_at", "sync_run_id")
    )
    page = Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("changes"))
    entries = []
    for change in page.object_list:
        shown, rest = ex.diff_lines(change.diff)
        groups = [("", shown)] if shown else []
        if rest:
            groups.append((f"Show {len(rest)} more field{'s' if len(rest) > 1 else ''}", rest))
        entries.append({"change": change, "groups": groups})
    return {"changes": page, "timeline": entries, "timeline_target": TIMELINE_TARGET}


@org_view(_C.VIEW)
def resource_detail(request: HttpRequest, resource_id: int) -> HttpResponse:
    resource = get_resource_for_member(request, resource_id)
    fill_last_seen([resource], request.org.pk)
    context = {"resource": resource, **_timeline(request, resource)}
    if _htmx_target(request) == TIMELINE_TARGET:
        response = render(request, "dashboard/_change_timeline.html", context)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response

    org = request.org
    outgoing, outgoing_total = rs.related_resources(org, resource, outgoing=True)
    incoming, incoming_total = rs.related_resources(org, resource, outgoing=False)
    findings, findings_total, findings_open = _findings(org, resource)
    raw_json = json.dumps(resource.config, indent=2, sort_keys=True, ensure_ascii=False)
    tags = sorted(resource.tags.items()) if isinstance(resource.tags, dict) else []
    context.update(
        {
            "tags": tags,
            "config": ex.config_rows(resource.config),
            "raw_json": raw_json if len(raw_json) <= RAW_JSON_INLINE_LIMIT else None,
            "outgoing": outgoing,
            "outgoing_hidden": outgoing_total - len(outgoing),
            "outgoing_total": outgoing_total,
            "incoming": incoming,
            "incoming_hidden": incoming_total - len(incoming),
            "incoming_total": incoming_total,
            "findings": findings,
            "findings_total": findings_total,
            "findings_open": findings_open,
            "findings_hidden": findings_total - len(findings),
            # The panel's own context (findings app): baseline, can_manage, drift.
            "baseline_panel": baseline_panel_context(request, resource),
            # Reachable from the internet, and through which path (findings/exposure.py).
            "exposure_panel": exposure_context(request, resource),
        }
    )
    response = render(request, "dashboard/resource.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@org_view(_C.VIEW)
def resource_json(request: HttpRequest, resource_id: int) -> HttpResponse:
    resource = get_resource_for_member(request, resource_id)
    fill_last_seen([resource], request.org.pk)
    return JsonResponse(ex.resource_record(resource), json_dumps_params={"indent": 2, "ensure_ascii": False})


ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path(f"{ORG}inventory/", explorer, name="explorer"),
    path(f"{ORG}inventory/export.<str:fmt>/", explorer_export, name="explorer_export"),
    path(f"{ORG}inventory/count/", explorer_count, name="explorer_count"),
    path(f"{ORG}resources/<int:resource_id>/", resource_detail, name="resource"),
    path(f"{ORG}resources/<int:resource_id>/raw.json/", resource_json, name="resource_json"),
]
