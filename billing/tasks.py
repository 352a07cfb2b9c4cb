"""Billing's daily tasks (celery beat, settings.CELERY_BEAT_SCHEDULE). Each fans out one task per
organization or account, by id; each is idempotent and safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from billing import dunning, retention
from orgs.models import Organization

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def prune_history() -> int:
    org_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    for org_id in org_ids:
        prune_org_history.delay(org_id)
    return len(org_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def prune_org_history(org_id: int) -> dict[str, int]:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return {}
    return retention.prune_org(org)


@shared_task(acks_late=True, ignore_result=True)
def end_grace_periods() -> int:
    account_ids = list(dunning.grace_expired().values_list("pk", flat=True))
    for account_id in account_ids:
        end_grace_period.delay(account_id)
    return len(account_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def end_grace_period(account_id: int) -> bool:
    return dunning.end_grace_period(account_id)
