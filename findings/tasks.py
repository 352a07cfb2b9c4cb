"""Celery tasks of the findings engine. Each takes ids and is safe to run twice: an evaluation upserts
(a second run changes nothing) and one connection's evaluations are serialized by a row lock."""

from __future__ import annotations

from celery import shared_task

from connections.models import CloudConnection
from findings import lifecycle


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def evaluate_connection(connection_id: int) -> str:
    connection = CloudConnection.objects.unscoped().select_related("org").filter(pk=connection_id).first()
    if connection is None:
        return "missing"  # deleted since it was queued: its findings went with it
    summary = lifecycle.evaluate_connection(connection)
    return f"{summary.opened} opened, {summary.reopened} reopened, {summary.resolved} resolved"


@shared_task(ignore_result=True)
def expire_suppressions() -> int:
    return lifecycle.expire_suppressions()
