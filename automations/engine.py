"""When automations fire (``tick``, every minute from Celery beat, and right after every scan through
inventory's ``after_sync`` hook):

- a scheduled automation whose ``next_run_at`` passed fires once for that slot, then moves to its next
  slot (slots missed while workers were down are not replayed one by one: the next summary covers the
  whole gap anyway);
- an "after each scan" automation fires once per finished scan (any outcome) of its connections;
- a run that started scans waits for all of them to finish (or for a deadline), then summarizes.

``AutomationRun`` is unique per (automation, key) — "schedule:<slot>", "scan:<sync run id>" — so two beat
ticks racing, a retried task or the hook and the tick together create one run, never two. What a run
then sends, exactly once, is ``automations/sending.py``. A paused or deleted automation never fires
again, and a paused organization's automations are skipped (the skip is recorded as a run). The tick
also picks up work whose task was lost (``recover``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from automations import schedule, sending
from automations.digest import DigestFilters
from automations.models import Automation, AutomationRun, Delivery

logger = logging.getLogger(__name__)
R = AutomationRun.Status
S = Delivery.Status
A = Automation

STALLED_RUN = timedelta(minutes=10)  # a queued run untouched for this long lost its task
AFTER_SCAN_WINDOW = timedelta(days=1)  # how far back the tick looks for finished scans not yet summarized


def scans_timeout() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "SYNC_TIME_LIMIT", 3720)) + 600)


# --- firing -----------------------------------------------------------------------------------------


@dataclass
class TickReport:
    scheduled: int = 0
    after_scan: int = 0
    scans_done: int = 0
    recovered: int = 0


def tick(now: datetime | None = None) -> TickReport:
    now = now or timezone.now()
    report = TickReport()
    report.scheduled = len(fire_due_schedules(now))
    report.after_scan = len(fire_after_scans(now))
    report.scans_done = advance_scanning_runs(now)
    report.recovered = recover(now)
    return report


def first_slot(automation: Automation, now: datetime) -> datetime | None:
    if automation.trigger != A.Trigger.SCHEDULE:
        return None
    return schedule.next_slot(
        now, frequency=automation.frequency, hour=automation.hour, weekday=automation.weekday, tz=automation.timezone
    )


def fire_due_schedules(now: datetime) -> list[AutomationRun]:
    due = (
        Automation.objects.unscoped()  # the scheduler works across organizations on purpose
        .filter(trigger=A.Trigger.SCHEDULE, enabled=True, next_run_at__lte=now)
        .select_related("org")
        .order_by("next_run_at", "id")
    )
    started = []
    for automation in due:
        slot = automation.next_run_at
        run = start_run(automation, key=f"schedule:{slot.isoformat()}", reason=_slot_reason(automation, slot), now=now)
        # Move on to the next slot only from the slot we read (a racing tick moved it already).
        Automation.objects.unscoped().filter(pk=automation.pk, next_run_at=slot).update(
            next_run_at=first_slot(automation, now), last_run_at=now
        )
        if run is not None:
            started.append(run)
    return started


def _slot_reason(automation: Automation, slot: datetime) -> str:
    from automations.render import local

    return f"Scheduled for {local(slot, automation.timezone):%Y-%m-%d %H:%M} ({automation.timezone})"


def fire_after_scans(now: datetime, *, org_id: int | None = None) -> list[AutomationRun]:
    """One run per scan finished (any outcome) since the automation was created or resumed (at most
    ``AFTER_SCAN_WINDOW`` back), skipping the scans it already fired for. No moving watermark: a scan
    whose transaction commits late, after a later one was seen, is not missed."""
    from inventory.models import SyncRun

    automations = Automation.objects.unscoped().filter(trigger=A.Trigger.AFTER_SCAN, enabled=True)
    if org_id is not None:
        automations = automations.filter(org_id=org_id)
    started = []
    for automation in automations.select_related("org").order_by("id"):
        since = max(automation.scans_since or automation.created_at, now - AFTER_SCAN_WINDOW)
        runs = SyncRun.objects.for_org(automation.org_id).filter(finished_at__gt=since, finished_at__lte=now)
        runs = runs.exclude(status__in=list(SyncRun.ACTIVE))
        scope = DigestFilters.of(automation).connection_ids
        if scope is not None:
            runs = runs.filter(connection_id__in=scope)
        fired = set(
            AutomationRun.objects.for_org(automation.org_id)
            .filter(automation=automation, key__startswith="scan:", created_at__gte=since)
            .values_list("key", flat=True)
        )
        for sync_run_id, connection_name in runs.order_by("finished_at", "id").values_list("pk", "connection__name"):
            key = f"scan:{sync_run_id}"
            if key in fired:
                continue
            run = start_run(automation, key=key, reason=f"After scan #{sync_run_id} of {connection_name}", now=now)
            if run is not None:
                started.append(run)
                Automation.objects.unscoped().filter(pk=automation.pk).update(last_run_at=now)
    return started


def on_scan_finished(sync_run) -> None:
    """inventory's ``after_sync`` hook (after the findings engine's): the scan's automations fire now
    rather than at the next tick. Scans that failed reach them through the tick."""
    now = timezone.now()
    fire_after_scans(now, org_id=sync_run.org_id)
    advance_scanning_runs(now, org_id=sync_run.org_id)


def start_run(automation: Automation, *, key: str, reason: str, now: datetime | None = None) -> AutomationRun | None:
    """Create the run for ``key`` (None when it exists already: it fired once) and set it going: start
    its scans, or queue its summary. A paused organization's run is recorded as skipped."""
    now = now or timezone.now()
    org = automation.org
    try:
        with transaction.atomic():
            run = AutomationRun.objects.for_org(org).create(
                automation=automation, key=key[:100], reason=reason[:200], created_at=now, updated_at=now
            )
            if org.processing_paused:
                sending.finish_run(run, R.SKIPPED, "Processing is paused for the organization.", now)
                return run
            if automation.scans:
                _start_scans(run, automation, now)
    except IntegrityError:
        return None  # this automation already fired for this key
    if run.status == R.QUEUED:
        transaction.on_commit(lambda: queue_run(run.pk))
    return run


def _start_scans(run: AutomationRun, automation: Automation, now: datetime) -> None:
    from connections.models import CloudConnection
    from inventory.actions import SyncNotAllowed, do_start_sync
    from inventory.models import SyncRun

    connections = CloudConnection.objects.for_org(automation.org_id)
    scope = DigestFilters.of(automation).connection_ids
    if scope is not None:
        connections = connections.filter(pk__in=scope)
    started, refused = [], []
    for connection in connections.order_by("name", "id"):
        try:
            sync_run, _ = do_start_sync(connection, trigger=SyncRun.Trigger.SCHEDULE)
        except SyncNotAllowed as exc:
            refused.append(f"{connection.name}: {exc}")
            continue
        started.append(sync_run.pk)
    run.sync_run_ids = started
    run.note = "\n".join(f"Not scanned — {r}" for r in refused)
    if started:
        run.status = R.SCANNING
        run.scans_deadline = now + scans_timeout()
    run.save(update_fields=["sync_run_ids", "note", "status", "scans_deadline"])


def queue_run(run_id: int) -> None:
    from automations.tasks import run_automation

    try:
        run_automation.delay(run_id)
    except Exception:
        # The broker is down: the run stays queued and the tick queues it again (recover).
        logger.exception("could not queue automation run %s", run_id)


def advance_scanning_runs(now: datetime, *, org_id: int | None = None) -> int:
    """Runs whose scans all finished (or ran out of time) go on to summarize."""
    from inventory.models import SyncRun

    waiting = AutomationRun.objects.unscoped().filter(status=R.SCANNING)
    if org_id is not None:
        waiting = waiting.filter(org_id=org_id)
    moved = 0
    for run in waiting.order_by("id"):
        active = (
            SyncRun.objects.for_org(run.org_id)
            .filter(pk__in=run.sync_run_ids, status__in=list(SyncRun.ACTIVE))
            .exists()
        )
        late = run.scans_deadline is not None and run.scans_deadline <= now
        if active and not late:
            continue
        note = (run.note + "\n" if run.note else "") + ("Summarized before every scan finished." if active else "")
        if (
            AutomationRun.objects.unscoped()
            .filter(pk=run.pk, status=R.SCANNING)
            .update(status=R.QUEUED, updated_at=now, note=note.strip())
        ):
            moved += 1
            queue_run(run.pk)
    return moved


def recover(now: datetime) -> int:
    """Work whose task was lost: queued runs nobody picked up, deliveries whose retry task vanished or
    whose worker died while sending. Each is queued again (claims make that safe)."""
    from automations.tasks import send_delivery

    count = 0
    stalled = AutomationRun.objects.unscoped().filter(status=R.QUEUED, updated_at__lt=now - STALLED_RUN)
    for run_id in stalled.values_list("pk", flat=True):
        AutomationRun.objects.unscoped().filter(pk=run_id).update(updated_at=now)
        queue_run(run_id)
        count += 1
    lost = Delivery.objects.unscoped().filter(
        Q(status=S.PENDING, updated_at__lt=now - STALLED_RUN)
        | Q(status=S.RETRYING, next_attempt_at__lt=now - STALLED_RUN, updated_at__lt=now - STALLED_RUN)
        | Q(status=S.SENDING, claimed_at__lt=now - sending.CLAIM_LEASE),
        run__isnull=False,
    )
    for delivery_id in list(lost.values_list("pk", flat=True)):
        # Touched so the next ticks leave it to this new task for a while.
        Delivery.objects.unscoped().filter(pk=delivery_id).update(updated_at=now)
        sending.enqueue(send_delivery, delivery_id)
        count += 1
    busy = AutomationRun.objects.unscoped().filter(status=R.SENDING, updated_at__lt=now - STALLED_RUN)
    for run_id in busy.values_list("pk", flat=True):
        sending.finish_if_done(run_id, now)
    return count


# --- on demand ------------------------------------------------------------------------------------------


def run_now(automation: Automation, *, user=None) -> AutomationRun | None:
    """A member's "Run now": a run of its own key, otherwise like any other."""
    who = user.get_short_name() if user is not None else "someone"
    return start_run(automation, key=f"manual:{uuid.uuid4().hex}", reason=f"Run now by {who}")
