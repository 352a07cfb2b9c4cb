"""An automation end to end through a real Celery worker on Redis (CI runs it with REDIS_URL; locally:
``REDIS_URL=redis://127.0.0.1:6379/3 /tmp/qt tests/automations/test_worker.py``): the beat's tick
fires a due schedule, the worker builds the summary and sends it by email and to a webhook that fails
once, whose retry waits its backoff in the broker before it succeeds."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from automations import actions, engine
from automations.models import Automation, AutomationRun, Delivery
from findings.models import FindingEvent
from tests.celery_pools import forget_broker_connections
from tests.factories import CloudConnectionFactory, FindingFactory, ResourceFactory

REAL_WORKER = True  # tests/automations/conftest.py: no eager Celery here

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI runs it against Redis)"),
    pytest.mark.django_db(transaction=True),
]


def wait_for(predicate, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


def test_an_automation_runs_through_a_real_worker(org, owner, http_server, settings):
    import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping for the worker's ping check)
    from celery.contrib.testing.worker import start_worker

    from cloustral.celery import app

    settings.AUTOMATIONS_RETRY_BASE_SECONDS = 1
    http_server.answers = [503]
    conn = CloudConnectionFactory(org=org, name="Prod")
    f = FindingFactory(resource=ResourceFactory(connection=conn), severity="critical", title="Root keys in use")
    FindingEvent.objects.for_org(org).create(finding=f, kind=FindingEvent.Kind.OPENED)
    email = actions.do_create_channel(org, user=owner, kind="email", name="Owners", roles=["owner"]).channel
    hook = actions.do_create_channel(org, user=owner, kind="webhook", name="Hook", url=http_server.url).channel
    automation = actions.do_create_automation(org, user=owner, name="Nightly", channels=[email, hook])
    Automation.objects.for_org(org).filter(pk=automation.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    forget_broker_connections(app)  # other tests start workers on other brokers
    try:
        with start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=20):
            report = engine.tick()  # what beat's "automations-tick" does: the run goes to the broker
            assert report.scheduled == 1
            run = AutomationRun.objects.for_org(org).get(automation=automation)
            wait_for(lambda: AutomationRun.objects.for_org(org).filter(pk=run.pk, status="sent").exists())
    finally:
        app.conf.task_always_eager = previous

    run.refresh_from_db()
    assert run.digest["new"]["critical"] == 1
    deliveries = {d.kind: d for d in Delivery.objects.for_org(org).filter(run=run)}
    assert deliveries["email"].status == "sent" and deliveries["webhook"].status == "sent"
    assert deliveries["webhook"].attempts == 2  # 503, then the retry after its backoff
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "Root keys in use" in mail.outbox[0].body
    assert [r.json()["type"] for r in http_server.received] == ["digest", "digest"]
