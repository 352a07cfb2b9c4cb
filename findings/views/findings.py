"""The findings list (filters in the URL, counts, waste), a finding's page (why it matched, how to fix
it, its history), suppression, and the CSV / JSON export of a filtered list.

Thin: reads through ``findings.queries`` and ``findings.access``, writes through ``findings.actions``.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone

from findings import actions, queries
from findings import export as exporting
from findings.access import get_finding_for_member
from findings.models import Finding, FindingEvent
from findings.rules.catalog import builtin_catalog
from findings.rules.language import FRAMEWORKS
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
ORG = "o/<slug:org_slug>/"
MAX_EVENTS = 100


class SuppressForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this finding is accepted: kept with the finding and in the audit log.",
        error_messages={"required": "Say why this finding is suppressed: the reason is kept in the audit log."},
    )
    until = forms.DateField(
        label="Expires on (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The finding opens again at 00:00 on this date, in your time zone. Empty: until lifted.",
    )

    def clean_until(self) -> date | None:
        until = self.cleaned_data.get("until")
        if until is not None and until <= timezone.localdate():
            raise forms.ValidationError("The expiry must be a date after today.")
        return until

    def expiry(self) -> datetime | None:
        """The expiry date as the start of that day in the user's (active) time zone."""
        until = self.cleaned_data.get("until")
        return timezone.make_aware(datetime.combine(until, time.min)) if until else None


def _sort_links(filters: queries.FindingFilters) -> dict[str, str]:
    """Column headers toggle their sort: severity (most severe first ⇄ least) and last seen."""
    current = filters.sort
    return {
        "severity": filters.querystring(sort="-severity" if current == "severity" else "severity"),
        "last_seen": filters.querystring(sort="last_seen" if current == "-last_seen" else "-last_seen"),
    }


@org_view(_C.VIEW)
def finding_list(request: HttpRequest) -> HttpResponse:
    org = request.org
    findings, filters = queries.filter_findings(org, request.GET)
    page = Paginator(findings.select_related("connection").defer("detail"), queries.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    catalog = builtin_catalog()
    counts = queries.counts_by_severity_category(org)
    context = {
        "page": page,
        "filters": filters,
        "form": filters.form,
        "base_qs": filters.querystring(),
        "sort_links": _sort_links(filters),
        "counts": counts,
        "waste": counts.monthly_waste,
        "gaps": queries.coverage_gaps(org, connection_id=filters.connection_id, rule_ids=filters.rule_ids),
        "rule_filters": [
            {
                "id": r,
                "title": catalog.get(r).title if r in catalog else r,
                "remove": filters.querystring(rule=[x for x in filters.rule_ids if x != r]),
            }
            for r in filters.rule_ids
        ],
    }
    return render(request, "findings/findings_list.html", context)


def _detail_context(request: HttpRequest, finding: Finding, form: SuppressForm | None = None) -> dict:
    explanation = queries.finding_explanation(finding)
    status = queries.rule_status(finding)
    events = (
        FindingEvent.objects.for_org(request.org).filter(finding=finding).select_related("actor").order_by("-at", "-id")
    )
    rule = explanation.rule
    compliance = []
    if rule is not None:
        for framework, controls in sorted(rule.compliance.items()):
            compliance.append(
                {
                    "slug": framework,
                    "name": FRAMEWORKS.get(framework, framework),
                    "known": framework in FRAMEWORKS,
                    "controls": list(controls),
                }
            )
    return {
        "finding": finding,
        "explanation": explanation,
        "rule": rule,
        "compliance": compliance,
        "drift": queries.drift_rows(finding),
        "rule_status": status,
        "scope_gap": queries.own_scope_gap(status, finding),
        "events": list(events[:MAX_EVENTS]),
        "form": form or SuppressForm(),
        "can_suppress": request.membership.can(_C.MANAGE_SUPPRESSIONS),
    }


@org_view(_C.VIEW)
def finding_detail(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = get_finding_for_member(request, finding_id)
    return render(request, "findings/finding_detail.html", _detail_context(request, finding))


@org_view(_C.MANAGE_SUPPRESSIONS, methods=["POST"])
def suppress(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = get_finding_for_member(request, finding_id, _C.MANAGE_SUPPRESSIONS)
    form = SuppressForm(request.POST)
    if form.is_valid():
        try:
            actions.do_suppress(
                finding, user=request.user, reason=form.cleaned_data["reason"], until=form.expiry(), request=request
            )
        except actions.SuppressionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Finding suppressed.")
            return redirect(finding.get_absolute_url())
    context = _detail_context(request, finding, form)
    return render(request, "findings/finding_detail.html", context, status=400)


@org_view(_C.MANAGE_SUPPRESSIONS, methods=["POST"])
def unsuppress(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = get_finding_for_member(request, finding_id, _C.MANAGE_SUPPRESSIONS)
    try:
        actions.do_unsuppress(finding, user=request.user, request=request)
    except actions.SuppressionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Suppression lifted: the finding is open again.")
    return redirect(finding.get_absolute_url())


@org_view(_C.VIEW)
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The filtered list (same parameters as the list page), streamed."""
    if fmt not in exporting.FORMATS:
        raise Http404("Export as csv or json.")
    findings, filters = queries.filter_findings(request.org, request.GET)
    if filters.errors:
        # Exporting more than was asked for would be worse than exporting nothing.
        return HttpResponseBadRequest("\n".join(filters.errors), content_type="text/plain; charset=utf-8")
    tz = timezone.get_current_timezone()
    response = StreamingHttpResponse(exporting.stream(fmt, findings, tz), content_type=exporting.FORMATS[fmt])
    stamp = timezone.localtime(timezone.now(), tz).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="findings-{request.org.slug}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path(f"{ORG}findings/", finding_list, name="list"),
    path(f"{ORG}findings/export.<str:fmt>/", export, name="export"),
    path(f"{ORG}findings/<int:finding_id>/", finding_detail, name="detail"),
    path(f"{ORG}findings/<int:finding_id>/suppress/", suppress, name="suppress"),
    path(f"{ORG}findings/<int:finding_id>/unsuppress/", unsuppress, name="unsuppress"),
]
