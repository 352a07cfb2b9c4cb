"""Celery tasks of the privacy app. Each takes ids (or nothing), is idempotent and safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from privacy import contact, deletion, exports


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.EXPORT_SOFT_TIME_LIMIT,
    time_limit=settings.EXPORT_SOFT_TIME_LIMIT + 120,
)
def build_export(job_id: int) -> str:
    return exports.build(job_id)


@shared_task(acks_late=True, ignore_result=True)
def expire_exports() -> int:
    return exports.expire_exports()


@shared_task(acks_late=True, ignore_result=True)
def purge_due_accounts() -> int:
    return deletion.purge_due_accounts()


@shared_task(acks_late=True, ignore_result=True)
def retry_contact_deliveries() -> int:
    return contact.retry_failed_deliveries()
