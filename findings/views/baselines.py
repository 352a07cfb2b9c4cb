"""Baselines: an approved configuration per resource; each later change to an approved field is a drift
finding (rule ``baseline-drift``) until re-approved or reverted. Approving and removing is
``Capability.MANAGE_SUPPRESSIONS`` ("suppress findings and manage baselines"); the engine side is
``findings.actions.do_approve_baseline`` / ``do_remove_baseline`` and ``findings.sources.baseline_drift``.

The resource page includes ``findings/_baseline_panel.html`` with ``baseline_panel_context(request,
resource)``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from connections.access import get_connection_for_member
from connections.models import CloudConnection
from findings.access import get_baseline_for_member
from findings.actions import do_approve_baseline, do_remove_baseline
from findings.models import Baseline, Finding
from findings.rule_editor import resource_url
from findings.sources import BASELINE_RULE_ID, baseline_state
from inventory.access import get_resource_for_member
from inventory.diff import resource_diff
from inventory.models import Resource
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
ORG = "o/<slug:org_slug>/"
BASELINES_PER_PAGE = 50
APPROVE_FIELDS = ("id", "org_id", "connection_id", "native_id", "config", "tags")


def _baselines_url(request: HttpRequest) -> str:
    return reverse("findings:baselines", kwargs={"org_slug": request.org.slug})


def _next_or(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def _shown(value: Any) -> str:
    """A diff value as the panel shows it: text as is, structures as JSON, absent as a dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def drift_rows(diff: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """{path: {old, new}} → [{path, old, new}] ready to show."""
    return [{"path": p, "old": _shown(d.get("old")), "new": _shown(d.get("new"))} for p, d in diff.items()]


def baseline_panel_context(request: HttpRequest, resource: Resource) -> dict[str, Any]:
    """What ``findings/_baseline_panel.html`` needs on the resource page: the resource, its baseline (or
    None), whether the visitor may approve/remove, and the approved fields that changed since."""
    baseline = Baseline.objects.for_org(request.org).filter(resource=resource).select_related("approved_by").first()
    drift = resource_diff(baseline.approved or {}, baseline_state(resource)) if baseline is not None else {}
    return {
        "resource": resource,
        "baseline": baseline,
        "can_manage": request.membership.can_manage_suppressions,
        "drift": drift_rows(drift),
    }


@org_view(_C.VIEW)
def baseline_list(request: HttpRequest) -> HttpResponse:
    org = request.org
    baselines = Baseline.objects.for_org(org).select_related("resource", "connection", "approved_by")
    connections = list(CloudConnection.objects.for_org(org).order_by("name").values_list("pk", "name"))
    connection_id = request.GET.get("connection", "")
    if connection_id.isdigit():
        baselines = baselines.filter(connection_id=int(connection_id))
    open_drift = Finding.objects.for_org(org).filter(rule_id=BASELINE_RULE_ID, status=Finding.Status.OPEN)
    drifted_only = request.GET.get("drifted") == "1"
    if drifted_only:
        baselines = baselines.filter(resource_id__in=open_drift.values("resource_id"))
    page = Paginator(baselines.order_by("-approved_at", "-id"), BASELINES_PER_PAGE).get_page(request.GET.get("page"))
    drift = {
        resource_id: len((detail or {}).get("diff") or {})
        for resource_id, detail in open_drift.filter(resource_id__in=[b.resource_id for b in page]).values_list(
            "resource_id", "detail"
        )
    }
    rows = [
        {
            "baseline": b,
            "resource_url": resource_url(org.slug, b.resource_id),
            "drifted": b.resource_id in drift,
            "changed_fields": drift.get(b.resource_id, 0),
        }
        for b in page
    ]
    context = {
        "page": page,
        "rows": rows,
        "connections": connections,
        "connection_filter": int(connection_id) if connection_id.isdigit() else None,
        "drifted_only": drifted_only,
        "can_manage": request.membership.can_manage_suppressions,
    }
    return render(request, "findings/baselines.html", context)


@org_view(_C.MANAGE_SUPPRESSIONS, methods=["POST"])
def baseline_approve(request: HttpRequest, resource_id: int) -> HttpResponse:
    resource = get_resource_for_member(request, resource_id, _C.MANAGE_SUPPRESSIONS)
    had_baseline = Baseline.objects.for_org(request.org).filter(resource=resource).exists()
    do_approve_baseline([resource], user=request.user, org=request.org, request=request)
    messages.success(
        request,
        "Baseline re-approved: the current configuration is the new reference."
        if had_baseline
        else "Baseline approved: later changes to this configuration will show as drift.",
    )
    return redirect(_next_or(request, resource_url(request.org.slug, resource.pk)))


@org_view(_C.MANAGE_SUPPRESSIONS, methods=["GET", "POST"])
def baseline_approve_connection(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id, _C.MANAGE_SUPPRESSIONS)
    resources = Resource.objects.for_org(request.org).filter(connection=connection)
    if request.method == "POST":
        count = do_approve_baseline(
            resources.only(*APPROVE_FIELDS).iterator(chunk_size=2000),
            user=request.user,
            org=request.org,
            request=request,
        )
        if count:
            messages.success(
                request, f"Approved the current configuration of {count:,} resources of {connection.name}."
            )
        else:
            messages.info(request, f"{connection.name} has no resources yet: scan it first.")
        return redirect(_baselines_url(request))
    context = {
        "connection": connection,
        "resource_count": resources.count(),
        "baselined_count": Baseline.objects.for_org(request.org).filter(connection=connection).count(),
    }
    return render(request, "findings/baseline_approve_connection.html", context)


@org_view(_C.MANAGE_SUPPRESSIONS, methods=["POST"])
def baseline_remove(request: HttpRequest, baseline_id: int) -> HttpResponse:
    baseline = get_baseline_for_member(request, baseline_id, _C.MANAGE_SUPPRESSIONS)
    do_remove_baseline(baseline, user=request.user, request=request)
    messages.success(request, "Baseline removed: this resource's changes are no longer reported as drift.")
    return redirect(_next_or(request, _baselines_url(request)))


urlpatterns = [
    path(f"{ORG}baselines/", baseline_list, name="baselines"),
    path(f"{ORG}baselines/<int:baseline_id>/remove/", baseline_remove, name="baseline_remove"),
    path(f"{ORG}resources/<int:resource_id>/baseline/approve/", baseline_approve, name="baseline_approve"),
    path(
        f"{ORG}connections/<int:connection_id>/baseline/approve/",
        baseline_approve_connection,
        name="baseline_approve_connection",
    ),
]
