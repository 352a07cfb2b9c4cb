"""Celery tasks of the inventory. Each takes ids, loads what it needs (the organization comes with the
run), is idempotent and safe to run twice: a finished run is not run again, and one connection is never
synced by two workers at once (inventory/sync.py: SyncLock + one active run per connection).

A sync has a soft and a hard time limit (settings.SYNC_*_TIME_LIMIT), so one connection never holds a
worker for ever. The engine turns the soft limit into a failed run where it catches errors; anywhere
else it reaches this task, which fails the run itself rather than leave it "running" until reaped.

Fair share: a scan takes one of its organization's slots (inventory/slots.py) before it runs; when they
are all taken it queues itself again a little later instead of holding the worker.

A killed worker: the task is acknowledged only once it ends (acks_late). A prefork child that dies has its
task requeued at once (reject_on_worker_lost); a whole worker that dies leaves it to Redis, which delivers
it again after the visibility timeout (settings.CELERY_VISIBILITY_TIMEOUT). Either way the run is found
"running" with a silent heartbeat: its worker is lost, and the run starts again from the beginning (it
wrote nothing: the write is one transaction), at most SYNC_MAX_RESTARTS times, then it is failed. A run
whose task never comes back is failed by ``reap_stale_runs``."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from inventory import actions, slots, sync
from inventory.models import SyncRun

logger = logging.getLogger(__name__)
S = SyncRun.Status
S_ACTIVE = list(SyncRun.ACTIVE)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=6,
    soft_time_limit=settings.SYNC_SOFT_TIME_LIMIT,
    time_limit=settings.SYNC_TIME_LIMIT,
)
def sync_connection(self, connection_id: int, run_id: int) -> str:
    slot = None
    if not self.request.is_eager:  # eager: it runs in the caller, there is no worker pool to share
        slot = org_slot(connection_id, run_id)
        if slot is not None and not slot.acquire():
            wait_for_slot(connection_id, run_id)
            return "waiting for a slot"
    try:
        with slot.kept() if slot is not None else nullcontext():  # released however the sync ends
            if lost_worker_restarts_exhausted(run_id, connection_id):
                return S.FAILED
            run = sync.run_sync(run_id, connection_id=connection_id, task_id=self.request.id or "")
    except sync.SyncBusy as busy:
        # The same run is held by another worker, alive or just dead: look again once a dead one would show.
        raise self.retry(countdown=min(busy.retry_after, lost_after_seconds() + 5)) from None
    except SoftTimeLimitExceeded:
        _fail_timed_out(run_id)
        return "time limit"
    return run.status if run is not None else "missing"


# --- fair share between organizations ----------------------------------------------------------------


def org_slot(connection_id: int, run_id: int) -> slots.OrgSlot | None:
    """The slot a run needs (None for a run that is over or missing: the engine has nothing to do)."""
    active = SyncRun.objects.unscoped().filter(pk=run_id, connection_id=connection_id, status__in=S_ACTIVE)
    org_id = active.values_list("org_id", flat=True).first()
    return slots.OrgSlot(org_id, run_id) if org_id is not None else None


def wait_for_slot(connection_id: int, run_id: int) -> None:
    """Queue the task again a little later. The queued run's heartbeat says it is still wanted, so the
    reaper's queued timeout counts from the last look, not from when it was queued."""
    SyncRun.objects.unscoped().filter(pk=run_id, status=S.QUEUED).update(heartbeat_at=timezone.now())
    sync_connection.apply_async(args=[connection_id, run_id], countdown=slots.retry_countdown())
    logger.info("sync run %s waits for a slot of its organization", run_id)


# --- a worker lost mid-run ---------------------------------------------------------------------------


def lost_after_seconds() -> int:
    """A running sync beats every SYNC_HEARTBEAT_SECONDS; this long without one, its worker is gone."""
    return 6 * settings.SYNC_HEARTBEAT_SECONDS


def restarts_key(run_id: int) -> str:
    return f"inventory:sync-restarts:{run_id}"


def lost_worker_restarts_exhausted(run_id: int, connection_id: int) -> bool:
    """A run delivered again while "running" with a silent heartbeat lost its worker (killed, out of
    memory, host gone). It starts again: its lock, left behind by the dead worker, is dropped. After
    SYNC_MAX_RESTARTS such restarts (a scan that kills its worker every time) the run is failed instead.
    Returns True when the run was failed here."""
    silent_since = timezone.now() - timedelta(seconds=lost_after_seconds())
    lost = SyncRun.objects.unscoped().filter(
        pk=run_id, connection_id=connection_id, status=S.RUNNING, heartbeat_at__lt=silent_since
    )
    if not lost.exists():
        return False
    cache.add(restarts_key(run_id), 0, timeout=7 * 24 * 3600)
    restarts = cache.incr(restarts_key(run_id))
    if restarts > settings.SYNC_MAX_RESTARTS:
        message = (
            f"The scan's worker was lost {restarts} times (stopped or out of memory) and the scan was "
            f"abandoned; {_what_was_kept(run_id)}"
        )
        lost.update(
            status=S.FAILED,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            errors=[{"type": "", "region": "", "code": "worker_lost", "message": message}],
        )
        logger.error("sync run %s: worker lost %s times, failed", run_id, restarts)
        return True
    if cache.get(sync.lock_key(connection_id)) == run_id:
        cache.delete(sync.lock_key(connection_id))
    logger.warning("sync run %s: its worker was lost; starting it again (restart %s)", run_id, restarts)
    return False


def _what_was_kept(run_id: int) -> str:
    """What a run that stopped half-way left behind: nothing, or the parts of its write it committed."""
    parts = sync.saved_parts(run_id)
    if not parts:
        return "nothing was changed."
    return (
        f"{parts} part{'s' if parts != 1 else ''} of its inventory write {'were' if parts != 1 else 'was'} saved "
        "and kept; the next scan completes it."
    )


def _fail_timed_out(run_id: int) -> None:
    """Mark the run failed if it is still queued/running (not retried: it would time out again)."""
    now = timezone.now()
    message = (
        f"The scan did not finish within its time limit ({settings.SYNC_SOFT_TIME_LIMIT}s); {_what_was_kept(run_id)}"
    )
    failed = (
        SyncRun.objects.unscoped()
        .filter(pk=run_id, status__in=list(SyncRun.ACTIVE))
        .update(
            status=SyncRun.Status.FAILED,
            finished_at=now,
            heartbeat_at=now,
            errors=[{"type": "", "region": "", "code": "time_limit", "message": message}],
        )
    )
    logger.error(
        "sync run %s stopped at its %ss time limit (marked failed: %s)",
        run_id,
        settings.SYNC_SOFT_TIME_LIMIT,
        bool(failed),
    )


@shared_task(ignore_result=True)
def enqueue_due_syncs() -> int:
    return len(actions.enqueue_due_syncs())


@shared_task(ignore_result=True)
def reap_stale_runs() -> int:
    return sync.reap_stale_runs()
