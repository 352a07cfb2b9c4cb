"""How a run's summary reaches every recipient exactly once.

- The digest is built once per run, under a lock of the automation row (periods tile: each starts where
  the previous summary ended), stored on the run, and with it one ``Delivery`` per (channel, recipient),
  unique per run.
- A delivery is claimed by a conditional update before it is sent, so two workers never send it twice;
  a retry (of the task or of the run) sends only deliveries not sent yet. A worker that dies after
  claiming leaves the delivery "sending": after ``CLAIM_LEASE`` the tick sends it again (receivers can
  dedupe on the delivery id, the same on every attempt).
- Failures that may pass (5xx, timeouts) are retried with exponential backoff, a bounded number of times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from automations import channels
from automations.digest import Digest, DigestFilters, build_digest
from automations.models import Automation, AutomationRun, Channel, Delivery

logger = logging.getLogger(__name__)
R = AutomationRun.Status
S = Delivery.Status
A = Automation

CLAIM_LEASE = timedelta(minutes=10)  # a delivery "sending" for longer than this was lost with its worker
LOOKBACK = {A.Frequency.DAILY: timedelta(days=1), A.Frequency.WEEKLY: timedelta(days=7)}


def max_tries() -> int:
    return int(getattr(settings, "AUTOMATIONS_DELIVERY_MAX_TRIES", 5))


def backoff(attempt: int) -> int:
    """Seconds before try ``attempt + 1``: base, 2×base, 4×base … (attempt counts from 1)."""
    base = int(getattr(settings, "AUTOMATIONS_RETRY_BASE_SECONDS", 30))
    return base * 2 ** max(0, attempt - 1)


# --- the summary and its deliveries -------------------------------------------------------------------


def enqueue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:
        logger.exception("could not queue %s%s", task.name, args)


def finish_run(run: AutomationRun, status: str, note: str, now: datetime) -> None:
    run.status = status
    run.note = (run.note + "\n" + note).strip() if note and run.note else (note or run.note)
    run.finished_at = now
    run.updated_at = now
    run.save(update_fields=["status", "note", "finished_at", "updated_at"])


def previous_period_end(automation: Automation, exclude_run: int | None = None) -> datetime | None:
    runs = AutomationRun.objects.for_org(automation.org_id).filter(automation=automation, period_end__isnull=False)
    if exclude_run is not None:
        runs = runs.exclude(pk=exclude_run)
    return runs.aggregate(end=Max("period_end"))["end"]


def lookback(automation: Automation) -> timedelta:
    """How far back the first summary looks: a day, or a week for a weekly schedule."""
    if automation.trigger == A.Trigger.SCHEDULE:
        return LOOKBACK.get(automation.frequency, timedelta(days=1))
    return timedelta(days=1)


def execute_run(run_id: int, now: datetime | None = None) -> AutomationRun | None:
    """Build the run's summary once and create its deliveries, then send those not sent yet. Safe to
    call any number of times, concurrently too."""
    now = now or timezone.now()
    with transaction.atomic():
        run = (
            AutomationRun.objects.unscoped()
            .select_for_update(no_key=True, of=("self",))
            .select_related("automation", "org")
            .filter(pk=run_id)
            .first()
        )
        if run is None or run.is_final or run.status == R.SCANNING:
            return run
        automation = run.automation
        if run.digest is None:
            # One period per automation at a time: its row is the lock, so periods tile exactly (and it is
            # read again under the lock: paused a moment ago is paused).
            automation = Automation.objects.unscoped().select_for_update(no_key=True).get(pk=automation.pk)
            if run.org.processing_paused:
                finish_run(run, R.SKIPPED, "Processing is paused for the organization.", now)
                return run
            if not automation.enabled:
                finish_run(run, R.SKIPPED, "The automation was paused before it ran.", now)
                return run
            start = previous_period_end(automation, exclude_run=run.pk) or now - lookback(automation)
            start = min(start, now)
            digest = build_digest(run.org, DigestFilters.of(automation), start, now)
            run.digest = digest.to_dict()
            run.period_start, run.period_end = start, now
            if digest.is_empty and not automation.send_when_empty:
                run.status = R.EMPTY
                run.finished_at = now
            else:
                run.status = R.SENDING
                _create_deliveries(run, automation, digest, now)
            run.updated_at = now
            run.save(
                update_fields=["digest", "period_start", "period_end", "status", "note", "finished_at", "updated_at"]
            )
    if run.status == R.SENDING:
        dispatch(run)
    return run


def channels_of(automation: Automation) -> list[Channel]:
    return list(Channel.objects.for_org(automation.org_id).filter(automations=automation).order_by("name", "id"))


def _create_deliveries(run: AutomationRun, automation: Automation, digest: Digest, now: datetime) -> None:
    from automations.render import subject

    title = subject(digest, automation.name)
    rows = []
    for channel in channels_of(automation):
        kind = Delivery.Kind(channel.kind)
        for recipient, user_id in channels.targets(channel, automation):
            rows.append(
                Delivery(
                    org_id=run.org_id,
                    automation=automation,
                    automation_name=automation.name,
                    run=run,
                    channel=channel,
                    channel_name=channel.name,
                    user_id=user_id,
                    kind=kind,
                    category=Delivery.Category.DIGEST,
                    recipient=recipient[:254],
                    subject=title if kind == Delivery.Kind.EMAIL else "",
                    created_at=now,
                    updated_at=now,
                )
            )
    # ignore_conflicts: a delivery the run already has (unique per run, channel, recipient) is kept as is.
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    if not rows:
        run.note = (
            run.note + "\n" if run.note else ""
        ) + "No recipient: the automation has no channel with recipients."


def dispatch(run: AutomationRun) -> None:
    """Queue a send for each delivery of the run not sent yet; close the run when none is left."""
    from automations.tasks import send_delivery

    unsent = Delivery.objects.for_org(run.org_id).filter(run=run, status__in=[S.PENDING, S.RETRYING])
    ids = list(unsent.values_list("pk", flat=True))
    for delivery_id in ids:
        enqueue(send_delivery, delivery_id)
    finish_if_done(run.pk)


def claim(delivery_id: int, now: datetime) -> Delivery | None:
    """Take the delivery for sending (None: sent, final, or being sent by another worker)."""
    claimable = Q(status__in=[S.PENDING, S.RETRYING]) | Q(status=S.SENDING, claimed_at__lt=now - CLAIM_LEASE)
    taken = (
        Delivery.objects.unscoped()
        .filter(claimable, pk=delivery_id)
        .update(status=S.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now)
    )
    if not taken:
        return None
    return Delivery.objects.unscoped().select_related("run", "channel", "automation").get(pk=delivery_id)


@dataclass(frozen=True)
class SendResult:
    status: str
    retry_in: int | None = None  # seconds, when it will be tried again


def send_one(delivery_id: int, now: datetime | None = None) -> SendResult | None:
    """One attempt at one delivery of a run (None: nothing to do). Retryable failures come back with the
    backoff before the next try; after ``max_tries`` the delivery fails for good."""
    now = now or timezone.now()
    delivery = claim(delivery_id, now)
    if delivery is None:
        return None
    run, channel = delivery.run, delivery.channel
    if run is None or channel is None or delivery.automation_id is None or run.digest is None:
        # The automation, its run or the channel was deleted meanwhile: it never fires again.
        _save(delivery, channels.Outcome(S.SKIPPED, error="The automation or the channel was deleted."), now)
        if run is not None:
            finish_if_done(run.pk, now)
        return SendResult(S.SKIPPED)
    automation = delivery.automation
    content = channels.Content(
        digest=Digest.from_dict(run.digest),
        automation_id=automation.pk,
        automation_name=automation.name,
        tz=automation.timezone,
    )
    outcome = channels.send(delivery, channel, content)
    retry_in = None
    if outcome.status == S.FAILED and outcome.retryable and delivery.attempts < max_tries():
        retry_in = backoff(delivery.attempts)
        outcome = channels.Outcome(S.RETRYING, True, outcome.error, outcome.provider_message_id, outcome.http_status)
    _save(delivery, outcome, now, next_attempt_at=now + timedelta(seconds=retry_in) if retry_in else None)
    finish_if_done(run.pk, now)
    return SendResult(outcome.status, retry_in)


def _save(delivery: Delivery, outcome: channels.Outcome, now: datetime, *, next_attempt_at=None) -> None:
    delivery.status = outcome.status
    delivery.error = outcome.error[:2000]
    delivery.http_status = outcome.http_status
    delivery.provider_message_id = (outcome.provider_message_id or delivery.provider_message_id)[:255]
    delivery.next_attempt_at = next_attempt_at
    delivery.sent_at = now if outcome.status == S.SENT else delivery.sent_at
    delivery.updated_at = now
    delivery.save(
        update_fields=[
            "status",
            "error",
            "http_status",
            "provider_message_id",
            "next_attempt_at",
            "sent_at",
            "updated_at",
        ]
    )


def finish_if_done(run_id: int, now: datetime | None = None) -> None:
    """Close a sending run once each of its deliveries is final: sent, partly sent, or failed."""
    now = now or timezone.now()
    run = AutomationRun.objects.unscoped().filter(pk=run_id, status=R.SENDING).first()
    if run is None:
        return
    statuses = list(Delivery.objects.for_org(run.org_id).filter(run=run).values_list("status", flat=True))
    if any(s in Delivery.UNSENT for s in statuses):
        return
    delivered = sum(1 for s in statuses if s in (S.SENT, S.BOUNCED, S.COMPLAINED))
    failed = sum(1 for s in statuses if s in (S.FAILED, S.REJECTED))
    if failed and delivered:
        status = R.PARTIAL
    elif failed:
        status = R.FAILED
    else:
        status = R.SENT
    AutomationRun.objects.unscoped().filter(pk=run_id, status=R.SENDING).update(
        status=status, finished_at=now, updated_at=now
    )


def send_test(channel: Channel, *, user=None, now: datetime | None = None) -> list[Delivery]:
    """Send the organization's summary as it would be now (the last day) through ``channel``, once,
    synchronously; each attempt is recorded as a test delivery."""
    now = now or timezone.now()
    org = channel.org
    digest = build_digest(org, DigestFilters(), now - timedelta(days=1), now)
    tz = getattr(user, "timezone", "") or "UTC"
    content = channels.Content(digest=digest, automation_id=None, automation_name="Test", tz=tz, test=True)
    from automations.render import subject

    deliveries = []
    for recipient, user_id in channels.targets(channel):
        delivery = Delivery.objects.for_org(org).create(
            channel=channel,
            channel_name=channel.name,
            user_id=user_id,
            kind=Delivery.Kind(channel.kind),
            category=Delivery.Category.TEST,
            recipient=recipient[:254],
            subject=subject(digest, "Test", test=True) if channel.kind == Channel.Kind.EMAIL else "",
            status=S.SENDING,
            attempts=1,
            claimed_at=now,
            created_at=now,
            updated_at=now,
        )
        outcome = channels.send(delivery, channel, content)
        _save(delivery, outcome, now)
        deliveries.append(delivery)
    return deliveries


def resend_failed(run: AutomationRun, now: datetime | None = None) -> int:
    """A member's "Send again": the run's failed deliveries (never received) get a fresh set of tries.
    Those sent, bounced or suppressed are left alone. Returns how many go again."""
    now = now or timezone.now()
    again = (
        Delivery.objects.for_org(run.org_id)
        .filter(run=run, status=S.FAILED)
        .update(status=S.PENDING, attempts=0, error="", http_status=None, next_attempt_at=None, updated_at=now)
    )
    if again:
        AutomationRun.objects.for_org(run.org_id).filter(pk=run.pk).update(
            status=R.SENDING, finished_at=None, updated_at=now
        )
        run.refresh_from_db()
        dispatch(run)
    return again
