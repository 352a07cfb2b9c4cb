"""The purge of an account after its grace period: nothing of the person remains but a tombstone.

In one transaction, for a user whose deletion is due (and was not cancelled meanwhile):

- an organization they still solely own (possible only through a race since the request) passes to
  its longest-serving remaining member, by role; one with no other member is deleted with its data;
- their personal audit events are deleted, and organizations' events about them are kept without
  them (no account, address, IP or browser: "a deleted user");
- invitations sent to their addresses, their contact requests, exports (files too) and sessions go;
- admin log entries about the account go;
- the user row goes, and with it (cascade) email addresses, Google links, MFA devices, recovery
  codes, memberships, consent records and analytics events; rows other people own keep no link
  (``SET_NULL``: the rule they wrote stays the organization's);
- a ``Tombstone`` per address: the address, the Google account id, the time.

- in every other table, a row whose address column (an email field, or a text column named like
  ``email``, ``address`` or ``recipient``) holds one of the person's addresses goes: a delivery log
  entry, a bounce, whatever apps added since keep about an address.

An app that mentions a person's address elsewhere (inside free text or JSON) scrubs it in a
``pre_delete`` receiver for ``accounts.User``; tests/privacy/test_purge.py scans every table for
what is left.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent, User
from orgs.models import Invitation, Membership, Organization
from orgs.roles import Role
from privacy.models import ContactRequest, DeletionRequest, ExportJob, Tombstone
from privacy.sessions import end_all_sessions

logger = logging.getLogger(__name__)
A = AuditEvent.Action
DELETED_USER = "a deleted user"


def purge_user(user_id: int, *, now=None) -> list[Tombstone] | None:
    """Erase user ``user_id`` if their deletion is due. Returns their tombstones, or None when there
    is nothing to do (cancelled, not due yet, already purged): safe to run twice."""
    now = now or timezone.now()
    with transaction.atomic():
        deletion = (
            DeletionRequest.objects.select_for_update()
            .select_related("user")
            .filter(user_id=user_id, purge_after__lte=now)
            .first()
        )
        if deletion is None:
            return None
        user = deletion.user
        addresses = _addresses(user)
        google_ids = list(SocialAccount.objects.filter(user=user, provider="google").values_list("uid", flat=True))
        _hand_over_organizations(user)
        _scrub_audit_events(user, addresses)
        Invitation.objects.unscoped().filter(email__in=addresses).delete()
        ContactRequest.objects.filter(Q(user=user) | Q(email__in=addresses)).delete()
        for job in ExportJob.objects.for_user(user):
            job.delete()  # post_delete removes the file
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)).delete()
        _erase_address_rows(addresses)
        end_all_sessions(user, include_expired=True)
        primary = user.email.lower()
        user.delete()
        tombstones = [
            Tombstone.objects.create(
                email=address, google_id=(google_ids[0] if google_ids and address == primary else ""), deleted_at=now
            )
            for address in [primary, *sorted(addresses - {primary})]
        ]
        audit.record(A.ACCOUNT_PURGED, tombstone=tombstones[0].pk)
    logger.info("purged user %s (tombstone %s)", user_id, tombstones[0].pk)
    return tombstones


def _addresses(user: User) -> set[str]:
    found = {user.email.lower()}
    found |= {e.lower() for e in EmailAddress.objects.filter(user=user).values_list("email", flat=True)}
    return found


def _hand_over_organizations(user: User) -> None:
    """Never leave an organization without an owner (the request refused a sole owner; this covers a
    race since): the next member by role, then seniority, becomes owner; an org with nobody left goes."""
    rank = Case(*[When(role=r.value, then=Value(i)) for i, r in enumerate(Role)], output_field=IntegerField())
    for membership in Membership.objects.for_user(user).owners().select_related("org"):
        org = membership.org
        others = Membership.objects.for_org(org).exclude(user=user).select_for_update()
        if others.owners().exists():
            continue
        heir = others.filter(user__is_active=True).annotate(rank=rank).order_by("rank", "created_at", "id").first()
        heir = heir or others.annotate(rank=rank).order_by("rank", "created_at", "id").first()
        if heir is None:
            audit.record(A.ORG_DELETED, org_id=org.pk, slug=org.slug, reason="its only member's account was deleted")
            Organization.objects.filter(pk=org.pk).delete()
            continue
        old_role = heir.role
        Membership.objects.for_org(org).filter(pk=heir.pk).update(role=Role.OWNER)
        audit.record(
            A.OWNERSHIP_TRANSFERRED,
            org=org,
            target=heir.user.email,
            old_role=old_role,
            reason="the previous owner's account was deleted",
        )


def _scrub_audit_events(user: User, addresses: set[str]) -> None:
    about = Q(actor=user) | Q(actor_email__in=addresses)
    for address in addresses:
        about |= Q(metadata__icontains=address)
    events = AuditEvent.objects.filter(about)
    # Their own account's history goes; an organization's log keeps the event, without the person.
    events.filter(org__isnull=True).delete()
    for event in events.filter(org__isnull=False).iterator():
        event.actor = None
        event.actor_email = ""
        event.ip = None
        event.user_agent = ""
        event.metadata = _without(event.metadata, addresses)
        event.save(update_fields=["actor", "actor_email", "ip", "user_agent", "metadata"])


def _without(value: Any, addresses: set[str]) -> Any:
    """``value`` (JSON) with every string that mentions one of ``addresses`` replaced."""
    if isinstance(value, dict):
        return {k: _without(v, addresses) for k, v in value.items()}
    if isinstance(value, list):
        return [_without(v, addresses) for v in value]
    if isinstance(value, str) and any(a in value.lower() for a in addresses):
        return DELETED_USER
    return value


ADDRESS_COLUMN = re.compile(r"email|address|recipient", re.I)
# Handled above (or kept on purpose: the tombstone).
HANDLED = (User, AuditEvent, Tombstone)


def _address_columns(model: type[models.Model]) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if not f.is_relation
        and (isinstance(f, models.EmailField) or (isinstance(f, models.CharField) and ADDRESS_COLUMN.search(f.name)))
    ]


def _erase_address_rows(addresses: set[str]) -> None:
    for model in apps.get_models():
        if issubclass(model, HANDLED) or model._meta.proxy:
            continue
        columns = _address_columns(model)
        if not columns:
            continue
        match = Q()
        for column in columns:
            for address in addresses:
                match |= Q(**{f"{column}__iexact": address})
        # The base manager: every row, whatever a scoped default manager would ask first.
        deleted, _ = model._base_manager.filter(match).delete()
        if deleted:
            logger.info("purge: %s row(s) of %s held the address", deleted, model._meta.label)
