"""A period is summarized, and each recipient reached, exactly once: when the task is retried, when a
worker dies in the middle of sending, when two runs of the same task overlap, and when two beat ticks
race for the same slot."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection as db
from django.utils import timezone

from automations import channels, engine, sending
from automations.models import Automation, AutomationRun, Delivery
from automations.tasks import run_automation
from tests.automations.conftest import make_automation
from tests.factories import MembershipFactory, UserFactory

R = AutomationRun.Status
S = Delivery.Status


@pytest.fixture
def team(org):
    """Two more owners: three recipients on the "Owners" channel."""
    for email in ("second@example.com", "third@example.com"):
        MembershipFactory(user=UserFactory(email=email), org=org, role="owner")
    return org


@pytest.fixture
def queued_run(team, owner, email_channel, django_capture_on_commit_callbacks):
    automation = make_automation(team, owner, channels=[email_channel], send_when_empty=True)
    with django_capture_on_commit_callbacks(execute=False):  # queued, its task not run yet
        run = engine.run_now(automation)
    return run


def sent_to() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


EVERYONE = ["owner@example.com", "second@example.com", "third@example.com"]


@pytest.mark.django_db
def test_a_retried_task_sends_nothing_twice(queued_run):
    run_automation.delay(queued_run.pk)
    run_automation.delay(queued_run.pk)  # redelivered (acks_late) or retried
    run_automation.apply(args=[queued_run.pk])
    assert sent_to() == EVERYONE
    queued_run.refresh_from_db()
    assert queued_run.status == R.SENT
    assert Delivery.objects.for_org(queued_run.org_id).filter(run=queued_run).count() == 3
    assert AutomationRun.objects.for_org(queued_run.org_id).count() == 1


@pytest.mark.django_db
def test_a_worker_dying_mid_send_resends_only_what_was_not_sent(queued_run, monkeypatch):
    real_send = channels.send
    calls = []

    class WorkerLost(BaseException):
        """What a killed worker looks like from inside: nothing after this line runs."""

    def dying_send(delivery, channel, content):
        calls.append(delivery.recipient)
        if len(calls) == 2:
            raise WorkerLost
        return real_send(delivery, channel, content)

    monkeypatch.setattr(channels, "send", dying_send)
    with pytest.raises(WorkerLost):
        run_automation.delay(queued_run.pk)
    assert len(mail.outbox) == 1  # the first recipient got it; the worker died on the second
    deliveries = {d.recipient: d for d in Delivery.objects.for_org(queued_run.org_id).filter(run=queued_run)}
    assert [d.status for d in deliveries.values()].count(S.SENT) == 1
    stuck = next(d for d in deliveries.values() if d.status == S.SENDING)
    monkeypatch.setattr(channels, "send", real_send)

    # The task is delivered again (acks_late): it sends the third, not the first again; the second is
    # still claimed by the dead worker.
    run_automation.delay(queued_run.pk)
    assert len(mail.outbox) == 2 and sent_to().count(calls[0]) == 1

    # Once the claim's lease ran out, the tick sends the one the dead worker held. Once.
    Delivery.objects.for_org(queued_run.org_id).filter(pk=stuck.pk).update(
        claimed_at=timezone.now() - sending.CLAIM_LEASE - timedelta(seconds=1)
    )
    engine.recover(timezone.now())
    engine.recover(timezone.now())
    assert sent_to() == EVERYONE
    queued_run.refresh_from_db()
    assert queued_run.status == R.SENT


@pytest.mark.django_db
def test_two_overlapping_runs_of_the_task_send_once(queued_run, monkeypatch):
    real_send = channels.send
    nested = []

    def send_while_another_worker_runs(delivery, channel, content):
        if not nested:
            nested.append(True)
            # Another worker picks up the same task right now, while this delivery is being sent.
            sending.execute_run(queued_run.pk)
            for other in Delivery.objects.for_org(queued_run.org_id).filter(run=queued_run):
                sending.send_one(other.pk)
        return real_send(delivery, channel, content)

    monkeypatch.setattr(channels, "send", send_while_another_worker_runs)
    run_automation.delay(queued_run.pk)
    assert sent_to() == EVERYONE


@pytest.mark.django_db
def test_two_beat_ticks_racing_for_one_slot_fire_once(team, owner, email_channel, monkeypatch):
    automation = make_automation(team, owner, channels=[email_channel], send_when_empty=True)
    slot = timezone.now() - timedelta(seconds=10)
    Automation.objects.for_org(team).filter(pk=automation.pk).update(next_run_at=slot)
    real_start = engine.start_run
    raced = []

    def start_after_the_other_tick(automation, **kwargs):
        if not raced:
            raced.append(True)
            # The other tick read the same due automation and gets there first.
            engine.fire_due_schedules(timezone.now())
        return real_start(automation, **kwargs)

    monkeypatch.setattr(engine, "start_run", start_after_the_other_tick)
    assert engine.fire_due_schedules(timezone.now()) == []  # its insert lost to the unique key
    runs = AutomationRun.objects.for_org(team).filter(automation=automation)
    assert [r.key for r in runs] == [f"schedule:{slot.isoformat()}"]
    automation.refresh_from_db()
    assert automation.next_run_at > timezone.now()  # moved once, to the next slot


@pytest.mark.django_db
def test_the_same_key_is_one_run(team, owner, email_channel):
    automation = make_automation(team, owner, channels=[email_channel])
    assert engine.start_run(automation, key="scan:42", reason="After scan #42") is not None
    assert engine.start_run(automation, key="scan:42", reason="After scan #42") is None
    assert AutomationRun.objects.for_org(team).filter(automation=automation).count() == 1


@pytest.mark.skipif(db.vendor != "postgresql", reason="row locks and concurrent transactions need PostgreSQL (CI)")
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_on_postgresql(org, owner):
    from automations import actions

    for email in ("second@example.com", "third@example.com"):
        MembershipFactory(user=UserFactory(email=email), org=org, role="owner")
    channel = actions.do_create_channel(org, user=owner, kind="email", name="Owners", roles=["owner"]).channel
    automation = make_automation(org, owner, channels=[channel], send_when_empty=True)
    run = AutomationRun.objects.for_org(org).create(automation=automation, key="race")
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait(timeout=10)
            sending.execute_run(run.pk)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sent_to() == EVERYONE
    run.refresh_from_db()
    assert run.status == R.SENT
    assert Delivery.objects.for_org(org).filter(run=run).count() == 3
