"""Compliance: the frameworks (CIS AWS, CIS Azure) with their control tallies, and one framework's
controls × connections. Logic in ``findings.compliance``."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse

from findings import compliance
from findings.rules.language import FRAMEWORKS
from orgs.decorators import org_view
from orgs.roles import Capability

ORG = "o/<slug:org_slug>/"


@org_view(Capability.VIEW)
def overview(request: HttpRequest) -> HttpResponse:
    reports = compliance.frameworks_overview(request.org)
    return render(request, "findings/compliance.html", {"reports": reports})


@org_view(Capability.VIEW)
def framework(request: HttpRequest, framework: str) -> HttpResponse:
    if framework not in FRAMEWORKS:
        raise Http404("No such framework.")
    report = compliance.framework_report(request.org, framework)
    findings_url = reverse("findings:list", kwargs={"org_slug": request.org.slug})
    # Each failing cell links to its open findings: the failing rules on that connection.
    for row in report.controls:
        for cell in row.cells:
            if cell.failing_rule_ids:
                params = [("connection", cell.connection_id)] + [("rule", r) for r in cell.failing_rule_ids]
                cell.findings_url = f"{findings_url}?{urlencode(params)}"
    context = {"report": report, "verdict_labels": compliance.VERDICT_LABELS}
    return render(request, "findings/compliance_framework.html", context)


urlpatterns = [
    path(f"{ORG}compliance/", overview, name="compliance"),
    path(f"{ORG}compliance/<str:framework>/", framework, name="compliance_framework"),
]
