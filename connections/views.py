"""Cloud connection pages. Thin: access from ``@org_view``/``get_connection_for_member``, changes
from ``connections.actions``. Credential pages (create, edit, delete) need a fresh proof of identity
(accounts/sudo.py) before the form is shown or accepted: a POST without one is refused, never stashed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.sudo import require_sudo, sudo_required
from billing.limits import LimitReached
from connections import actions, aws_setup, hooks
from connections.access import get_connection_for_member
from connections.forms import AwsKeysForm, AwsRoleForm, AzureForm, RegionsForm, ScanScheduleForm
from connections.models import CloudConnection, new_external_id
from connections.organization import members_of
from connections.providers.base import ConnectionCheckError
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
Auth = CloudConnection.AuthMethod
FORMS = {Auth.AWS_ROLE: AwsRoleForm, Auth.AWS_KEYS: AwsKeysForm, Auth.AZURE_SP: AzureForm}
SLUGS = {"aws-role": Auth.AWS_ROLE, "aws-keys": Auth.AWS_KEYS, "azure": Auth.AZURE_SP}


def _list_url(request: HttpRequest) -> str:
    return reverse("connections:list", kwargs={"org_slug": request.org.slug})


def _pending_external_id(request: HttpRequest) -> str:
    """The External ID shown while the customer creates the role: stable across page loads (the
    template they download must match what we will send) until a connection is created with it."""
    key = f"pending_external_id:{request.org.pk}"
    if key not in request.session:
        request.session[key] = new_external_id()
    return request.session[key]


def _attach(form, error: ConnectionCheckError) -> None:
    target = error.field if error.field in form.fields else None
    form.add_error(target, error.message)


@org_view(_C.VIEW)
def connection_list(request: HttpRequest) -> HttpResponse:
    """The organization's connections; an AWS Organization's member accounts are listed on its page."""
    connections = (
        CloudConnection.objects.for_org(request.org)
        .exclude(aws_scope=CloudConnection.AwsScope.MEMBER)
        .annotate(member_count=Count("members", filter=Q(members__left_organization_at__isnull=True)))
    )
    return render(request, "connections/list.html", {"connections": connections})


@org_view(_C.MANAGE_CONNECTIONS)
def choose(request: HttpRequest) -> HttpResponse:
    return render(request, "connections/choose.html")


@org_view(_C.MANAGE_CONNECTIONS, methods=["GET", "POST"])
@sudo_required
def create(request: HttpRequest, method: str) -> HttpResponse:
    auth_method = SLUGS.get(method)
    if auth_method is None:
        return redirect("connections:choose", org_slug=request.org.slug)
    external_id = _pending_external_id(request) if auth_method == Auth.AWS_ROLE else ""
    form = FORMS[auth_method](request.POST or None, org=request.org)
    if request.method == "POST" and form.is_valid():
        connection = actions.build_connection(request.org, auth_method, form.cleaned_data, external_id=external_id)
        try:
            actions.do_create_connection(request, connection)
        except ConnectionCheckError as exc:
            _attach(form, exc)
        except LimitReached as exc:
            form.add_error(None, exc.html)
        else:
            request.session.pop(f"pending_external_id:{request.org.pk}", None)
            landing = hooks.run_after_create(request, connection)  # the first scan, when one could start
            first_scan = " Its first scan has started." if landing else ""
            messages.success(request, f"Connected “{connection.name}” — {connection.account_label}.{first_scan}")
            return redirect(landing or connection.get_absolute_url())
    context = {"form": form, "method": method, "auth_method": auth_method}
    if auth_method == Auth.AWS_ROLE:
        context.update(_role_setup_context(external_id))
    return render(request, "connections/create.html", context)


def _role_setup_context(external_id: str, connection: CloudConnection | None = None) -> dict:
    account = aws_setup.platform_account_id()
    context = {
        "external_id": external_id,
        "platform_account_id": account,
        "role_name": aws_setup.ROLE_NAME,
        "setup_connection": connection,
    }
    if account:
        context["template_json"] = aws_setup.cloudformation_template(account, external_id)
        context["policy_json"] = aws_setup.policy_document(account, external_id)
        context["stackset_json"] = aws_setup.stackset_template(account, external_id)
    return context


SETUP_FILES = {
    "cloudformation": (aws_setup.cloudformation_template, "cloustral-role.template.json"),
    "stackset": (aws_setup.stackset_template, "cloustral-member-role.stackset.json"),
    "policy": (aws_setup.policy_document, "cloustral-role-policy.json"),
}


@org_view(_C.MANAGE_CONNECTIONS)
def role_setup_file(request: HttpRequest, kind: str) -> HttpResponse:
    """The CloudFormation template (single account), StackSet template (an organization's members) or IAM
    JSON for the role, as a download: with the External ID of the role being created, or of the
    connection named by ``?connection=<id>`` (its page offers them again)."""
    account = aws_setup.platform_account_id()
    if account is None:
        messages.error(
            request, "Cloustral's own AWS identity is not configured; the template cannot be made. Contact support."
        )
        return redirect("connections:create", org_slug=request.org.slug, method="aws-role")
    if kind not in SETUP_FILES:
        raise Http404("No such set-up file.")
    if request.GET.get("connection"):
        if not request.GET["connection"].isdigit():
            raise Http404("No such connection.")
        connection = get_connection_for_member(request, int(request.GET["connection"]), _C.MANAGE_CONNECTIONS)
        if connection.auth_method != Auth.AWS_ROLE:
            raise Http404("This connection has no role.")
        external_id = connection.external_id
    else:
        external_id = _pending_external_id(request)
    make, filename = SETUP_FILES[kind]
    body = make(account, external_id)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _check_state(connection: CloudConnection, since: str | None) -> dict | None:
    """A test asked for at ``since`` (epoch seconds, from the URL): waiting until the worker records a
    check at or after it, then done. None when no (valid) test is being followed."""
    try:
        asked = float(since or "")
    except ValueError:
        return None
    if not 0 < asked <= time.time() + 60:
        return None
    checked = connection.last_checked_at
    done = checked is not None and checked >= datetime.fromtimestamp(asked, tz=UTC)
    return {"since": since, "done": done, "slow": not done and time.time() - asked > CHECK_SLOW_SECONDS}


CHECK_SLOW_SECONDS = 30


@org_view(_C.VIEW)
def detail(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id)
    context = {"connection": connection, "check": _check_state(connection, request.GET.get("test"))}
    if request.membership.can_manage_connections:
        context["schedule_form"] = ScanScheduleForm(initial={"scan_frequency": connection.scan_frequency})
    if connection.provider == CloudConnection.Provider.AWS and connection.enabled_regions:
        context["regions_form"] = RegionsForm(
            initial={"regions": connection.selected_regions}, enabled_regions=connection.enabled_regions
        )
    if connection.auth_method == Auth.AWS_ROLE and request.membership.can_manage_connections:
        context.update(_role_setup_context(connection.external_id, connection))
    if connection.is_member:  # managed by its organization: no schedule, regions or edits of its own
        context.pop("schedule_form", None)
        context.pop("regions_form", None)
    return render(request, "connections/detail.html", context)


def _managed_by_organization(request: HttpRequest, connection: CloudConnection) -> HttpResponse | None:
    """A member account's settings are its organization's: send the person there."""
    if not connection.is_member:
        return None
    messages.info(request, "This account is a member of an AWS Organization: change its settings on the organization.")
    return redirect(connection.parent.get_absolute_url())


@org_view(_C.MANAGE_CONNECTIONS, methods=["GET", "POST"])
def edit(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id, _C.MANAGE_CONNECTIONS)
    require_sudo(request)
    if managed := _managed_by_organization(request, connection):
        return managed
    initial = {
        "name": connection.name,
        "role_arn": connection.role_arn,
        "azure_cloud": connection.azure_cloud,
        "tenant_id": connection.tenant_id,
        "client_id": connection.client_id,
        "subscription_ids": "\n".join(s["id"] for s in connection.subscriptions),
    }
    form = FORMS[connection.auth_method](request.POST or None, initial=initial, org=request.org, instance=connection)
    if request.method == "POST" and form.is_valid():
        try:
            changed = actions.do_update_connection(request, connection, form.cleaned_data)
        except ConnectionCheckError as exc:
            _attach(form, exc)
            connection.refresh_from_db()
        else:
            messages.success(request, "Saved." if changed else "Nothing changed.")
            return redirect(connection.get_absolute_url())
    return render(request, "connections/edit.html", {"form": form, "connection": connection})


@org_view(_C.MANAGE_CONNECTIONS, methods=["POST"])
def set_regions(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id, _C.MANAGE_CONNECTIONS)
    if managed := _managed_by_organization(request, connection):
        return managed
    form = RegionsForm(request.POST, enabled_regions=connection.enabled_regions)
    if form.is_valid():
        actions.do_set_regions(request, connection, form.cleaned_data["regions"])
        messages.success(request, "Regions saved.")
    else:
        messages.error(request, "Choose regions from the list of enabled regions.")
    return redirect(connection.get_absolute_url())


@org_view(_C.MANAGE_CONNECTIONS, methods=["POST"])
def schedule(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id, _C.MANAGE_CONNECTIONS)
    if managed := _managed_by_organization(request, connection):
        return managed
    form = ScanScheduleForm(request.POST)
    if form.is_valid():
        try:
            if actions.do_set_scan_frequency(request, connection, form.cleaned_data["scan_frequency"]):
                messages.success(request, f"Scheduled scans: {connection.get_scan_frequency_display()}.")
        except LimitReached as exc:
            messages.error(request, exc.html)
    else:
        messages.error(request, "Choose how often to scan from the list.")
    return redirect(connection.get_absolute_url())


@org_view(_C.MANAGE_CONNECTIONS, methods=["POST"])
def test(request: HttpRequest, connection_id: int) -> HttpResponse:
    """Queue the test and answer at once: the page follows it (``test_status``) until it is recorded."""
    connection = get_connection_for_member(request, connection_id, _C.MANAGE_CONNECTIONS)
    since = f"{time.time() - 1:.3f}"  # a second of slack for clocks that round
    actions.do_request_test(request, connection)
    return redirect(f"{connection.get_absolute_url()}?test={since}")


@org_view(_C.VIEW)
def test_status(request: HttpRequest, connection_id: int) -> HttpResponse:
    """The test panel alone, polled by htmx; once the outcome is recorded the whole page reloads."""
    connection = get_connection_for_member(request, connection_id)
    check = _check_state(connection, request.GET.get("since"))
    response = render(request, "connections/_check_panel.html", {"connection": connection, "check": check})
    if check is None or check["done"]:
        response["HX-Refresh"] = "true"
    return response


@org_view(_C.MANAGE_CONNECTIONS, methods=["POST"])
def toggle(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id, _C.MANAGE_CONNECTIONS)
    if managed := _managed_by_organization(request, connection):
        return managed
    actions.do_set_enabled(request, connection, not connection.enabled)
    messages.success(
        request, f"“{connection.name}” is {'enabled' if connection.enabled else 'disabled: it will not be scanned'}."
    )
    return redirect(connection.get_absolute_url())


@org_view(_C.MANAGE_CONNECTIONS, methods=["GET", "POST"])
def delete(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for_member(request, connection_id, _C.MANAGE_CONNECTIONS)
    require_sudo(request)
    if managed := _managed_by_organization(request, connection):
        return managed
    if request.method == "POST":
        if request.POST.get("confirm_name", "").strip() != connection.name:
            messages.error(request, "Type the connection's name to confirm.")
            return render(request, "connections/delete.html", {"connection": connection}, status=400)
        actions.do_delete_connection(request, connection)
        messages.success(request, f"“{connection.name}” and its data were deleted.")
        return redirect(_list_url(request))
    member_count = members_of(connection).count() if connection.is_organization else 0
    return render(request, "connections/delete.html", {"connection": connection, "member_count": member_count})
