"""Celery tasks of the inventory. Each takes ids, loads what it needs (the organization comes with the
run), is idempotent and safe to run twice: a finished run is not run again, and one connection is never
synced by two workers at once (inventory/sync.py: SyncLock + one active run per connection).

A sync has a soft and a hard time limit (settings.SYNC_*_TIME_LIMIT), so one connection never holds a
worker for ever. The engine turns the soft limit into a failed run where it catches errors; anywhere
else it reaches this task, which fails the run itself rather than leave it "running" until reaped."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from inventory import actions, sync
from inventory.models import SyncRun

logger = logging.getLogger(__name__)


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
    try:
        run = sync.run_sync(run_id, connection_id=connection_id, task_id=self.request.id or "")
    except sync.SyncBusy as busy:
        # The same run is held by another worker (or one that just died): look again later.
        raise self.retry(countdown=busy.retry_after) from None
    except SoftTimeLimitExceeded:
        _fail_timed_out(run_id)
        return "time limit"
    return run.status if run is not None else "missing"


def _fail_timed_out(run_id: int) -> None:
    """Mark the run failed if it is still queued/running (not retried: it would time out again)."""
    now = timezone.now()
    message = f"The scan did not finish within its time limit ({settings.SYNC_SOFT_TIME_LIMIT}s); nothing was changed."
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
