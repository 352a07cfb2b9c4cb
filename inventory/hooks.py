"""Hooks run after a sync wrote the inventory (status succeeded or partial), outside its transaction.

The findings engine registers here::

    from inventory import hooks
    hooks.after_sync.append(evaluate_rules)   # called as evaluate_rules(run)

A failing hook is logged and never fails the sync (the inventory is already committed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inventory.models import SyncRun

logger = logging.getLogger(__name__)

after_sync: list[Callable[[SyncRun], None]] = []


def run_after_sync(run: SyncRun) -> None:
    for hook in list(after_sync):
        try:
            hook(run)
        except Exception:
            logger.exception("after_sync hook %r failed for sync run %s", hook, run.pk)
