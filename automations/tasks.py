"""Celery tasks of automations. Each takes ids, is idempotent and safe to run twice or concurrently
(automations/engine.py says how): ``acks_late`` with ``reject_on_worker_lost``, so a task whose worker
died is delivered again and resumes where the database says it stopped."""

from __future__ import annotations

import logging

from celery import shared_task

from automations import engine, sending

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def tick() -> str:
    report = engine.tick()
    return f"{report.scheduled} scheduled, {report.after_scan} after scans, {report.scans_done} summarized, " \
        f"{report.recovered} recovered"  # fmt: skip


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, soft_time_limit=300, time_limit=360)
def run_automation(run_id: int) -> str:
    run = sending.execute_run(run_id)
    return run.status if run is not None else "missing"


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,  # bounded by AUTOMATIONS_DELIVERY_MAX_TRIES (sending.send_one)
    soft_time_limit=120,
    time_limit=150,
)
def send_delivery(self, delivery_id: int) -> str:
    result = sending.send_one(delivery_id)
    # Run in-process (eager: tests, or no broker), there is no worker to come back after the backoff:
    # the next tries follow at once, still bounded by AUTOMATIONS_DELIVERY_MAX_TRIES.
    while self.request.is_eager and result is not None and result.retry_in is not None:
        result = sending.send_one(delivery_id)
    if result is None:
        return "nothing to do"
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
    return result.status
