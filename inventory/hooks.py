"""Hooks run after a sync wrote the inventory (status succeeded or partial), outside its transaction.

The findings engine registers here::

    from inventory import hooks
    hooks.after_sync.append(evaluate_rules)   # called as evaluate_rules(run)

The run carries ``run.inventory_delta``: what that write changed (an ``InventoryDelta``), or None when it
is not known (a hook called for an older run, or by hand), in which case a hook must assume anything may
have changed. A failing hook is logged and never fails the sync (the inventory is already committed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inventory.models import SyncRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InventoryDelta:
    """What one sync's write changed in its connection's inventory."""

    run_id: int
    changed_ids: frozenset[int]  # resources created, modified or with refreshed volatile values
    created_ids: frozenset[int]  # the created ones among them
    deleted_native_ids: frozenset[str]  # resources deleted (their rows are gone)
    relinked_ids: frozenset[int]  # both ends of every relationship added or removed

    @property
    def empty(self) -> bool:
        return not (self.changed_ids or self.deleted_native_ids or self.relinked_ids)


after_sync: list[Callable[[SyncRun], None]] = []


def run_after_sync(run: SyncRun, delta: InventoryDelta | None = None) -> None:
    run.inventory_delta = delta if delta is not None and delta.run_id == run.pk else None
    for hook in list(after_sync):
        try:
            hook(run)
        except Exception:
            logger.exception("after_sync hook %r failed for sync run %s", hook, run.pk)
