"""A real Celery worker for browser tests, on kombu's filesystem transport (as the demo runs without
Redis): requests queue their tasks and answer at once, the worker thread runs them against the same test
database, and the pages follow the progress as a person would see it.

Use it as a fixture: ``from tests.browser.worker import celery_worker  # noqa: F401``.
"""

from __future__ import annotations

import pytest

from tests.celery_pools import forget_broker_connections


@pytest.fixture
def celery_worker(tmp_path, transactional_db):
    import celery.contrib.testing.tasks  # noqa: F401  (celery.ping, which start_worker may ping)
    from celery.contrib.testing.worker import start_worker

    from cloustral.celery import app

    queue = tmp_path / "celery-queue"
    queue.mkdir()
    saved = {k: app.conf[k] for k in ("broker_url", "broker_transport_options", "task_always_eager")}
    app.conf.update(
        broker_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "control_folder": str(queue.parent / "control"),
        },
        task_always_eager=False,
    )
    forget_broker_connections(app)
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        app.conf.update(saved)
        forget_broker_connections(app)
