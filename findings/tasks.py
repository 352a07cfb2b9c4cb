"""Celery tasks of the findings engine. Each takes ids and is safe to run twice: an evaluation upserts
(a second run changes nothing) and one connection's evaluations are serialized by a row lock.

An evaluation has a soft and a hard time limit (settings.EVALUATION_*_TIME_LIMIT): one slow rule set
never holds a worker other organizations' work waits for. At the soft limit the evaluation stops
before it writes (its transaction is rolled back or not begun), so findings stay as they were."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from connections.models import CloudConnection
from findings import lifecycle

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.EVALUATION_SOFT_TIME_LIMIT,
    time_limit=settings.EVALUATION_TIME_LIMIT,
)
def evaluate_connection(connection_id: int) -> str:
    """A full evaluation (after a rule, policy, baseline or suppression change, or on demand): every
    resource is judged again. After a sync the hook evaluates only what the sync changed."""
    connection = CloudConnection.objects.unscoped().select_related("org").filter(pk=connection_id).first()
    if connection is None:
        return "missing"  # deleted since it was queued: its findings went with it
    if connection.org.processing_paused:
        return "paused"  # the owner restricted processing: nothing is evaluated until they resume
    try:
        summary = lifecycle.evaluate_connection(connection)
    except SoftTimeLimitExceeded as exc:
        # Not retried: the same rules over the same inventory would run out of time again.
        notes = "; ".join(getattr(exc, "__notes__", ()))
        logger.error(
            "evaluation of connection %s (org %s) stopped at its %ss time limit%s; findings unchanged",
            connection.pk,
            connection.org_id,
            settings.EVALUATION_SOFT_TIME_LIMIT,
            f" ({notes})" if notes else "",
        )
        return "time limit"
    return f"{summary.opened} opened, {summary.reopened} reopened, {summary.resolved} resolved"


@shared_task(ignore_result=True)
def expire_suppressions() -> int:
    return lifecycle.expire_suppressions()
