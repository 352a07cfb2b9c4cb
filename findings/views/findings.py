"""The findings list (filters in the URL, counts, waste; grouped by rule by default, flat on demand), a
finding's page (why it matched, how to fix it with filled-in commands, its history), suppression, bulk
decisions on a selection or a whole filtered list, acceptances by rule and scope, and the CSV / JSON
export of a filtered list.

Thin: reads through ``findings.queries`` and ``findings.access``, writes through ``findings.actions`` and
``findings.bulk``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from urllib.parse import parse_qsl, urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from cloustral import product_events
from cloustral.rows import esc
from connections.models import CloudConnection
from findings import actions, bulk, queries, remediation
from findings import export as exporting
from findings.access import get_finding_for_member
from findings.models import Finding, FindingEvent, SuppressionRule
from findings.rules.catalog import builtin_catalog
from findings.rules.language import FRAMEWORKS
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
ORG = "o/<slug:org_slug>/"
MAX_EVENTS = 100
GROUPS_PER_PAGE = 50
GROUP_PREVIEW = 25  # findings shown when a rule's group is opened; the rest in the flat view
VIEWS = ("rules", "flat")


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


def _list_view(request: HttpRequest, filters: queries.FindingFilters) -> str:
    """Grouped by rule unless asked for the flat list (or drilled into one rule)."""
    asked = request.GET.get("view", "")
    if asked in VIEWS:
        return asked
    return "flat" if len(filters.rule_ids) == 1 else "rules"


def with_row_display(org, rows: list[Finding]) -> list[Finding]:
    """Each row's page URL and last-seen time (in the user's time zone) computed once in Python: the
    template's ``date`` filter and ``{% url %}`` cost tens of microseconds a call, and a list page made
    hundreds of them."""
    url = reverse("findings:detail", kwargs={"org_slug": org.slug, "finding_id": 987654321})
    for f in rows:
        f.url = url.replace("987654321", str(f.pk))
        local = timezone.localtime(f.last_seen)
        f.last_seen_iso = local.isoformat()
        f.last_seen_text = f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()
        f.html = row_html(f)
    return rows


def row_html(f: Finding) -> SafeString:
    """A finding's row of the list, built once in Python after ``with_row_display`` (the template
    included once per row was most of the list's time). Every value goes through ``esc``."""
    usd = f"${f.monthly_usd:,.2f}" if f.monthly_usd is not None else "—"
    region = f" · {esc(f.region)}" if f.region else ""
    return mark_safe(  # noqa: S308 (every value is escaped)
        f'<tr><td><input type="checkbox" name="id" value="{int(f.pk)}" '
        f'aria-label="Select {esc(f.title)} on {esc(f.resource_name or f.native_id)}" data-bulk-item></td>'
        f'<td><span class="sev sev-{esc(f.severity)}">{esc(f.get_severity_display())}</span></td>'
        f'<td><a href="{esc(f.url)}">{esc(f.title)}</a><br><small class="help">{esc(f.get_category_display())} · '
        f"<code>{esc(f.rule_id)}</code></small></td>"
        f'<td>{esc(f.resource_name or "—")}<br><small class="help">{esc(f.resource_type)}{region}</small></td>'
        f"<td>{esc(f.connection.name)}</td>"
        f'<td><span class="status status-{esc(f.status)}">{esc(f.get_status_display())}</span></td>'
        f'<td class="nowrap"><time datetime="{esc(f.last_seen_iso)}">{esc(f.last_seen_text)}</time></td>'
        f'<td class="num">{esc(usd)}</td></tr>'
    )


@org_view(_C.VIEW)
def finding_list(request: HttpRequest) -> HttpResponse:
    org = request.org
    findings, filters = queries.filter_findings(org, request.GET)
    view = _list_view(request, filters)
    counts = queries.counts_by_severity_category(org)
    more = False
    if view == "rules":
        groups = queries.group_by_rule(org, findings, filters)
        page = Paginator(groups, GROUPS_PER_PAGE).get_page(request.GET.get("page"))
        total = sum(g.count for g in groups)
    else:
        # The count comes from the headline numbers or a capped count, never a COUNT(*) of every row;
        # the rows from the (org, status, severity_rank, last_seen) index.
        total, more = queries.count_matching(org, findings, filters)
        paginator = Paginator(findings.select_related("connection").defer("detail"), queries.PAGE_SIZE)
        paginator.count = total
        page = paginator.get_page(request.GET.get("page"))
        page.object_list = with_row_display(org, list(page.object_list))
    catalog = builtin_catalog()
    base_qs = filters.querystring()
    context = {
        "view": view,
        "page": page,
        "total": total,
        "total_label": f"{total:,}+" if more else f"{total:,}",
        "filters": filters,
        "form": filters.form,
        "base_qs": f"{base_qs}&view={view}" if base_qs else f"view={view}",
        "flat_qs": f"{base_qs}&view=flat" if base_qs else "view=flat",
        "rules_qs": f"{base_qs}&view=rules" if base_qs else "view=rules",
        "back_qs": f"{base_qs}&view={view}" if base_qs else f"view={view}",
        "filter_params": filters.params(),
        "has_connections": len(filters.form.fields["connection"].choices) > 1,
        "can_suppress": request.membership.can(_C.MANAGE_SUPPRESSIONS),
        "acceptances": bulk.active_rules(org).count(),
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


@org_view(_C.VIEW)
def group_rows(request: HttpRequest) -> HttpResponse:
    """One rule's findings inside the grouped list (loaded when the group is opened), within the filters."""
    findings, filters = queries.filter_findings(request.org, request.GET)
    if len(filters.rule_ids) != 1:
        return HttpResponseBadRequest("Name one rule.", content_type="text/plain; charset=utf-8")
    rows = with_row_display(
        request.org, list(findings.select_related("connection").defer("detail")[: GROUP_PREVIEW + 1])
    )
    context = {
        "rows": rows[:GROUP_PREVIEW],
        "more": len(rows) > GROUP_PREVIEW,
        "flat_qs": f"{filters.querystring()}&view=flat",
        "can_suppress": request.membership.can(_C.MANAGE_SUPPRESSIONS),
    }
    return render(request, "findings/_group_rows.html", context)


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
        "form": form or _stashed_suppress_form(request, finding) or SuppressForm(),
        "can_suppress": request.membership.can(_C.MANAGE_SUPPRESSIONS),
        "snippets": remediation.snippets_for(finding),
        "acceptance": finding.suppression_rule if finding.suppression_rule_id else None,
    }


def _stash_key(finding: Finding) -> str:
    return f"findings.suppress_form:{finding.pk}"


def _stashed_suppress_form(request: HttpRequest, finding: Finding) -> SuppressForm | None:
    """A refused suppression, shown again after the redirect (so a reload never re-posts or hits a 405)."""
    stashed = request.session.pop(_stash_key(finding), None)
    if not isinstance(stashed, dict):
        return None
    form = SuppressForm(stashed.get("data") or {})
    form.is_valid()
    if stashed.get("error"):
        form.add_error(None, str(stashed["error"]))
    return form


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
            error = str(exc)
        else:
            messages.success(request, "Finding suppressed.")
            return redirect(finding.get_absolute_url())
    else:
        error = ""
    data = {k: request.POST.get(k, "")[:2000] for k in ("reason", "until")}
    request.session[_stash_key(finding)] = {"data": data, "error": error}
    messages.error(request, "The finding was not suppressed: see the form below.")
    return redirect(f"{finding.get_absolute_url()}#suppress")


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
    product_events.emit(request, "export", what="findings", format=fmt)
    bulk.record_export(request.org, user=request.user, fmt=fmt, count=None, request=request)
    return _stream(request, fmt, findings)


def _stream(request: HttpRequest, fmt: str, findings) -> StreamingHttpResponse:
    tz = timezone.get_current_timezone()
    response = StreamingHttpResponse(exporting.stream(fmt, findings, tz), content_type=exporting.FORMATS[fmt])
    stamp = timezone.localtime(timezone.now(), tz).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="findings-{request.org.slug}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


# --- bulk decisions ------------------------------------------------------------------------------------


def _list_url(request: HttpRequest, querystring: str = "") -> str:
    """The list, with the filters the form came from (re-encoded: whatever was posted stays a query)."""
    url = reverse("findings:list", kwargs={"org_slug": request.org.slug})
    querystring = urlencode(parse_qsl(querystring)[:100])
    return f"{url}?{querystring}" if querystring else url


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@org_view(_C.VIEW, methods=["POST"])
def bulk_action(request: HttpRequest) -> HttpResponse:
    """Suppress, lift or export the checked findings (``id``), the checked rule groups (``group``), or the
    whole filtered list (``scope=all``); the list's filters come with the form as hidden fields."""
    action = request.POST.get("action", "")
    back = request.POST.get("back", "")[:2000]
    if action not in ("suppress", "unsuppress", "export_csv", "export_json"):
        messages.error(request, "Choose what to do with the selected findings.")
        return redirect(_list_url(request, back))
    if action in ("suppress", "unsuppress") and not request.membership.can(_C.MANAGE_SUPPRESSIONS):
        raise PermissionDenied
    groups = [g for g in request.POST.getlist("group") if queries.RULE_ID_RE.match(g)]
    params = request.POST.copy()
    if groups:
        params.setlist("rule", groups[: queries.MAX_RULE_FILTERS])
    everything = request.POST.get("scope") == "all" or bool(groups)
    try:
        findings = bulk.select(request.org, params, request.POST.getlist("id"), everything)
        if action.startswith("export_"):
            fmt = action.removeprefix("export_")
            bulk.record_export(request.org, user=request.user, fmt=fmt, count=findings.count(), request=request)
            return _stream(request, fmt, findings.order_by("-last_seen", "-id"))
        if action == "suppress":
            form = SuppressForm(request.POST)
            if not form.is_valid():
                raise bulk.BulkError(" ".join(e for errors in form.errors.values() for e in errors))
            n = bulk.do_bulk_suppress(
                request.org,
                findings,
                user=request.user,
                reason=form.cleaned_data["reason"],
                until=form.expiry(),
                request=request,
            )
            messages.success(request, f"{_plural(n, 'finding')} suppressed." if n else "None of them is open.")
        else:
            n = bulk.do_bulk_unsuppress(request.org, findings, user=request.user, request=request)
            messages.success(request, f"{_plural(n, 'finding')} open again." if n else "None of them is suppressed.")
    except bulk.BulkError as exc:
        messages.error(request, str(exc))
    return redirect(_list_url(request, back))


# --- acceptance by rule and scope -----------------------------------------------------------------------


class AcceptForm(SuppressForm):
    rule_id = forms.CharField(max_length=200, widget=forms.HiddenInput)
    connection = forms.TypedChoiceField(label="Connection", required=False, coerce=int, empty_value=None)
    region = forms.CharField(label="Region", required=False, max_length=64, help_text="Empty: every region.")
    tag_key = forms.CharField(label="Tag key", required=False, max_length=128, help_text="Empty: any tags.")
    tag_value = forms.CharField(
        label="Tag value", required=False, max_length=256, help_text="Empty with a key: the key with any value."
    )

    def __init__(self, *args, org=None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = CloudConnection.objects.for_org(org).order_by("name", "id").values_list("pk", "name")
        self.fields["connection"].choices = [("", "Every connection"), *choices]
        self.fields["reason"].help_text = "Why these findings are accepted: kept with each one and in the audit log."
        self.fields["until"].help_text = "The findings open again at 00:00 on this date. Empty: until lifted."

    def clean_rule_id(self) -> str:
        rule_id = self.cleaned_data["rule_id"].strip()
        if not queries.RULE_ID_RE.match(rule_id):
            raise forms.ValidationError("Not a rule id.")
        return rule_id


@org_view(_C.MANAGE_SUPPRESSIONS, methods=["GET", "POST"])
def accept(request: HttpRequest) -> HttpResponse:
    """Accept a rule's findings within a scope, prefilled from a finding (``?finding=<id>``) or a rule."""
    org = request.org
    finding = None
    if request.GET.get("finding", "").isdigit():
        finding = get_finding_for_member(request, int(request.GET["finding"]), _C.MANAGE_SUPPRESSIONS)
    initial = {"rule_id": request.GET.get("rule", "")[:200]}
    if finding is not None:
        initial.update(rule_id=finding.rule_id, connection=finding.connection_id, region=finding.region)
    form = AcceptForm(request.POST or None, initial=initial, org=org)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        connection = CloudConnection.objects.for_org(org).get(pk=data["connection"]) if data["connection"] else None
        try:
            rule, n = bulk.do_accept_scope(
                org,
                rule_id=data["rule_id"],
                user=request.user,
                reason=data["reason"],
                until=form.expiry(),
                connection=connection,
                region=data["region"],
                tag_key=data["tag_key"],
                tag_value=data["tag_value"],
                request=request,
            )
        except bulk.BulkError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Accepted {rule.rule_id} in {rule.scope_label}: {_plural(n, 'finding')} suppressed now; "
                "new ones in this scope will be too.",
            )
            return redirect("findings:acceptances", org_slug=org.slug)
    rule_id = str(form["rule_id"].value() or "")
    catalog = builtin_catalog()
    tags = sorted((finding.resource.tags or {}).items()) if finding is not None and finding.resource_id else []
    open_rule = Finding.objects.for_org(org).filter(rule_id=rule_id, status=Finding.Status.OPEN)
    context = {
        "form": form,
        "finding": finding,
        "rule_id": rule_id,
        "rule_title": catalog.get(rule_id).title if rule_id in catalog else "",
        "tags": [(k, v) for k, v in tags if isinstance(v, str)][:50],
        "open_count": open_rule.count() if queries.RULE_ID_RE.match(rule_id) else 0,
    }
    return render(request, "findings/accept.html", context, status=400 if form.errors else 200)


@org_view(_C.VIEW)
def acceptances(request: HttpRequest) -> HttpResponse:
    rules = (
        SuppressionRule.objects.for_org(request.org)
        .select_related("connection", "created_by", "lifted_by")
        .annotate(suppressed=Count("findings", filter=Q(findings__status=Finding.Status.SUPPRESSED)))
        .order_by("-created_at", "-id")
    )
    page = Paginator(rules, queries.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "now": timezone.now(), "can_suppress": request.membership.can(_C.MANAGE_SUPPRESSIONS)}
    return render(request, "findings/acceptances.html", context)


@org_view(_C.MANAGE_SUPPRESSIONS, methods=["POST"])
def lift_acceptance(request: HttpRequest, acceptance_id: int) -> HttpResponse:
    rule = SuppressionRule.objects.for_org(request.org).filter(pk=acceptance_id).first()
    if rule is None:
        raise Http404("No such acceptance.")
    try:
        n = bulk.do_lift_scope(rule, user=request.user, request=request)
    except bulk.BulkError as exc:
        messages.info(request, str(exc))
    else:
        messages.success(request, f"Lifted: {_plural(n, 'finding')} open again.")
    return redirect("findings:acceptances", org_slug=request.org.slug)


urlpatterns = [
    path(f"{ORG}findings/", finding_list, name="list"),
    path(f"{ORG}findings/group/", group_rows, name="group_rows"),
    path(f"{ORG}findings/bulk/", bulk_action, name="bulk"),
    path(f"{ORG}findings/accept/", accept, name="accept"),
    path(f"{ORG}findings/accepted/", acceptances, name="acceptances"),
    path(f"{ORG}findings/accepted/<int:acceptance_id>/lift/", lift_acceptance, name="lift_acceptance"),
    path(f"{ORG}findings/export.<str:fmt>/", export, name="export"),
    path(f"{ORG}findings/<int:finding_id>/", finding_detail, name="detail"),
    path(f"{ORG}findings/<int:finding_id>/suppress/", suppress, name="suppress"),
    path(f"{ORG}findings/<int:finding_id>/unsuppress/", unsuppress, name="unsuppress"),
]
