"""Celery tasks of connections. "Test connection" answers at once and the check runs here: it takes ids,
loads the connection itself and is safe to run twice (a second run is just another check)."""

from __future__ import annotations

from celery import shared_task

from connections import actions
from connections.models import CloudConnection


@shared_task(acks_late=True, ignore_result=True)
def check_connection(connection_id: int, user_id: int | None = None) -> str:
    from accounts.models import User

    connection = CloudConnection.objects.unscoped().filter(pk=connection_id).select_related("org").first()
    if connection is None:  # deleted since the test was asked for
        return "missing"
    user = User.objects.filter(pk=user_id).first() if user_id else None
    error = actions.record_check(connection, actor=user)
    return error.code if error else "ok"
