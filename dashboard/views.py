"""The organization's home page. The explorer, resource page and map views are in explorer_views.py and
map_views.py."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard import overview
from orgs.decorators import org_view
from orgs.models import Invitation, Membership
from orgs.roles import Capability


@org_view(Capability.VIEW)
def home(request: HttpRequest) -> HttpResponse:
    """The organization's overview: inventory, findings, scans, changes and trends (dashboard.overview),
    or the next step for a new organization."""
    org = request.org
    data = overview.overview(org)
    context = {
        "dash": data,
        "trend_days": overview.TREND_DAYS,
        "member_count": Membership.objects.for_org(org).count(),
        "pending_count": Invitation.objects.for_org(org).pending().count()
        if request.membership.can_manage_invitations
        else None,
    }
    if data.resource_trend is not None:
        context["resource_chart"] = data.resource_trend.chart_data()
        context["finding_chart"] = data.finding_trend.chart_data()
        context["severity_chart"] = {
            "labels": [b.label for b in data.findings.by_severity],
            "keys": [b.key for b in data.findings.by_severity],
            "values": [b.count for b in data.findings.by_severity],
        }
    return render(request, "dashboard/home.html", context)
