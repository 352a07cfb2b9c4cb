"""Account deletion with a grace period (the right to erasure).

1. ``do_request_deletion``: the account is deactivated at once (no login, every session ended; its
   memberships stay, shown as "pending deletion"), and an email explains the grace period and gives a
   link to cancel. A sole owner is refused first: an organization is never left without an owner.
2. ``do_cancel_deletion``: the signed link from that email, within the grace period, restores the
   account as it was (nothing was removed yet).
3. ``purge_due_accounts`` (Celery beat): after the grace period the person is erased (erasure.py),
   leaving a tombstone: email address, Google account id, deletion time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts import audit
from accounts.mfa import end_other_sessions
from accounts.models import AuditEvent, User
from orgs.models import Membership, Organization
from privacy import mail
from privacy.models import DeletionRequest

logger = logging.getLogger(__name__)
A = AuditEvent.Action
CANCEL_SALT = "privacy.cancel-deletion"


class DeletionError(Exception):
    """The deletion cannot be requested; the message says why, for the person who asked."""

    def __init__(self, message: str, code: str, orgs: list[Organization] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.orgs = orgs or []


class CancelLinkProblem(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def grace_period() -> timedelta:
    return timedelta(days=settings.ACCOUNT_DELETION_GRACE_DAYS)


def _day(moment) -> str:
    return date_format(timezone.localtime(moment), "DATE_FORMAT")


def pending_request(user) -> DeletionRequest | None:
    return DeletionRequest.objects.filter(user=user).first()


def sole_owner_orgs(user, *, lock: bool = False) -> list[Organization]:
    """The organizations ``user`` owns where no other active person is an owner. ``lock`` locks their
    owners' rows (inside a transaction): two co-owners asking at once cannot both leave."""
    orgs = []
    for membership in Membership.objects.for_user(user).owners().select_related("org"):
        owners = Membership.objects.for_org(membership.org).owners()
        if lock:
            owners = owners.select_for_update()
            list(owners)
        if not owners.exclude(user=user).filter(user__is_active=True).exists():
            orgs.append(membership.org)
    return orgs


def sole_owner_message(orgs: list[Organization]) -> str:
    names = ", ".join(org.name for org in orgs)
    return (
        f"You are the only owner of {names}. Before you delete your account, make another member an owner "
        "(Members → Transfer ownership) or delete the organization, so that it is never left without an owner."
    )


def cancel_token(deletion: DeletionRequest) -> str:
    return signing.dumps({"u": deletion.user_id, "n": deletion.nonce}, salt=CANCEL_SALT)


def cancel_url(deletion: DeletionRequest) -> str:
    return mail.absolute(reverse("privacy:restore_account", kwargs={"restore_token": cancel_token(deletion)}))


def do_request_deletion(request: HttpRequest, user: User) -> DeletionRequest:
    """Deactivate ``user`` now and schedule the purge. Ends every session, this one included."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)  # one request at a time per account
        existing = pending_request(user)
        if existing is not None:
            raise DeletionError(
                f"Your account is already scheduled for deletion on {_day(existing.purge_after)}.", code="pending"
            )
        blocked = sole_owner_orgs(user, lock=True)
        if blocked:
            raise DeletionError(sole_owner_message(blocked), code="sole_owner", orgs=blocked)
        now = timezone.now()
        deletion = DeletionRequest.objects.create(user=user, requested_at=now, purge_after=now + grace_period())
        User.objects.filter(pk=user.pk).update(is_active=False)
        audit.record(
            A.ACCOUNT_DELETION_REQUESTED, request=request, actor=user, purge_after=deletion.purge_after.isoformat()
        )
    end_other_sessions(request, user)
    logout(request)
    send_deletion_email(deletion)
    return deletion


def send_deletion_email(deletion: DeletionRequest) -> bool:
    context = {
        "purge_after": deletion.purge_after,
        "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
        "cancel_url": cancel_url(deletion),
        "contact_url": mail.absolute(reverse("privacy:contact")),
    }
    try:
        mail.send("privacy/email/deletion_scheduled", deletion.user.email, context, tz=deletion.user.timezone)
    except Exception:  # the deletion stands; the person can ask for the link again (restore page)
        logger.exception("the deletion email of user %s could not be sent", deletion.user_id)
        return False
    return True


def deletion_for_token(token: str) -> DeletionRequest:
    """The pending deletion a cancel link names, or CancelLinkProblem (404 damaged, 410 over)."""
    try:
        payload = signing.loads(token, salt=CANCEL_SALT, max_age=grace_period())
    except signing.SignatureExpired:
        raise CancelLinkProblem("This link has expired: the grace period is over.", 410) from None
    except signing.BadSignature:
        raise CancelLinkProblem("This link is not valid. Check that it was copied whole.", 404) from None
    if not isinstance(payload, dict):
        raise CancelLinkProblem("This link is not valid. Check that it was copied whole.", 404)
    deletion = (
        DeletionRequest.objects.select_related("user").filter(user_id=payload.get("u"), nonce=payload.get("n")).first()
    )
    if deletion is None:
        raise CancelLinkProblem(
            "There is no deletion to cancel: it was already cancelled, or the account was deleted.", 410
        )
    return deletion


def do_cancel_deletion(request: HttpRequest, token: str) -> User:
    """Restore the account the link names: active again, everything as it was."""
    with transaction.atomic():
        deletion = deletion_for_token(token)
        deletion = DeletionRequest.objects.select_for_update().filter(pk=deletion.pk).select_related("user").first()
        if deletion is None:  # purged or cancelled a moment ago
            raise CancelLinkProblem("There is no deletion to cancel any more.", 410)
        user = deletion.user
        deletion.delete()
        User.objects.filter(pk=user.pk).update(is_active=True)
        audit.record(A.ACCOUNT_DELETION_CANCELLED, request=request, actor=user)
    return user


def do_resend_cancel_link(email: str) -> bool:
    """Email the cancel link again to the address of an account pending deletion. Returns whether one
    was sent; the page says the same thing either way (no account enumeration)."""
    deletion = DeletionRequest.objects.select_related("user").filter(user__email__iexact=email.strip()).first()
    return send_deletion_email(deletion) if deletion is not None else False


def purge_due_accounts(now=None) -> int:
    """Erase every account whose grace period is over. Returns how many were purged."""
    from privacy import erasure

    now = now or timezone.now()
    purged = 0
    for user_id in DeletionRequest.objects.filter(purge_after__lte=now).values_list("user_id", flat=True):
        try:
            if erasure.purge_user(user_id, now=now) is not None:
                purged += 1
        except Exception:  # one account's failure must not hold the others back; it is retried next run
            logger.exception("purge of user %s failed", user_id)
    return purged
