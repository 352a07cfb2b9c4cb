"""Where higher apps plug into a connection's life without connections importing them.

``after_create``: callables ``(request, connection) -> str | None`` registered in their AppConfig.ready,
run once a new connection is saved. The first URL one returns is where the person lands: the inventory
registers the connection's first scan, so a new connection opens on its scan's live progress.
A failing hook is logged and never undoes the connection (it is already saved).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

    from connections.models import CloudConnection

logger = logging.getLogger(__name__)

after_create: list[Callable[[HttpRequest, CloudConnection], str | None]] = []


def run_after_create(request: HttpRequest, connection: CloudConnection) -> str | None:
    landing = None
    for hook in list(after_create):
        try:
            url = hook(request, connection)
        except Exception:
            logger.exception("after_create hook %r failed for connection %s", hook, connection.pk)
            continue
        landing = landing or url
    return landing
