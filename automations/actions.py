"""Changes to automations, channels, suppressions and notification choices: atomic, audit-logged, shared
by views, commands and tests (ARCHITECTURE.md convention 4)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from automations import channels, engine, sending
from automations.models import Automation, Channel, EmailPreference, Suppression, Unsubscription
from billing.limits import LimitReached, ensure_within

A = AuditEvent.Action

AUTOMATION_FIELDS = (
    "name",
    "enabled",
    "trigger",
    "frequency",
    "hour",
    "weekday",
    "timezone",
    "action",
    "min_severity",
    "categories",
    "rule_ids",
    "send_when_empty",
)


class AutomationLimitReached(Exception):
    """The organization's plan allows no more automations; ``message`` says so and where to upgrade."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class DuplicateName(ValueError):
    pass


def _ensure_within_plan(org) -> None:
    """The plan's limit on automations (billing.limits), as a message for the form."""
    try:
        ensure_within(org, "automations")
    except LimitReached as refused:
        raise AutomationLimitReached(refused.message) from None


def _own(model, org, objects: Iterable[Any]) -> list:
    """Only the organization's own rows among ``objects`` (instances or ids), whatever the caller passed."""
    ids = [getattr(o, "pk", o) for o in objects or ()]
    return list(model.objects.for_org(org).filter(pk__in=ids)) if ids else []


def _set_m2m(automation: Automation, field: str, rows: list) -> None:
    # Through the M2M table: the related manager's query carries no organization (fail-closed manager).
    through = getattr(Automation, field).through
    target = "cloudconnection_id" if field == "connections" else "channel_id"
    through.objects.filter(automation_id=automation.pk).delete()
    through.objects.bulk_create([through(automation_id=automation.pk, **{target: row.pk}) for row in rows])


def _schedule(automation: Automation) -> None:
    now = timezone.now()
    automation.next_run_at = engine.first_slot(automation, now) if automation.enabled else None
    if automation.trigger == Automation.Trigger.AFTER_SCAN and automation.scans_since is None:
        automation.scans_since = now  # scans before it existed are not its business


def do_create_automation(
    org, *, user, connections: Iterable = (), channels: Iterable = (), request=None, **fields: Any
) -> Automation:
    from connections.models import CloudConnection

    _ensure_within_plan(org)
    now = timezone.now()
    automation = Automation(org=org, created_by=user, created_at=now, updated_at=now)
    for name in AUTOMATION_FIELDS:
        if name in fields:
            setattr(automation, name, fields[name])
    _schedule(automation)
    with transaction.atomic():
        automation.save()
        _set_m2m(automation, "connections", _own(CloudConnection, org, connections))
        _set_m2m(automation, "channels", _own(Channel, org, channels))
        audit.record(A.AUTOMATION_CREATED, request=request, actor=user, org=org, target=automation.name)
    return automation


def do_update_automation(
    automation: Automation, *, user, connections: Iterable = (), channels: Iterable = (), request=None, **fields: Any
) -> Automation:
    from connections.models import CloudConnection

    org = automation.org
    before = (automation.trigger, automation.frequency, automation.hour, automation.weekday, automation.timezone)
    for name in AUTOMATION_FIELDS:
        if name in fields:
            setattr(automation, name, fields[name])
    after = (automation.trigger, automation.frequency, automation.hour, automation.weekday, automation.timezone)
    if before != after or automation.next_run_at is None:
        _schedule(automation)
    if not automation.enabled:
        automation.next_run_at = None
    automation.updated_at = timezone.now()
    with transaction.atomic():
        automation.save()
        _set_m2m(automation, "connections", _own(CloudConnection, org, connections))
        _set_m2m(automation, "channels", _own(Channel, org, channels))
        audit.record(A.AUTOMATION_UPDATED, request=request, actor=user, org=org, target=automation.name)
    return automation


def do_set_automation_enabled(automation: Automation, enabled: bool, *, user, request=None) -> None:
    automation.enabled = enabled
    automation.next_run_at = engine.first_slot(automation, timezone.now()) if enabled else None
    if enabled and automation.trigger == Automation.Trigger.AFTER_SCAN:
        automation.scans_since = timezone.now()  # scans while it was paused are not summarized one by one
    automation.updated_at = timezone.now()
    with transaction.atomic():
        automation.save(update_fields=["enabled", "next_run_at", "scans_since", "updated_at"])
        action = A.AUTOMATION_ENABLED if enabled else A.AUTOMATION_PAUSED
        audit.record(action, request=request, actor=user, org=automation.org, target=automation.name)


def do_delete_automation(automation: Automation, *, user, request=None) -> None:
    with transaction.atomic():
        audit.record(A.AUTOMATION_DELETED, request=request, actor=user, org=automation.org, target=automation.name)
        automation.delete()


def do_run_now(automation: Automation, *, user, request=None):
    run = engine.run_now(automation, user=user)
    audit.record(A.AUTOMATION_RUN, request=request, actor=user, org=automation.org, target=automation.name)
    return run


def do_resend_failed(run, *, user, request=None) -> int:
    count = sending.resend_failed(run)
    if count:
        audit.record(
            A.AUTOMATION_RUN, request=request, actor=user, org=run.org, target=run.automation.name, resent=count
        )
    return count


# --- channels -----------------------------------------------------------------------------------------


@dataclass
class ChannelSaved:
    channel: Channel
    secret: str = ""  # a new webhook signing secret, to show once


def do_create_channel(org, *, user, kind: str, name: str, url: str = "", roles=(), member_ids=(), request=None):
    now = timezone.now()
    channel = Channel(org=org, kind=kind, name=name, created_by=user, created_at=now, updated_at=now)
    _apply_channel(channel, url=url, roles=roles, member_ids=member_ids)
    secret = ""
    if kind == Channel.Kind.WEBHOOK:
        secret = channels.new_secret(channel)
    try:
        with transaction.atomic():
            channel.save()
            audit.record(A.CHANNEL_CREATED, request=request, actor=user, org=org, target=name, kind=kind)
    except IntegrityError:
        raise DuplicateName(f"A channel named “{name}” already exists.") from None
    return ChannelSaved(channel, secret)


def do_update_channel(channel: Channel, *, user, name: str, url: str = "", roles=(), member_ids=(), request=None):
    channel.name = name
    _apply_channel(channel, url=url, roles=roles, member_ids=member_ids)
    channel.updated_at = timezone.now()
    try:
        with transaction.atomic():
            channel.save()
            audit.record(A.CHANNEL_UPDATED, request=request, actor=user, org=channel.org, target=name)
    except IntegrityError:
        raise DuplicateName(f"A channel named “{name}” already exists.") from None
    return ChannelSaved(channel)


def _apply_channel(channel: Channel, *, url: str, roles, member_ids) -> None:
    from orgs.models import Membership

    if channel.kind == Channel.Kind.EMAIL:
        channel.roles = sorted(set(roles or []))
        ids = [int(i) for i in member_ids or []]
        # Only people who are members now; the send checks again (they may leave).
        channel.member_ids = sorted(
            set(Membership.objects.for_org(channel.org_id).filter(user_id__in=ids).values_list("user_id", flat=True))
        )
    elif url:  # empty on edit: keep the stored URL
        channels.set_url(channel, url)


def do_rotate_secret(channel: Channel, *, user, request=None) -> str:
    secret = channels.new_secret(channel)
    channel.updated_at = timezone.now()
    with transaction.atomic():
        channel.save(update_fields=["encrypted_secret", "secret_created_at", "updated_at"])
        audit.record(A.CHANNEL_SECRET_ROTATED, request=request, actor=user, org=channel.org, target=channel.name)
    return secret


def do_delete_channel(channel: Channel, *, user, request=None) -> None:
    with transaction.atomic():
        audit.record(A.CHANNEL_DELETED, request=request, actor=user, org=channel.org, target=channel.name)
        channel.delete()


def do_send_test(channel: Channel, *, user, request=None):
    deliveries = sending.send_test(channel, user=user)
    audit.record(A.CHANNEL_TESTED, request=request, actor=user, org=channel.org, target=channel.name)
    return deliveries


# --- suppressions and people's choices ------------------------------------------------------------------


def do_clear_suppression(suppression: Suppression, *, user, org=None, request=None) -> None:
    with transaction.atomic():
        Suppression.objects.filter(pk=suppression.pk, cleared_at__isnull=True).update(
            cleared_at=timezone.now(), cleared_by=user
        )
        audit.record(A.EMAIL_SUPPRESSION_CLEARED, request=request, actor=user, org=org, target=suppression.address)


def do_unsubscribe(user, automation: Automation) -> bool:
    """True when this unsubscribed the person (False: they already were)."""
    _, created = Unsubscription.objects.for_org(automation.org_id).get_or_create(user=user, automation=automation)
    return created


def do_resubscribe(user, automation: Automation) -> None:
    Unsubscription.objects.for_org(automation.org_id).filter(user=user, automation=automation).delete()


def do_set_digest_emails(user, enabled: bool) -> None:
    EmailPreference.objects.update_or_create(user=user, defaults={"digests": enabled, "updated_at": timezone.now()})
