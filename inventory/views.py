"""Scan history, a run's progress, "Scan now", "Cancel", and a simple list of a connection's resources.
Thin: access through ``@org_view`` and the access helpers, changes through ``inventory.actions``."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cloustral import product_events
from connections.access import get_connection_for_member
from inventory import actions
from inventory.access import get_sync_run_for_member
from inventory.models import Resource, SyncRun
from inventory.seen import fill_last_seen
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
RUNS_PER_PAGE = 25
RESOURCES_PER_PAGE = 50


@org_view(_C.VIEW)
def history(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id)
    runs = SyncRun.objects.for_org(request.org).filter(connection=connection).select_related("triggered_by")
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"connection": connection, "page": page}
    # What the inventory stands on: the warnings and coverage of the last scan that wrote it.
    latest = runs.filter(status__in=SyncRun.WROTE_INVENTORY).first()
    if latest is not None:
        context.update(_run_context(request, latest))
        context["connection"] = connection
    return render(request, "inventory/history.html", context)


def _run_context(request: HttpRequest, run: SyncRun) -> dict:
    regions, rows = run.coverage_table()
    return {"run": run, "connection": run.connection, "coverage_regions": regions, "coverage_rows": rows}


@org_view(_C.VIEW)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_sync_run_for_member(request, run_id)
    return render(request, "inventory/run_detail.html", _run_context(request, run))


@org_view(_C.VIEW)
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run's panel alone, polled by htmx every 2 seconds while the run is active."""
    run = get_sync_run_for_member(request, run_id)
    return render(request, "inventory/_run_panel.html", _run_context(request, run))


@org_view(_C.RUN_SCANS, methods=["POST"])
def scan_now(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id, _C.RUN_SCANS)
    try:
        run, started = actions.do_start_sync(connection, trigger=SyncRun.Trigger.MANUAL, user=request.user)
    except actions.SyncNotAllowed as exc:
        messages.error(request, str(exc))
        return redirect(connection.get_absolute_url())
    if started:
        product_events.emit(request, "scan_started", provider=connection.provider, trigger="manual")
        messages.success(request, "Scan started.")
    else:
        messages.info(request, "A scan of this connection is already under way: here it is.")
    return redirect("inventory:run_detail", org_slug=request.org.slug, run_id=run.pk)


@org_view(_C.RUN_SCANS, methods=["POST"])
def cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_sync_run_for_member(request, run_id, _C.RUN_SCANS)
    if actions.do_request_cancel(run, user=request.user):
        messages.success(request, "Cancelling: the scan stops after its current step and changes nothing.")
    else:
        messages.info(request, "This scan is already over.")
    return redirect("inventory:run_detail", org_slug=request.org.slug, run_id=run.pk)


@org_view(_C.VIEW)
def resources(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id)
    all_resources = Resource.objects.for_org(request.org).filter(connection=connection)
    types = list(all_resources.order_by("resource_type").values_list("resource_type", flat=True).distinct())
    selected = request.GET.get("type", "")
    shown = all_resources.filter(resource_type=selected) if selected in types else all_resources
    page = Paginator(
        shown.only("id", "connection_id", "resource_type", "native_id", "region", "name", "last_seen"),
        RESOURCES_PER_PAGE,
    ).get_page(request.GET.get("page"))
    fill_last_seen(page.object_list, request.org.pk)  # a sync rewrites only changed rows (inventory/seen.py)
    context = {
        "connection": connection,
        "page": page,
        "types": types,
        "selected_type": selected if selected in types else "",
    }
    return render(request, "inventory/resources.html", context)
