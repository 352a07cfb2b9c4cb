"""Organization pages. Thin: permissions come from ``@org_view`` and ``orgs.access``, changes from
``orgs.actions``. Changes to who controls the organization (owner invitations and role changes, removals,
ownership transfer, settings, deletion) need a fresh proof of identity (accounts/sudo.py), asked for
after the 404/403 checks."""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.adapter import get_adapter as get_account_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, Exists, IntegerField, OuterRef, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import AuditEvent, TOTPDevice
from accounts.sudo import require_sudo, sudo_required
from orgs import actions
from orgs.access import get_invitation_for_member, get_membership_for_member
from orgs.actions import OrgActionError
from orgs.current import last_used_membership
from orgs.decorators import org_view
from orgs.forms import ChangeRoleForm, DeleteOrganizationForm, InviteForm, OrganizationForm, OrgSettingsForm
from orgs.models import Invitation, Membership
from orgs.pending import forget_pending_invitation, pending_invitation_token, remember_pending_invitation
from orgs.roles import Capability, Role, assignable_roles, capabilities_table

AUDIT_PAGE_SIZE = 25
_C = Capability


def _members_url(request: HttpRequest) -> str:
    return reverse("orgs:members", kwargs={"org_slug": request.org.slug})


# --- organizations ----------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The overview of the organization used last, or, for someone in none, the page to create one."""
    membership = last_used_membership(request.user)
    if membership is not None:
        return redirect(membership.org)
    return render(request, "orgs/create.html", {"form": OrganizationForm()})


@login_required
@require_http_methods(["GET", "POST"])
def create_organization(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = actions.do_create_organization(request.user, form.cleaned_data["name"], request=request)
        except OrgActionError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"{org.name} is ready. Invite your team from the Members page.")
            return redirect(org)
    return render(request, "orgs/create.html", {"form": form})


@org_view(_C.VIEW)
def roles(request: HttpRequest) -> HttpResponse:
    return render(request, "orgs/roles.html", {"roles": list(Role), "table": capabilities_table()})


@org_view(_C.MANAGE_ORG, methods=["GET", "POST"])
@sudo_required
def org_settings(request: HttpRequest) -> HttpResponse:
    org = request.org
    form = OrgSettingsForm(request.POST or None, initial={"name": org.name, "require_mfa": org.require_mfa})
    if request.method == "POST" and form.is_valid():
        try:
            changed = actions.do_update_organization(request.membership, request=request, **form.cleaned_data)
        except OrgActionError as exc:
            form.add_error("require_mfa" if exc.code == "mfa" else "name", exc.message)
        else:
            messages.success(request, "Settings saved." if changed else "Nothing changed.")
            return redirect("orgs:settings", org_slug=request.org.slug)
    return render(request, "orgs/settings.html", {"form": form})


@org_view(_C.DELETE_ORG, methods=["GET", "POST"])
@sudo_required
def delete_organization(request: HttpRequest) -> HttpResponse:
    form = DeleteOrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = request.org.name
        try:
            actions.do_delete_organization(request.membership, request=request, **form.cleaned_data)
        except OrgActionError as exc:
            form.add_error("confirm_name", exc.message)
        else:
            messages.success(request, f"{name} and all its data were deleted.")
            return redirect("home")
    return render(request, "orgs/delete.html", {"form": form})


@org_view(_C.VIEW_AUDIT_LOG)
def audit_log(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.filter(org=request.org).select_related("actor").order_by("-created_at", "-id")
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "orgs/audit_log.html", {"page": page})


# --- members ----------------------------------------------------------------------------------


@org_view(_C.VIEW)
def members(request: HttpRequest) -> HttpResponse:
    org, me = request.org, request.membership
    rank = Case(*[When(role=r.value, then=Value(i)) for i, r in enumerate(Role)], output_field=IntegerField())
    rows = (
        Membership.objects.for_org(org)
        .select_related("user")
        .annotate(
            role_rank=rank,
            user_has_mfa=Exists(TOTPDevice.objects.filter(user=OuterRef("user_id"), confirmed=True)),
        )
        .order_by("role_rank", "user__email")
    )
    invitations = None
    invite_form = None
    if me.can_manage_invitations:
        invitations = list(Invitation.objects.for_org(org).open().select_related("invited_by"))
        invite_form = InviteForm(actor_role=me.role)
    context = {
        "members": list(rows),
        "invitations": invitations,
        "invite_form": invite_form,
        "role_choices": [(r.value, r.label) for r in assignable_roles(me.role)],
    }
    return render(request, "orgs/members.html", context)


@org_view(_C.MANAGE_INVITATIONS, methods=["GET", "POST"])
def invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None, actor_role=request.membership.role)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["role"] == Role.OWNER:
            require_sudo(request)  # an owner invitation hands over control of the organization
        try:
            invitation = actions.do_invite(request.membership, request=request, **form.cleaned_data)
        except OrgActionError as exc:
            form.add_error("role" if exc.code == "role" else "email", getattr(exc, "html", "") or exc.message)
        else:
            messages.success(request, f"Invitation sent to {invitation.email} as {invitation.role_label}.")
            return redirect(_members_url(request))
    return render(request, "orgs/invite.html", {"form": form})


@org_view(_C.MANAGE_MEMBERS, methods=["POST"])
def change_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = get_membership_for_member(request, membership_id)
    form = ChangeRoleForm(request.POST, actor_role=request.membership.role)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles you can give.")
        return redirect(_members_url(request))
    if target.role != form.cleaned_data["role"] and Role.OWNER in (target.role, form.cleaned_data["role"]):
        require_sudo(request, next_url=_members_url(request))
    try:
        changed = actions.do_change_role(request.membership, target, form.cleaned_data["role"], request=request)
    except OrgActionError as exc:
        messages.error(request, exc.message)
    else:
        if changed:
            label = Role(form.cleaned_data["role"]).label
            messages.success(request, f"{target.user.email} is now {label}.")
    return redirect(_members_url(request))


@org_view(_C.MANAGE_MEMBERS, methods=["GET", "POST"])
def remove_member(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = get_membership_for_member(request, membership_id)
    require_sudo(request)
    if request.method == "POST":
        try:
            actions.do_remove_member(request.membership, target, request=request)
        except OrgActionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{target.user.email} was removed from {request.org.name}.")
        return redirect(_members_url(request))
    return render(request, "orgs/remove_member.html", {"target": target})


@org_view(_C.MANAGE_OWNERSHIP, methods=["GET", "POST"])
def transfer_ownership(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = get_membership_for_member(request, membership_id, _C.MANAGE_OWNERSHIP)
    require_sudo(request)
    if request.method == "POST":
        try:
            actions.do_transfer_ownership(request.membership, target, request=request)
        except OrgActionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{target.user.email} now owns {request.org.name}. You are an admin.")
        return redirect(_members_url(request))
    return render(request, "orgs/transfer_ownership.html", {"target": target})


@org_view(_C.VIEW, methods=["GET", "POST"], mfa_exempt=True)
def leave(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            actions.do_leave_organization(request.membership, request=request)
        except OrgActionError as exc:
            messages.error(request, exc.message)
            return redirect(_members_url(request))
        messages.success(request, f"You left {request.org.name}.")
        return redirect("home")
    return render(request, "orgs/leave.html")


# --- invitations ------------------------------------------------------------------------------


@org_view(_C.MANAGE_INVITATIONS, methods=["POST"])
def resend_invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_invitation_for_member(request, invitation_id)
    try:
        actions.do_resend_invitation(request.membership, invitation, request=request)
    except OrgActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"A new invitation link was sent to {invitation.email}.")
    return redirect(_members_url(request))


@org_view(_C.MANAGE_INVITATIONS, methods=["POST"])
def revoke_invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_invitation_for_member(request, invitation_id)
    try:
        actions.do_revoke_invitation(request.membership, invitation, request=request)
    except OrgActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The invitation of {invitation.email} was revoked; its link no longer works.")
    return redirect(_members_url(request))


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The page an invitation link opens, logged in or not. The token is the credential."""
    found = actions.find_invitation(token)
    if found is None:
        if pending_invitation_token(request) == token:
            forget_pending_invitation(request)
        return render(
            request, "orgs/invitation_closed.html", {"problem": "This invitation link is not valid."}, status=404
        )
    user = request.user if request.user.is_authenticated else None
    if not found.is_pending:
        if pending_invitation_token(request) == token:
            forget_pending_invitation(request)
        if user is not None and Membership.objects.for_user(user).filter(org=found.org).exists():
            messages.info(request, f"You are a member of {found.org.name}.")
            return redirect(found.org)
        context = {"invitation": found, "problem": actions.invitation_problem(found)}
        return render(request, "orgs/invitation_closed.html", context, status=410)
    context = {"invitation": found}
    if user is None:
        remember_pending_invitation(request, token)
        # The link reached this address: signing up with it in this browser needs no second proof.
        get_account_adapter(request).stash_verified_email(request, found.email)
        context["signup_url"] = f"{reverse('account_signup')}?{urlencode({'email': found.email})}"
        context["login_url"] = f"{reverse('account_login')}?{urlencode({'next': request.path})}"
        return render(request, "orgs/invitation.html", context)
    problem = actions.invitation_problem(found, user)
    if problem:
        return render(request, "orgs/invitation.html", {**context, "wrong_account": problem})
    if request.method == "POST":
        try:
            membership = actions.do_accept_invitation(found, user, request=request)
        except OrgActionError as exc:
            return render(
                request, "orgs/invitation_closed.html", {"invitation": found, "problem": exc.message}, status=410
            )
        forget_pending_invitation(request)
        messages.success(request, f"Welcome to {found.org.name}. You joined as {membership.role_label}.")
        return redirect(found.org)
    return render(request, "orgs/invitation.html", context)
