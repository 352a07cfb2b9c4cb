"""History kept by plan: scan runs, change events, finding events and daily counts older than the
plan's ``history_days`` are deleted by a daily task, in batches.

Billing sits below the apps that own that history, so they register what may be pruned here, in their
``AppConfig.ready``::

    from billing.retention import register_prunable
    register_prunable("inventory.ResourceChange", lambda org, cutoff: ResourceChange.objects.for_org(org)
                      .filter(created_at__lt=cutoff), order=10)

A prunable returns the org's rows older than ``cutoff`` that are safe to delete: never the current
inventory, never a finding itself, never what the product needs to read the present (the last
inventory-writing run of a connection, its latest daily counts). Lower ``order`` goes first (children
before the rows they cascade from).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from billing.limits import limits_for

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000


@dataclass(frozen=True)
class Prunable:
    label: str
    rows: Callable[[object, datetime], QuerySet]
    order: int = 100


_prunables: dict[str, Prunable] = {}


def register_prunable(label: str, rows: Callable[[object, datetime], QuerySet], *, order: int = 100) -> None:
    _prunables[label] = Prunable(label=label, rows=rows, order=order)


def prunables() -> list[Prunable]:
    return sorted(_prunables.values(), key=lambda p: (p.order, p.label))


def cutoff_for(org, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=limits_for(org).history_days)


def delete_in_batches(queryset: QuerySet, batch_size: int = BATCH_SIZE) -> int:
    """Delete ``queryset``'s rows a batch of primary keys at a time (short transactions, bounded locks)."""
    deleted = 0
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        # The ids came from the org's scoped query; the base manager only deletes exactly those.
        queryset.model._base_manager.filter(pk__in=ids).delete()
        deleted += len(ids)
        if len(ids) < batch_size:
            return deleted


def prune_org(org, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Prune ``org``'s history older than its plan keeps. Returns {label: rows deleted}."""
    cutoff = cutoff_for(org, now)
    counts: dict[str, int] = {}
    for prunable in prunables():
        counts[prunable.label] = delete_in_batches(prunable.rows(org, cutoff), batch_size)
    if any(counts.values()):
        logger.info("retention: org %s, before %s: %s", org.pk, cutoff.date(), counts)
    return counts
