"""Starting, joining, cancelling and scheduling syncs: shared by views, tasks and commands.
The engine itself is ``inventory/sync.py``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from billing import limits
from connections.models import SCAN_INTERVALS, CloudConnection
from inventory import sync
from inventory.models import SyncRun
from orgs.models import Organization

logger = logging.getLogger(__name__)
S = SyncRun.Status
# enqueue_due_syncs runs every 5 minutes: a run is due that much early rather than up to 5 minutes late.
SCHEDULE_TOLERANCE = timedelta(minutes=2, seconds=30)


class SyncNotAllowed(Exception):
    """The connection cannot be scanned now; the message says why, for the person who asked."""


def active_run(connection: CloudConnection) -> SyncRun | None:
    return SyncRun.objects.for_org(connection.org_id).filter(connection=connection, status__in=SyncRun.ACTIVE).first()


def paused(connection: CloudConnection) -> bool:
    """An owner paused the organization's processing (privacy app); read afresh, not from a cached org."""
    return Organization.objects.filter(pk=connection.org_id, processing_paused_at__isnull=False).exists()


def check_can_sync(connection: CloudConnection) -> None:
    if paused(connection):
        raise SyncNotAllowed(
            "Processing of this organization is paused: no scans until an owner resumes it (Team → Data & privacy)."
        )
    if not connection.enabled:
        raise SyncNotAllowed("This connection is disabled: enable it to scan it.")
    if not sync.provider_supported(connection.provider):
        raise SyncNotAllowed(f"{connection.get_provider_display()} inventory is not available yet.")
    if connection.status != CloudConnection.Status.VERIFIED:
        raise SyncNotAllowed("Test the connection successfully before scanning it.")


def do_start_sync(
    connection: CloudConnection, *, trigger: str = SyncRun.Trigger.MANUAL, user=None, enqueue: bool = True
) -> tuple[SyncRun, bool]:
    """Queue a sync of ``connection``, or join the one already queued or running.

    Returns ``(run, started)``: ``started`` is False when an active run was joined. Raises
    SyncNotAllowed for a connection that cannot be scanned. The task is sent once the transaction
    commits (``enqueue=False`` leaves running it to the caller, e.g. a command that runs it in-process).
    """
    check_can_sync(connection)
    existing = active_run(connection)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            run = SyncRun.objects.for_org(connection.org_id).create(
                connection=connection, trigger=trigger, triggered_by=user
            )
    except IntegrityError:  # another request queued one in between (one_active_sync_per_connection)
        existing = active_run(connection)
        if existing is None:
            raise
        return existing, False
    if enqueue:
        transaction.on_commit(lambda: send_sync_task(run))
    return run, True


def send_sync_task(run: SyncRun) -> None:
    """Queue the task. If the broker cannot take it, the run fails at once rather than sit "queued"
    (and block the connection's next scans) until the reaper's timeout."""
    from inventory.tasks import sync_connection

    try:
        sync_connection.apply_async(args=[run.connection_id, run.pk])
    except Exception:
        logger.exception("could not queue sync run %s", run.pk)
        SyncRun.objects.for_org(run.org_id).filter(pk=run.pk, status=S.QUEUED).update(
            status=S.FAILED,
            finished_at=timezone.now(),
            errors=[{"type": "", "region": "", "code": "queue_unavailable", "message": "Could not queue the scan."}],
        )


def do_request_cancel(run: SyncRun, user=None) -> bool:
    """Ask a queued or running sync to stop. It stops between collectors (and at its next API call)
    and writes nothing. Returns False when the run is already over."""
    runs = SyncRun.objects.for_org(run.org_id).filter(pk=run.pk, status__in=SyncRun.ACTIVE)
    if not runs.update(cancel_requested=True, cancel_requested_by=user):
        return False
    cache.set(sync.cancel_key(run.pk), True, timeout=24 * 3600)
    # A run no worker has started yet has nothing to stop: it is cancelled at once.
    now = timezone.now()
    SyncRun.objects.for_org(run.org_id).filter(pk=run.pk, status=S.QUEUED).update(status=S.CANCELLED, finished_at=now)
    run.refresh_from_db()
    return True


def due_connections(now: datetime | None = None) -> list[CloudConnection]:
    """Enabled, verified connections of a supported provider whose scan frequency says a scan is due."""
    now = now or timezone.now()
    providers = [p for p in CloudConnection.Provider.values if sync.provider_supported(p)]
    candidates = (
        CloudConnection.objects.unscoped()  # the scheduler works across organizations on purpose
        .filter(enabled=True, status=CloudConnection.Status.VERIFIED, provider__in=providers)
        .filter(org__processing_paused_at__isnull=True)  # paused organizations are not scanned
        .exclude(scan_frequency=CloudConnection.ScanFrequency.MANUAL)
        .annotate(last_run_at=Max("sync_runs__created_at"))
        .select_related("org")
        .order_by("id")
    )
    due = []
    frequency_by_org: dict[tuple[int, str], str] = {}  # the plan's fastest frequency applies (billing)
    for connection in candidates:
        key = (connection.org_id, connection.scan_frequency)
        if key not in frequency_by_org:
            frequency_by_org[key] = limits.scheduled_frequency(connection.org, connection.scan_frequency)
        interval = SCAN_INTERVALS.get(frequency_by_org[key])
        if interval is None:
            continue
        if connection.last_run_at is None or connection.last_run_at + interval <= now + SCHEDULE_TOLERANCE:
            due.append(connection)
    return due


def enqueue_due_syncs(now: datetime | None = None) -> list[SyncRun]:
    started = []
    for connection in due_connections(now):
        try:
            run, created = do_start_sync(connection, trigger=SyncRun.Trigger.SCHEDULE)
        except SyncNotAllowed:
            continue
        if created:
            started.append(run)
    if started:
        logger.info("queued %s scheduled syncs", len(started))
    return started
