"""Celery tasks of the inventory. Each takes ids, loads what it needs (the organization comes with the
run), is idempotent and safe to run twice: a finished run is not run again, and one connection is never
synced by two workers at once (inventory/sync.py: SyncLock + one active run per connection)."""

from __future__ import annotations

from celery import shared_task

from inventory import actions, sync


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True, max_retries=6)
def sync_connection(self, connection_id: int, run_id: int) -> str:
    try:
        run = sync.run_sync(run_id, connection_id=connection_id, task_id=self.request.id or "")
    except sync.SyncBusy as busy:
        # The same run is held by another worker (or one that just died): look again later.
        raise self.retry(countdown=busy.retry_after) from None
    return run.status if run is not None else "missing"


@shared_task(ignore_result=True)
def enqueue_due_syncs() -> int:
    return len(actions.enqueue_due_syncs())


@shared_task(ignore_result=True)
def reap_stale_runs() -> int:
    return sync.reap_stale_runs()
