"""Automations: the list (last and next run in each schedule's timezone), a page per automation with its
runs, the form with a preview of the summary before saving, pause/resume, run now, delete, and a run's
page (the summary it sent and every delivery). Thin: reads here, writes through ``automations.actions``."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse

from automations import actions, sending
from automations.access import get_automation_for_member, get_run_for_member
from automations.digest import Digest, DigestFilters
from automations.forms import AutomationForm
from automations.models import Automation, AutomationRun, Channel, Delivery
from automations.preview import preview, preview_of
from automations.render import email_context
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
ORG = "o/<slug:org_slug>/automations/"
PER_PAGE = 50
RUNS_PER_PAGE = 20


def _list_url(request: HttpRequest) -> str:
    return reverse("automations:list", kwargs={"org_slug": request.org.slug})


def channel_names(org, automation_ids: list[int]) -> dict[int, list[str]]:
    """{automation id: [channel names]} in one query."""
    through = Automation.channels.through
    names: dict[int, list[str]] = {}
    rows = (
        through.objects.filter(automation_id__in=automation_ids, channel__org=org)
        .order_by("channel__name")
        .values_list("automation_id", "channel__name")
    )
    for automation_id, name in rows:
        names.setdefault(automation_id, []).append(name)
    return names


@org_view(_C.VIEW)
def automation_list(request: HttpRequest) -> HttpResponse:
    org = request.org
    last_status = AutomationRun.objects.for_org(org).filter(automation=OuterRef("pk")).order_by("-created_at", "-id")
    automations = (
        Automation.objects.for_org(org)
        .select_related("org")
        .annotate(last_status=Subquery(last_status.values("status")[:1]))
    )
    page = Paginator(automations, PER_PAGE).get_page(request.GET.get("page"))
    names = channel_names(org, [a.pk for a in page])
    statuses = dict(AutomationRun.Status.choices)
    rows = [(a, names.get(a.pk, []), statuses.get(a.last_status, "")) for a in page]
    context = {
        "page": page,
        "rows": rows,
        "can_manage": request.membership.can_manage_automations,
        "can_view_deliveries": request.membership.can_view_audit_log,
        "has_channels": Channel.objects.for_org(org).exists(),
    }
    return render(request, "automations/list.html", context)


def _form_page(request: HttpRequest, automation: Automation | None) -> HttpResponse:
    org = request.org
    form = AutomationForm(
        request.POST or None, org=org, automation=automation, default_tz=getattr(request.user, "timezone", "UTC")
    )
    context: dict = {"form": form, "automation": automation}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            fields = form.fields_for_action()
            if "preview" in request.POST:
                context["preview"] = preview(
                    org, form.digest_filters(), automation, name=fields["name"], tz=fields["timezone"]
                )
                return render(request, "automations/form.html", context)
            try:
                if automation is None:
                    automation = actions.do_create_automation(org, user=request.user, request=request, **fields)
                    messages.success(request, f"Automation “{automation.name}” created.")
                else:
                    actions.do_update_automation(automation, user=request.user, request=request, **fields)
                    messages.success(request, f"Automation “{automation.name}” saved.")
            except actions.AutomationLimitReached as refused:
                form.add_error(None, refused.message)
            else:
                return redirect(automation.get_absolute_url())
        status = 400
    return render(request, "automations/form.html", context, status=status)


@org_view(_C.MANAGE_AUTOMATIONS, methods=["GET", "POST"])
def automation_new(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@org_view(_C.MANAGE_AUTOMATIONS, methods=["GET", "POST"])
def automation_edit(request: HttpRequest, automation_id: int) -> HttpResponse:
    automation = get_automation_for_member(request, automation_id, _C.MANAGE_AUTOMATIONS)
    return _form_page(request, automation)


@org_view(_C.VIEW)
def automation_detail(request: HttpRequest, automation_id: int) -> HttpResponse:
    automation = get_automation_for_member(request, automation_id)
    org = request.org
    runs = (
        AutomationRun.objects.for_org(org)
        .filter(automation=automation)
        .select_related("org")
        .defer("digest")
        .annotate(
            sent=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.SENT)),
            failed=Count("deliveries", filter=Q(deliveries__status__in=Delivery.FAILURES)),
            total=Count("deliveries"),
        )
        .order_by("-created_at", "-id")
    )
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    filters = DigestFilters.of(automation)
    from connections.models import CloudConnection

    connection_names = dict(CloudConnection.objects.for_org(org).values_list("pk", "name"))
    context = {
        "automation": automation,
        "page": page,
        "channels": sending.channels_of(automation),
        "filters": filters.describe(connection_names),
        "can_manage": request.membership.can_manage_automations,
    }
    return render(request, "automations/detail.html", context)


@org_view(_C.VIEW)
def automation_preview(request: HttpRequest, automation_id: int) -> HttpResponse:
    automation = get_automation_for_member(request, automation_id)
    return render(request, "automations/preview.html", {"automation": automation, "preview": preview_of(automation)})


@org_view(_C.MANAGE_AUTOMATIONS, methods=["POST"])
def automation_toggle(request: HttpRequest, automation_id: int) -> HttpResponse:
    automation = get_automation_for_member(request, automation_id, _C.MANAGE_AUTOMATIONS)
    enabled = not automation.enabled
    actions.do_set_automation_enabled(automation, enabled, user=request.user, request=request)
    messages.success(request, f"“{automation.name}” is {'running again' if enabled else 'paused: it will not fire'}.")
    return redirect(automation.get_absolute_url())


@org_view(_C.MANAGE_AUTOMATIONS, methods=["POST"])
def automation_run_now(request: HttpRequest, automation_id: int) -> HttpResponse:
    automation = get_automation_for_member(request, automation_id, _C.MANAGE_AUTOMATIONS)
    if request.org.processing_paused:
        messages.error(request, "Processing is paused for this organization: nothing runs until it is resumed.")
        return redirect(automation.get_absolute_url())
    run = actions.do_run_now(automation, user=request.user, request=request)
    if run is None:
        messages.error(request, "It could not be started; try again.")
        return redirect(automation.get_absolute_url())
    messages.success(request, "Started: the summary is on its way." if not automation.scans else "Scans started.")
    return redirect(run.get_absolute_url())


@org_view(_C.MANAGE_AUTOMATIONS, methods=["GET", "POST"])
def automation_delete(request: HttpRequest, automation_id: int) -> HttpResponse:
    automation = get_automation_for_member(request, automation_id, _C.MANAGE_AUTOMATIONS)
    if request.method == "POST":
        name = automation.name
        actions.do_delete_automation(automation, user=request.user, request=request)
        messages.success(request, f"Automation “{name}” deleted: it will not fire again.")
        return redirect(_list_url(request))
    return render(request, "automations/delete.html", {"automation": automation})


@org_view(_C.VIEW)
def run_detail(request: HttpRequest, automation_run_id: int) -> HttpResponse:
    run = get_run_for_member(request, automation_run_id)
    deliveries = Delivery.objects.for_org(request.org).filter(run=run).order_by("channel_name", "recipient", "id")
    page = Paginator(deliveries, PER_PAGE).get_page(request.GET.get("page"))
    digest = Digest.from_dict(run.digest) if run.digest else None
    context = {
        "run": run,
        "automation": run.automation,
        "page": page,
        "digest": digest,
        "failed": Delivery.objects.for_org(request.org).filter(run=run, status=Delivery.Status.FAILED).count(),
        "can_manage": request.membership.can_manage_automations,
    }
    if digest is not None:
        context.update(email_context(digest, automation_name=run.automation.name, tz=run.automation.timezone))
    return render(request, "automations/run.html", context)


@org_view(_C.MANAGE_AUTOMATIONS, methods=["POST"])
def run_resend(request: HttpRequest, automation_run_id: int) -> HttpResponse:
    run = get_run_for_member(request, automation_run_id, _C.MANAGE_AUTOMATIONS)
    count = actions.do_resend_failed(run, user=request.user, request=request)
    if count:
        messages.success(request, f"{count} failed deliver{'ies' if count != 1 else 'y'} sent again.")
    else:
        messages.info(request, "No failed delivery to send again.")
    return redirect(run.get_absolute_url())


urlpatterns = [
    path(ORG, automation_list, name="list"),
    path(f"{ORG}new/", automation_new, name="new"),
    path(f"{ORG}<int:automation_id>/", automation_detail, name="detail"),
    path(f"{ORG}<int:automation_id>/edit/", automation_edit, name="edit"),
    path(f"{ORG}<int:automation_id>/preview/", automation_preview, name="preview"),
    path(f"{ORG}<int:automation_id>/toggle/", automation_toggle, name="toggle"),
    path(f"{ORG}<int:automation_id>/run/", automation_run_now, name="run_now"),
    path(f"{ORG}<int:automation_id>/delete/", automation_delete, name="delete"),
    path(f"{ORG}runs/<int:automation_run_id>/", run_detail, name="run"),
    path(f"{ORG}runs/<int:automation_run_id>/resend/", run_resend, name="run_resend"),
]
