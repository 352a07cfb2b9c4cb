"""Each trigger and each action, end to end in-process (eager Celery): a schedule or a finished scan fires
the automation, it scans (or not), builds the summary of the period since its previous one and emails
it; a quiet period sends nothing unless asked; a paused organization's automations are skipped and the
skip is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from automations import engine, sending
from automations.models import Automation, AutomationRun, Delivery
from inventory.models import SyncRun
from orgs.models import Organization
from tests.automations.conftest import make_automation
from tests.factories import FindingFactory, ResourceFactory
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import sync_now

aws, cloud, connection = helpers.aws, helpers.cloud, helpers.connection

R = AutomationRun.Status
VOLUME = "aws.ec2.volume"


def open_finding(conn, **fields):
    """A finding opened now, with its "opened" event (what the findings engine writes)."""
    from findings.models import FindingEvent

    f = FindingFactory(resource=ResourceFactory(connection=conn), **fields)
    FindingEvent.objects.for_org(conn.org).create(finding=f, kind=FindingEvent.Kind.OPENED)
    return f


def make_due(automation: Automation) -> None:
    Automation.objects.for_org(automation.org).filter(pk=automation.pk).update(
        next_run_at=timezone.now() - timedelta(seconds=5)
    )


@pytest.mark.django_db
def test_schedule_trigger_sends_the_summary(
    org, owner, member, conn, email_channel, django_capture_on_commit_callbacks
):
    automation = make_automation(org, owner, channels=[email_channel], min_severity="high")
    open_finding(conn, severity="critical", title="Bucket is public")
    open_finding(conn, severity="low", title="Below the filter")
    make_due(automation)

    with django_capture_on_commit_callbacks(execute=True):
        report = engine.tick()
    assert report.scheduled == 1

    run = AutomationRun.objects.for_org(org).get(automation=automation)
    assert run.status == R.SENT and run.key.startswith("schedule:")
    assert run.digest["new"]["critical"] == 1 and sum(run.digest["new"].values()) == 1
    assert run.period_end - run.period_start == timedelta(days=1)  # a daily automation's first look-back
    [message] = mail.outbox
    assert message.to == ["owner@example.com"]  # the "Owners" channel: owners only, not the member
    assert "Bucket is public" in message.body and "Below the filter" not in message.body
    delivery = Delivery.objects.for_org(org).get(run=run)
    assert (delivery.status, delivery.kind, delivery.recipient) == ("sent", "email", "owner@example.com")
    automation.refresh_from_db()
    assert automation.next_run_at > timezone.now() and automation.last_run_at is not None


@pytest.mark.django_db
def test_summarize_covers_only_what_changed_since_the_previous_summary(
    org, owner, conn, email_channel, django_capture_on_commit_callbacks
):
    automation = make_automation(org, owner, channels=[email_channel])
    open_finding(conn, title="First finding")
    with django_capture_on_commit_callbacks(execute=True):
        first = engine.run_now(automation, user=owner)
    first.refresh_from_db()
    assert first.status == R.SENT and "First finding" in mail.outbox[-1].body

    open_finding(conn, title="Second finding")
    with django_capture_on_commit_callbacks(execute=True):
        second = engine.run_now(automation, user=owner)
    second.refresh_from_db()
    assert second.period_start == first.period_end  # periods tile: no gap, no overlap
    body = mail.outbox[-1].body
    assert "Second finding" in body and "First finding" not in body
    assert second.digest["new"]["high"] == 1


@pytest.mark.django_db
def test_nothing_new_sends_nothing_unless_asked(org, owner, conn, email_channel, django_capture_on_commit_callbacks):
    quiet = make_automation(org, owner, name="Quiet", channels=[email_channel])
    chatty = make_automation(org, owner, name="Chatty", channels=[email_channel], send_when_empty=True)
    with django_capture_on_commit_callbacks(execute=True):
        quiet_run = engine.run_now(quiet)
        chatty_run = engine.run_now(chatty)
    quiet_run.refresh_from_db()
    chatty_run.refresh_from_db()
    assert quiet_run.status == R.EMPTY and not Delivery.objects.for_org(org).filter(run=quiet_run).exists()
    assert chatty_run.status == R.SENT
    [message] = mail.outbox
    assert "No changes" in message.subject and "Chatty" in message.subject


@pytest.mark.django_db
def test_a_paused_organization_skips_and_records_it(
    org, owner, conn, email_channel, django_capture_on_commit_callbacks
):
    automation = make_automation(org, owner, channels=[email_channel], send_when_empty=True)
    make_due(automation)
    Organization.objects.filter(pk=org.pk).update(processing_paused_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        engine.tick()
    run = AutomationRun.objects.for_org(org).get(automation=automation)
    assert run.status == R.SKIPPED and "paused" in run.note
    assert mail.outbox == [] and not Delivery.objects.for_org(org).exists()

    # Paused after the run was queued, before it ran: skipped too.
    Organization.objects.filter(pk=org.pk).update(processing_paused_at=None)
    with django_capture_on_commit_callbacks(execute=False):
        queued = engine.run_now(automation)
    Organization.objects.filter(pk=org.pk).update(processing_paused_at=timezone.now())
    sending.execute_run(queued.pk)
    queued.refresh_from_db()
    assert queued.status == R.SKIPPED and mail.outbox == []


@pytest.mark.django_db
def test_an_automation_paused_after_it_was_queued_does_not_send(
    org, owner, conn, email_channel, django_capture_on_commit_callbacks
):
    automation = make_automation(org, owner, channels=[email_channel], send_when_empty=True)
    with django_capture_on_commit_callbacks(execute=False):
        run = engine.run_now(automation)
    Automation.objects.for_org(org).filter(pk=automation.pk).update(enabled=False)
    sending.execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == R.SKIPPED and mail.outbox == []


def test_after_each_scan_fires_for_its_connections(cloud, connection, owner, django_capture_on_commit_callbacks):
    from automations import actions

    org = connection.org  # owned by ``owner``
    channel = actions.do_create_channel(org, user=owner, kind="email", name="Owners", roles=["owner"]).channel
    automation = make_automation(
        org, owner, trigger="after_scan", connections=[connection], channels=[channel], send_when_empty=True
    )
    cloud.register("ec2.volume")
    cloud.add(
        VOLUME,
        "eu-west-1",
        "vol-1",
        config={"state": "available", "size_gb": 10, "volume_type": "gp3", "encrypted": True},
    )

    with django_capture_on_commit_callbacks(execute=True):
        sync_run = sync_now(connection)  # the after_sync hook fires it at once
    run = AutomationRun.objects.for_org(org).get(automation=automation)
    assert run.key == f"scan:{sync_run.pk}" and run.status == R.SENT
    assert "EBS volume is not attached" in mail.outbox[-1].body

    # A scan that fails writes nothing (no hook): the tick catches it, once.
    cloud.fail[("aws.ec2.volume", "eu-west-1")] = RuntimeError("boom")
    for full_type in ("aws.fake.vpc", "aws.fake.instance"):
        for region in helpers.REGIONS:
            cloud.fail[(full_type, region)] = RuntimeError("boom")
    cloud.fail[("aws.fake.user", "global")] = RuntimeError("boom")
    cloud.fail[("aws.ec2.volume", "us-east-1")] = RuntimeError("boom")
    failed = sync_now(connection)
    assert failed.status == SyncRun.Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        engine.tick(timezone.now() + timedelta(seconds=1))
        engine.tick(timezone.now() + timedelta(seconds=2))
    runs = AutomationRun.objects.for_org(org).filter(automation=automation).order_by("id")
    assert [r.key for r in runs] == [f"scan:{sync_run.pk}", f"scan:{failed.pk}"]
    assert runs[1].digest["scans_failed_total"] == 1
    assert "failed" in mail.outbox[-1].body.lower()


def test_scan_then_summarize_waits_for_its_scans(cloud, connection, owner, django_capture_on_commit_callbacks):
    from automations import actions

    org = connection.org  # owned by ``owner``
    channel = actions.do_create_channel(org, user=owner, kind="email", name="Owners", roles=["owner"]).channel
    automation = make_automation(org, owner, action="scan_and_summarize", connections=[connection], channels=[channel])
    cloud.register("ec2.volume")
    cloud.add(
        VOLUME,
        "eu-west-1",
        "vol-1",
        config={"state": "available", "size_gb": 10, "volume_type": "gp3", "encrypted": True},
    )

    # Without the scans' tasks running, the run waits for them.
    with django_capture_on_commit_callbacks(execute=False):
        run = engine.run_now(automation)
    run.refresh_from_db()
    assert run.status == R.SCANNING and len(run.sync_run_ids) == 1
    assert engine.advance_scanning_runs(timezone.now()) == 0  # still queued: it waits
    assert mail.outbox == []

    # The scan runs (as its task would), the hook moves the run on, and the summary has its findings.
    with django_capture_on_commit_callbacks(execute=True):
        from inventory import sync

        sync.run_sync(run.sync_run_ids[0])
    run.refresh_from_db()
    assert run.status == R.SENT
    assert run.digest["new"]["low"] >= 1 and run.digest["scans_total"] == 1
    assert "EBS volume is not attached" in mail.outbox[-1].body


def test_scan_then_summarize_end_to_end_through_tasks(cloud, connection, owner, django_capture_on_commit_callbacks):
    from automations import actions

    org = connection.org  # owned by ``owner``
    channel = actions.do_create_channel(org, user=owner, kind="email", name="Owners", roles=["owner"]).channel
    automation = make_automation(org, owner, action="scan_and_summarize", channels=[channel], send_when_empty=True)
    make_due(automation)
    with django_capture_on_commit_callbacks(execute=True):
        engine.tick()
    run = AutomationRun.objects.for_org(org).get(automation=automation)
    scan = SyncRun.objects.for_org(org).get(pk=run.sync_run_ids[0])
    assert scan.trigger == SyncRun.Trigger.SCHEDULE and scan.status == SyncRun.Status.SUCCEEDED
    assert run.status == R.SENT and len(mail.outbox) == 1


@pytest.mark.django_db
def test_after_scan_fires_once_per_scan_even_when_one_commits_late(org, owner, conn, email_channel):
    from tests.factories import SyncRunFactory

    now = timezone.now()
    SyncRunFactory(connection=conn, finished_at=now - timedelta(minutes=5))  # before the automation existed
    automation = make_automation(org, owner, trigger="after_scan", channels=[email_channel])
    later = SyncRunFactory(connection=conn, finished_at=timezone.now() + timedelta(seconds=2))
    soon = timezone.now() + timedelta(seconds=3)
    assert [r.key for r in engine.fire_after_scans(soon)] == [f"scan:{later.pk}"]
    # A scan that finished earlier but whose transaction committed only now: still fired, once.
    earlier = SyncRunFactory(connection=conn, finished_at=timezone.now() + timedelta(seconds=1))
    assert [r.key for r in engine.fire_after_scans(soon)] == [f"scan:{earlier.pk}"]
    assert engine.fire_after_scans(soon) == []
    keys = set(AutomationRun.objects.for_org(org).filter(automation=automation).values_list("key", flat=True))
    assert keys == {f"scan:{later.pk}", f"scan:{earlier.pk}"}
