"""Celery: eager in-process without Redis; a real worker on Redis when REDIS_URL is set (CI)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.celery_pools import forget_broker_connections

ROOT = Path(__file__).resolve().parents[1]


def celery_setting(name: str, **env: str) -> str:
    code = f"import django; django.setup(); from cloustral.celery import app; print(app.conf.{name})"
    base = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "cloustral.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_redis_tasks_run_eagerly():
    assert celery_setting("task_always_eager") == "True"


def test_with_redis_tasks_go_to_the_broker():
    assert celery_setting("task_always_eager", REDIS_URL="redis://127.0.0.1:6379/0") == "False"
    assert celery_setting("broker_url", REDIS_URL="redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI runs it against Redis)")
def test_a_real_worker_runs_tasks_through_redis():
    import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping)
    from celery.contrib.testing.worker import start_worker

    from cloustral.celery import app

    forget_broker_connections(app)  # other tests start workers on other brokers
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=10):
            result = app.send_task("celery.ping")
            assert result.get(timeout=20) == "pong"
    finally:
        app.conf.task_always_eager = True
