"""Running syncs: one per connection (joined, locked), cancelled, reaped when their worker dies, run by
an idempotent Celery task, scheduled by frequency, and started from the command line."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from connections.models import CloudConnection
from inventory import actions, sync
from inventory.models import Resource, SyncRun
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import make_connection, populate, sync_now

# Fixtures (tests/inventory/sync_helpers.py)
aws, cloud, connection, eager_celery = helpers.aws, helpers.cloud, helpers.connection, helpers.eager_celery


S = SyncRun.Status


def test_a_second_request_joins_the_active_run(cloud, connection):
    first, started = actions.do_start_sync(connection, enqueue=False)
    again, started_again = actions.do_start_sync(connection, enqueue=False)
    assert started and not started_again
    assert again.pk == first.pk
    SyncRun.objects.for_org(connection.org).filter(pk=first.pk).update(status=S.RUNNING)
    assert actions.do_start_sync(connection, enqueue=False)[0].pk == first.pk
    assert SyncRun.objects.for_org(connection.org).count() == 1


def test_the_database_refuses_two_active_runs_and_a_race_joins(cloud, connection, monkeypatch):
    first, _ = actions.do_start_sync(connection, enqueue=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.for_org(connection.org).create(connection=connection)
    # Two requests at once: the second did not see the first's run before inserting its own.
    real_active_run = actions.active_run
    calls = []

    def not_yet(conn):
        calls.append(1)
        return None if len(calls) == 1 else real_active_run(conn)

    monkeypatch.setattr(actions, "active_run", not_yet)
    joined, started = actions.do_start_sync(connection, enqueue=False)
    assert (joined.pk, started) == (first.pk, False)


def test_finished_runs_do_not_block_new_ones(cloud, connection):
    populate(cloud, per_region=1)
    assert sync_now(connection).status == S.SUCCEEDED
    assert sync_now(connection).status == S.SUCCEEDED


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"enabled": False}, "disabled"),
        ({"status": CloudConnection.Status.PENDING}, "Test the connection"),
        ({"provider": "azure", "auth_method": "azure_sp"}, "Azure inventory is not available yet"),
    ],
)
def test_connections_that_cannot_be_scanned_are_refused(cloud, connection, change, message):
    for field, value in change.items():
        setattr(connection, field, value)
    connection.save()
    with pytest.raises(actions.SyncNotAllowed, match=message):
        actions.do_start_sync(connection, enqueue=False)


def test_the_lock_keeps_a_second_worker_off_the_same_run(cloud, connection):
    run, _ = actions.do_start_sync(connection, enqueue=False)
    cache.set(sync.lock_key(connection.pk), run.pk)  # another worker is on it
    with pytest.raises(sync.SyncBusy):
        sync.run_sync(run.pk)
    run.refresh_from_db()
    assert run.status == S.QUEUED
    cache.delete(sync.lock_key(connection.pk))
    assert sync.run_sync(run.pk).status == S.SUCCEEDED
    assert cache.get(sync.lock_key(connection.pk)) is None, "released at the end"


def test_a_lock_left_by_a_finished_run_is_taken_over(cloud, connection):
    populate(cloud, per_region=1)
    old = sync_now(connection)
    cache.set(sync.lock_key(connection.pk), old.pk)  # its worker died before releasing
    assert sync_now(connection).status == S.SUCCEEDED


def test_the_lock_is_held_and_refreshed_while_running(cloud, connection, settings):
    settings.SYNC_HEARTBEAT_SECONDS = 0  # beat on every unit
    populate(cloud, per_region=1)
    held = []
    cloud.before[("aws.fake.vpc", "eu-west-1")] = lambda: held.append(cache.get(sync.lock_key(connection.pk)))
    run = sync_now(connection)
    assert held == [run.pk]
    assert run.heartbeat_at >= run.started_at


def test_cancel_a_queued_run_at_once(cloud, connection, member):
    run, _ = actions.do_start_sync(connection, enqueue=False)
    assert actions.do_request_cancel(run, user=member)
    assert run.status == S.CANCELLED and run.cancel_requested and run.cancel_requested_by == member
    # The task arriving later has nothing to do.
    assert sync.run_sync(run.pk).status == S.CANCELLED
    assert not Resource.objects.for_org(connection.org).exists()


def test_cancel_a_running_run(cloud, connection):
    populate(cloud)
    run, _ = actions.do_start_sync(connection, enqueue=False)
    SyncRun.objects.for_org(connection.org).filter(pk=run.pk).update(status=S.RUNNING)  # a worker has it
    assert actions.do_request_cancel(run)
    assert run.status == S.RUNNING and run.cancel_requested
    assert cache.get(sync.cancel_key(run.pk))
    assert sync.run_sync(run.pk).status == S.CANCELLED
    assert not Resource.objects.for_org(connection.org).exists()


def test_stale_runs_are_reaped(cloud, connection, org, settings):
    settings.SYNC_STALE_MINUTES = 15
    settings.SYNC_QUEUED_TIMEOUT_MINUTES = 60
    now = timezone.now()
    other = make_connection(org, name="Other")
    third = make_connection(org, name="Third")
    runs = SyncRun.objects.for_org(org)
    silent = runs.create(
        connection=connection, status=S.RUNNING, started_at=now, heartbeat_at=now - timedelta(minutes=20)
    )
    alive = runs.create(connection=other, status=S.RUNNING, started_at=now, heartbeat_at=now - timedelta(minutes=2))
    forgotten = runs.create(connection=third, status=S.QUEUED, created_at=now - timedelta(hours=2))

    assert sync.reap_stale_runs(now) == 2
    for run in (silent, alive, forgotten):
        run.refresh_from_db()
    assert silent.status == forgotten.status == S.FAILED
    assert silent.errors[0]["code"] == "worker_lost" and forgotten.errors[0]["code"] == "never_started"
    assert silent.finished_at == now
    assert alive.status == S.RUNNING
    # The connection can be scanned again.
    populate(cloud, per_region=1)
    assert sync_now(connection).status == S.SUCCEEDED


def test_a_reaped_run_does_not_write_when_its_worker_comes_back(cloud, connection):
    populate(cloud, per_region=1)
    run, _ = actions.do_start_sync(connection, enqueue=False)
    # While the worker is fetching, the reaper decides it is dead.
    cloud.before[("aws.fake.vpc", "us-east-1")] = lambda: None
    original = sync.write_inventory

    def reaped_then_write(run_, *args):
        SyncRun.objects.unscoped().filter(pk=run_.pk).update(status=S.FAILED)
        return original(run_, *args)

    sync.write_inventory = reaped_then_write
    try:
        finished = sync.run_sync(run.pk)
    finally:
        sync.write_inventory = original
    assert finished.status == S.FAILED
    assert not Resource.objects.for_org(connection.org).exists()


def test_the_task_is_idempotent(cloud, connection, eager_celery):
    from inventory.tasks import sync_connection

    populate(cloud, per_region=1)
    run, _ = actions.do_start_sync(connection, enqueue=False)
    assert sync_connection.delay(connection.pk, run.pk).get() == S.SUCCEEDED
    run.refresh_from_db()
    finished_at = run.finished_at
    # Delivered twice (acks_late): the second does nothing.
    cloud.add("aws.fake.vpc", "eu-west-1", "late")
    assert sync_connection.delay(connection.pk, run.pk).get() == S.SUCCEEDED
    run.refresh_from_db()
    assert run.finished_at == finished_at
    assert not Resource.objects.for_org(connection.org).filter(name="late").exists()
    # Ids that do not match: nothing happens.
    assert sync_connection.delay(connection.pk + 1000, run.pk).get() == "missing"
    assert sync_connection.delay(connection.pk, 10**9).get() == "missing"
    assert sync_connection.acks_late and sync_connection.reject_on_worker_lost


def test_scan_now_sends_the_task_after_commit(cloud, connection, eager_celery, django_capture_on_commit_callbacks):
    populate(cloud, per_region=1)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run, started = actions.do_start_sync(connection)
    assert started and len(callbacks) == 1
    run.refresh_from_db()
    assert run.status == S.SUCCEEDED and run.celery_task_id


def test_scheduling_picks_due_connections(cloud, org, settings, eager_celery):
    now = timezone.now()
    F = CloudConnection.ScanFrequency
    hourly = make_connection(org, name="Hourly", scan_frequency=F.HOURLY)
    six = make_connection(org, name="Six", scan_frequency=F.EVERY_6H)
    daily_new = make_connection(org, name="Never scanned", scan_frequency=F.DAILY)
    make_connection(org, name="Manual", scan_frequency=F.MANUAL)
    make_connection(org, name="Off", scan_frequency=F.HOURLY, enabled=False)
    make_connection(org, name="Unverified", scan_frequency=F.HOURLY, status=CloudConnection.Status.FAILED)
    runs = SyncRun.objects.for_org(org)
    runs.create(connection=hourly, status=S.SUCCEEDED, created_at=now - timedelta(minutes=61))
    runs.create(connection=six, status=S.FAILED, created_at=now - timedelta(hours=2))

    assert {c.name for c in actions.due_connections(now)} == {"Hourly", "Never scanned"}
    # Just under the interval (the beat runs every 5 minutes): due now rather than 5 minutes late.
    runs.filter(connection=hourly).update(created_at=now - timedelta(minutes=58))
    assert "Hourly" in {c.name for c in actions.due_connections(now)}
    runs.filter(connection=hourly).update(created_at=now - timedelta(minutes=30))
    assert {c.name for c in actions.due_connections(now)} == {"Never scanned"}

    started = actions.enqueue_due_syncs(now)
    assert [r.connection_id for r in started] == [daily_new.pk]
    assert started[0].trigger == SyncRun.Trigger.SCHEDULE and started[0].triggered_by is None
    # A run queued a moment ago is not queued again.
    assert actions.enqueue_due_syncs(now) == []


def test_beat_tasks_are_scheduled(settings, db):
    from inventory import tasks

    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {tasks.enqueue_due_syncs.name, tasks.reap_stale_runs.name} <= schedule
    assert tasks.reap_stale_runs.run() == 0


def test_the_command_scans_a_connection(cloud, connection, capsys):
    populate(cloud, per_region=1)
    call_command("sync_connection", str(connection.pk))
    out = capsys.readouterr().out
    assert "succeeded" in out and "6 resources" in out
    cloud.fail[("aws.fake.vpc", "eu-west-1")] = KeyError("x")
    call_command("sync_connection", str(connection.pk))
    assert "error: aws.fake.vpc in eu-west-1: KeyError" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No connection"):
        call_command("sync_connection", "999999")
    SyncRun.objects.for_org(connection.org).create(connection=connection)
    with pytest.raises(CommandError, match="already queued"):
        call_command("sync_connection", str(connection.pk))


def test_deleting_a_connection_deletes_its_inventory(cloud, connection, org):
    from inventory.models import DailyCount, Relationship, ResourceChange

    populate(cloud)
    sync_now(connection)
    kept = make_connection(org, name="Kept")
    sync_now(kept)
    models = (Resource, Relationship, SyncRun, ResourceChange, DailyCount)
    before = {m: m.objects.for_org(org).filter(connection=kept).count() for m in models}
    assert all(before.values())
    with transaction.atomic():
        connection.delete()
    for model in models:
        assert not model.objects.for_org(org).filter(connection_id=connection.pk).exists(), model
        assert model.objects.for_org(org).filter(connection=kept).count() == before[model]


def test_a_broker_that_refuses_the_task_fails_the_run(cloud, connection, monkeypatch):
    from inventory.tasks import sync_connection

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(sync_connection, "apply_async", broker_down)
    run, _ = actions.do_start_sync(connection, enqueue=False)
    actions.send_sync_task(run)
    run.refresh_from_db()
    assert run.status == S.FAILED and run.errors[0]["code"] == "queue_unavailable"
    assert actions.do_start_sync(connection, enqueue=False)[1], "the connection can be scanned again"


@pytest.mark.django_db
def test_a_run_stopped_after_saving_parts_of_its_write_says_they_were_kept(org, settings):
    """A time limit or a worker lost too often, after some parts of the write were committed: the run's
    error says what was kept, never "nothing was changed"."""
    from inventory import tasks

    settings.SYNC_MAX_RESTARTS = 0
    connection = make_connection(org)
    runs = SyncRun.objects.for_org(org)
    clean = runs.create(connection=connection, status=SyncRun.Status.RUNNING, started_at=timezone.now())
    tasks._fail_timed_out(clean.pk)
    clean.refresh_from_db()
    assert clean.errors[0]["message"].endswith("nothing was changed.")

    halfway = runs.create(
        connection=connection, status=SyncRun.Status.RUNNING, started_at=timezone.now(), counts={sync.SAVED_PARTS: 2}
    )
    tasks._fail_timed_out(halfway.pk)
    halfway.refresh_from_db()
    assert halfway.errors[0]["code"] == "time_limit"
    assert "2 parts of its inventory write were saved and kept" in halfway.errors[0]["message"]

    lost_at = timezone.now() - timedelta(seconds=tasks.lost_after_seconds() + 1)
    lost = runs.create(
        connection=connection, status=SyncRun.Status.RUNNING, started_at=lost_at, heartbeat_at=lost_at,
        counts={sync.SAVED_PARTS: 1},
    )  # fmt: skip
    assert tasks.lost_worker_restarts_exhausted(lost.pk, connection.pk)
    lost.refresh_from_db()
    assert (
        lost.errors[0]["code"] == "worker_lost"
        and "1 part of its inventory write was saved" in lost.errors[0]["message"]
    )
