"""Every change to organizations, memberships and invitations (ARCHITECTURE.md convention 4).

Each ``do_*`` function is atomic and audit-logged, and is shared by views, signal receivers,
management commands and tasks alike. A request refused by a business rule (the last owner leaving,
an admin touching an owner, an expired link) raises ``OrgActionError`` with a message meant for the
person who tried; views show it. Permission to attempt the action at all (the role matrix) is
checked before, by ``orgs.decorators.org_view`` and ``orgs.access``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.utils import build_absolute_uri
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from accounts import audit
from accounts.models import AuditEvent, User
from orgs.limits import member_refusal
from orgs.models import Invitation, Membership, Organization, hash_token
from orgs.roles import Capability, Role, assignable_roles

logger = logging.getLogger(__name__)
A = AuditEvent.Action

SLUG_MAX_LENGTH = 40


class OrgActionError(Exception):
    """A refused action; ``str(error)`` is a message for the person who tried."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- organizations ----------------------------------------------------------------------------


def unique_slug(name: str) -> str:
    base = slugify(name)[:SLUG_MAX_LENGTH].strip("-") or "org"
    if not Organization.objects.filter(slug=base).exists():
        return base
    taken = set(Organization.objects.filter(slug__startswith=f"{base}-").values_list("slug", flat=True))
    for n in range(2, 100):
        candidate = f"{base}-{n}"
        if candidate not in taken:
            return candidate
    return f"{base}-{secrets.token_hex(3)}"


def do_create_organization(user: User, name: str, *, request: HttpRequest | None = None) -> Organization:
    """A new organization with ``user`` as its owner."""
    name = " ".join(name.split())[:120]
    if not name:
        raise OrgActionError("Enter the organization's name.", code="name")
    for attempt in range(5):
        slug = (
            unique_slug(name) if attempt == 0 else f"{slugify(name)[:SLUG_MAX_LENGTH] or 'org'}-{secrets.token_hex(3)}"
        )
        try:
            with transaction.atomic():
                org = Organization.objects.create(name=name, slug=slug)
                Membership.objects.create(user=user, org=org, role=Role.OWNER, last_used_at=timezone.now())
                audit.record(A.ORG_CREATED, request=request, actor=user, org=org, target=org.name, slug=org.slug)
            return org
        except IntegrityError:  # a concurrent sign-up took the same slug: try another one
            continue
    raise OrgActionError("Could not create the organization. Please try again.")


def do_update_organization(
    membership: Membership, *, name: str, require_mfa: bool, request: HttpRequest | None = None
) -> list[str]:
    """Rename and/or change the MFA requirement. Returns the changed fields."""
    _require(membership, Capability.MANAGE_ORG)
    org, actor = membership.org, membership.user
    name = " ".join(name.split())[:120]
    if not name:
        raise OrgActionError("Enter the organization's name.", code="name")
    if require_mfa and not org.require_mfa and not actor.has_mfa:
        raise OrgActionError(
            "Turn on two-factor authentication for your own account before requiring it of every member.",
            code="mfa",
        )
    changed: list[str] = []
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=org.pk)
        if name != org.name:
            audit.record(A.ORG_RENAMED, request=request, actor=actor, org=org, target=name, old_name=org.name)
            org.name = name
            changed.append("name")
        if require_mfa != org.require_mfa:
            org.require_mfa = require_mfa
            action = A.ORG_MFA_REQUIRED if require_mfa else A.ORG_MFA_NOT_REQUIRED
            audit.record(action, request=request, actor=actor, org=org, target=org.name)
            changed.append("require_mfa")
        if changed:
            org.save(update_fields=changed)
    membership.org = org
    return changed


def do_delete_organization(membership: Membership, *, confirm_name: str, request: HttpRequest | None = None) -> None:
    """Delete the organization and everything it owns (cascade). Its audit events stay, detached."""
    _require(membership, Capability.DELETE_ORG)
    org = membership.org
    if confirm_name.strip() != org.name:
        raise OrgActionError("Type the organization's name exactly to confirm.", code="confirm")
    with transaction.atomic():
        audit.record(
            A.ORG_DELETED, request=request, actor=membership.user, target=org.name, slug=org.slug, org_id=org.pk
        )
        Organization.objects.filter(pk=org.pk).delete()


# --- members ----------------------------------------------------------------------------------


def _require(membership: Membership, capability: Capability) -> None:
    if not membership.can(capability):
        raise OrgActionError("Your role does not allow this.", code="forbidden")


def _locked_owner_ids(org: Organization) -> set[int]:
    # Locking the owners' rows serializes concurrent demotions, so two owners cannot each remove
    # the other and leave the organization without one.
    return set(Membership.objects.for_org(org).owners().select_for_update().values_list("pk", flat=True))


def _fresh(membership: Membership) -> Membership:
    return (
        Membership.objects.for_org(membership.org_id)
        .select_related("user", "org")
        .select_for_update(of=("self",))
        .get(pk=membership.pk)
    )


def do_change_role(actor: Membership, target: Membership, new_role: str, *, request: HttpRequest | None = None) -> bool:
    """Give ``target`` a new role. Returns False when nothing changed."""
    _require(actor, Capability.MANAGE_MEMBERS)
    if new_role not in Role.values:
        raise OrgActionError("Choose a valid role.", code="role")
    with transaction.atomic():
        owner_ids = _locked_owner_ids(actor.org)
        target = _fresh(target)
        if target.role == new_role:
            return False
        if Role.OWNER in (target.role, new_role) and not actor.can(Capability.MANAGE_OWNERSHIP):
            raise OrgActionError("Only an owner can grant or remove the owner role.", code="owner")
        if new_role not in assignable_roles(actor.role):
            raise OrgActionError("Your role cannot give that role.", code="role")
        if target.role == Role.OWNER and owner_ids == {target.pk}:
            raise OrgActionError(
                f"{target.user.email} is the last owner. Make another member an owner first, or transfer ownership.",
                code="last_owner",
            )
        old_role = target.role
        target.role = new_role
        target.save(update_fields=["role"])
        audit.record(
            A.MEMBER_ROLE_CHANGED,
            request=request,
            actor=actor.user,
            org=actor.org,
            target=target.user.email,
            old_role=old_role,
            new_role=new_role,
        )
    return True


def do_remove_member(actor: Membership, target: Membership, *, request: HttpRequest | None = None) -> None:
    _require(actor, Capability.MANAGE_MEMBERS)
    if target.pk == actor.pk:
        raise OrgActionError("To leave the organization yourself, use “Leave organization”.", code="self")
    with transaction.atomic():
        owner_ids = _locked_owner_ids(actor.org)
        target = _fresh(target)
        if target.role == Role.OWNER and not actor.can(Capability.MANAGE_OWNERSHIP):
            raise OrgActionError("Only an owner can remove an owner.", code="owner")
        if target.role == Role.OWNER and owner_ids == {target.pk}:
            raise OrgActionError(f"{target.user.email} is the last owner and cannot be removed.", code="last_owner")
        target.delete()
        audit.record(
            A.MEMBER_REMOVED,
            request=request,
            actor=actor.user,
            org=actor.org,
            target=target.user.email,
            role=target.role,
        )


def do_leave_organization(membership: Membership, *, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        owner_ids = _locked_owner_ids(membership.org)
        membership = _fresh(membership)
        if membership.role == Role.OWNER and owner_ids == {membership.pk}:
            raise OrgActionError(
                "You are the last owner, so you cannot leave. Transfer ownership to another member first, "
                "or delete the organization.",
                code="last_owner",
            )
        membership.delete()
        audit.record(
            A.MEMBER_LEFT,
            request=request,
            actor=membership.user,
            org=membership.org,
            target=membership.user.email,
            role=membership.role,
        )


def do_transfer_ownership(actor: Membership, target: Membership, *, request: HttpRequest | None = None) -> None:
    """``target`` becomes an owner and ``actor`` steps down to admin."""
    _require(actor, Capability.MANAGE_OWNERSHIP)
    if target.pk == actor.pk:
        raise OrgActionError("You already own this organization.", code="self")
    with transaction.atomic():
        _locked_owner_ids(actor.org)
        actor_row, target = _fresh(actor), _fresh(target)
        if actor_row.role != Role.OWNER:
            raise OrgActionError("Only an owner can transfer ownership.", code="owner")
        old_role = target.role
        target.role = Role.OWNER
        target.save(update_fields=["role"])
        actor_row.role = Role.ADMIN
        actor_row.save(update_fields=["role"])
        audit.record(
            A.OWNERSHIP_TRANSFERRED,
            request=request,
            actor=actor.user,
            org=actor.org,
            target=target.user.email,
            old_role=old_role,
            previous_owner_role=Role.ADMIN.value,
        )
    actor.role = Role.ADMIN


# --- invitations ------------------------------------------------------------------------------


def invitation_expiry() -> datetime:
    return timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS)


def invitation_url(token: str, request: HttpRequest | None = None) -> str:
    path = reverse("orgs:invitation", kwargs={"token": token})
    if request is None:
        return settings.SITE_URL.rstrip("/") + path
    return build_absolute_uri(request, path)


def _send_invitation_email(invitation: Invitation, token: str, request: HttpRequest | None) -> None:
    inviter = invitation.invited_by
    context = {
        "org_name": invitation.org.name,
        "inviter": inviter.get_full_name() if inviter else "A member",
        "inviter_email": inviter.email if inviter else "",
        "role": invitation.role_label,
        "accept_url": invitation_url(token, request),
        "expires_at": invitation.expires_at,
        "max_age_days": settings.INVITATION_MAX_AGE_DAYS,
    }
    get_adapter(request).send_mail("orgs/email/invitation", invitation.email, context)


def _refuse_over_member_limit(org: Organization) -> None:
    """A pending invitation holds a seat: refuse one the plan has no room for (orgs.limits)."""
    refusal = member_refusal(org)
    if refusal is not None:
        error = OrgActionError(refusal.message, code="plan_limit")
        error.html = refusal.html
        raise error


def do_invite(actor: Membership, email: str, role: str, *, request: HttpRequest | None = None) -> Invitation:
    _require(actor, Capability.MANAGE_INVITATIONS)
    email = email.strip().lower()
    org = actor.org
    if role not in assignable_roles(actor.role):
        raise OrgActionError("Your role cannot invite people with that role.", code="role")
    if Membership.objects.for_org(org).filter(user__email__iexact=email).exists():
        raise OrgActionError(f"{email} is already a member of {org.name}.", code="member")
    if Invitation.objects.for_org(org).pending().filter(email=email).exists():
        raise OrgActionError(
            f"{email} already has a pending invitation. Resend it from the list below if needed.", code="pending"
        )
    _refuse_over_member_limit(org)
    token = Invitation.new_token()
    with transaction.atomic():
        invitation = Invitation(org=org, email=email, role=role, invited_by=actor.user, expires_at=invitation_expiry())
        invitation.set_token(token)
        invitation.save()
        audit.record(A.INVITATION_SENT, request=request, actor=actor.user, org=org, target=email, role=role)
    _send_invitation_email(invitation, token, request)
    return invitation


def do_resend_invitation(actor: Membership, invitation: Invitation, *, request: HttpRequest | None = None) -> None:
    """A new link (the old one stops working), a new expiry, a new email."""
    _require(actor, Capability.MANAGE_INVITATIONS)
    if not invitation.is_pending:  # an expired invitation held no seat; resending takes one again
        _refuse_over_member_limit(actor.org)
    token = Invitation.new_token()
    with transaction.atomic():
        updated = (
            Invitation.objects.for_org(actor.org)
            .open()
            .filter(pk=invitation.pk)
            .update(token_hash=hash_token(token), expires_at=invitation_expiry(), sent_at=timezone.now())
        )
        if not updated:
            raise OrgActionError("This invitation was already accepted or revoked; it cannot be resent.", code="closed")
        invitation.refresh_from_db()
        audit.record(
            A.INVITATION_RESENT,
            request=request,
            actor=actor.user,
            org=actor.org,
            target=invitation.email,
            role=invitation.role,
        )
    _send_invitation_email(invitation, token, request)


def do_revoke_invitation(actor: Membership, invitation: Invitation, *, request: HttpRequest | None = None) -> None:
    _require(actor, Capability.MANAGE_INVITATIONS)
    with transaction.atomic():
        updated = (
            Invitation.objects.for_org(actor.org).open().filter(pk=invitation.pk).update(revoked_at=timezone.now())
        )
        if not updated:
            raise OrgActionError("This invitation was already accepted or revoked.", code="closed")
        invitation.refresh_from_db()
        audit.record(
            A.INVITATION_REVOKED,
            request=request,
            actor=actor.user,
            org=actor.org,
            target=invitation.email,
            role=invitation.role,
        )


def find_invitation(token: str) -> Invitation | None:
    """The invitation a link's token opens, whatever its state, or None. A global lookup on purpose:
    the token is the credential, and the invitee is not a member yet."""
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.unscoped().select_related("org", "invited_by").filter(token_hash=hash_token(token)).first()
    )


def invitation_problem(invitation: Invitation, user: User | None = None) -> str | None:
    """Why ``user`` cannot accept ``invitation`` now (a message), or None if they can."""
    status = invitation.status
    if status == Invitation.Status.ACCEPTED:
        return "This invitation has already been used."
    if status == Invitation.Status.REVOKED:
        return "This invitation was withdrawn by the organization."
    if status == Invitation.Status.EXPIRED:
        return "This invitation has expired."
    if (
        user is not None
        and not EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists()
    ):
        return f"This invitation was sent to {invitation.email}, but you are logged in as {user.email}."
    return None


def do_accept_invitation(invitation: Invitation, user: User, *, request: HttpRequest | None = None) -> Membership:
    """Join the organization with the invited role. The link works once, even under concurrent clicks."""
    problem = invitation_problem(invitation, user)
    if problem:
        raise OrgActionError(problem, code="invalid")
    now = timezone.now()
    with transaction.atomic():
        # The conditional update is the single-use guarantee: a racing second accept updates nothing.
        claimed = (
            Invitation.objects.unscoped().pending().filter(pk=invitation.pk).update(accepted_at=now, accepted_by=user)
        )
        if not claimed:
            raise OrgActionError("This invitation has already been used.", code="invalid")
        membership, created = Membership.objects.for_org(invitation.org).get_or_create(
            user=user, defaults={"role": invitation.role, "last_used_at": now}
        )
        if not created:
            membership.last_used_at = now
            membership.save(update_fields=["last_used_at"])
        audit.record(
            A.INVITATION_ACCEPTED,
            request=request,
            actor=user,
            org=invitation.org,
            target=invitation.email,
            role=invitation.role,
            already_member=not created,
        )
        if created:
            audit.record(
                A.MEMBER_JOINED,
                request=request,
                actor=user,
                org=invitation.org,
                target=user.email,
                role=membership.role,
            )
    invitation.accepted_at, invitation.accepted_by = now, user
    return membership


def accept_invitations_for_email(user: User, email: str, *, request: HttpRequest | None = None) -> list[Membership]:
    """Accept every pending invitation addressed to ``email``, a verified address of ``user``
    (after sign-up, when the address is confirmed). Returns the memberships joined."""
    joined = []
    for invitation in Invitation.objects.unscoped().pending().filter(email=email.strip().lower()).select_related("org"):
        try:
            joined.append(do_accept_invitation(invitation, user, request=request))
        except OrgActionError as exc:  # e.g. a concurrent accept: the others still go through
            logger.info("invitation %s not accepted: %s", invitation.pk, exc.code)
    return joined
