"""Without Redis, the demo runs a real Celery worker on kombu's filesystem transport (CELERY_BROKER_FOLDER):
"Test connection" answers before the check runs, and the worker records it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from connections.models import CloudConnection
from tests.celery_pools import forget_broker_connections
from tests.factories import CloudConnectionFactory, MembershipFactory, OrganizationFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _setting(name: str, **env: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
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


def test_a_broker_folder_turns_off_eager_tasks_and_shares_a_file_cache(tmp_path):
    folder = str(tmp_path / "celery")
    assert _setting("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_FOLDER=folder) == "False"
    assert _setting("CELERY_BROKER_URL", CELERY_BROKER_FOLDER=folder) == "filesystem://"
    assert "FileBasedCache" in _setting("CACHES['default']['BACKEND']", CELERY_BROKER_FOLDER=folder)
    # Redis wins when both are set.
    assert _setting("CELERY_BROKER_URL", CELERY_BROKER_FOLDER=folder, REDIS_URL="redis://127.0.0.1:6379/9") == (
        "redis://127.0.0.1:6379/9"
    )


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_filesystem_transport_runs_the_connection_test(tmp_path, monkeypatch):
    import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping, which start_worker pings)
    from celery.contrib.testing.worker import start_worker

    from cloustral.celery import app
    from connections.providers import aws as aws_provider
    from connections.providers.base import CheckResult

    queue = tmp_path / "queue"
    queue.mkdir()
    monkeypatch.setattr(
        aws_provider,
        "check",
        lambda creds, **k: CheckResult(account_id="123456789012", display_name="", regions=["eu-west-1"]),
    )
    owner = UserFactory()
    org = OrganizationFactory()
    MembershipFactory(user=owner, org=org, role="owner")
    conn = CloudConnectionFactory(org=org, status="pending")
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
        c = Client()
        c.force_login(owner)
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            started = time.monotonic()
            response = c.post(reverse("connections:test", args=[org.slug, conn.pk]))
            assert response.status_code == 302
            # The request answered with the check still to run (or barely started by the worker).
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                conn.refresh_from_db()
                if conn.status == "verified":
                    break
                time.sleep(0.2)
        assert conn.status == CloudConnection.Status.VERIFIED, "the worker never recorded the check"
        assert time.monotonic() - started < 20
    finally:
        app.conf.update(saved)
        forget_broker_connections(app)
