"""A new connection's first scan starts by itself: registered into ``connections.hooks.after_create``
(inventory sits above connections, so connections cannot call it directly). The person lands on the
scan's live progress page."""

from __future__ import annotations

from django.urls import reverse

from inventory import actions
from inventory.models import SyncRun


def start_first_scan(request, connection) -> str | None:
    try:
        run, _ = actions.do_start_sync(connection, trigger=SyncRun.Trigger.MANUAL, user=request.user)
    except actions.SyncNotAllowed:  # e.g. a provider without inventory yet: stay on the connection's page
        return None
    return reverse("inventory:run_detail", kwargs={"org_slug": connection.org.slug, "run_id": run.pk})


def register() -> None:
    from connections import hooks

    if start_first_scan not in hooks.after_create:
        hooks.after_create.append(start_first_scan)
