"""Fair share between organizations (inventory/slots.py, inventory/tasks.py): at most
SYNC_MAX_CONCURRENT_PER_ORG scans of one organization run at once; a scan that finds its organization's
slots taken queues itself again later instead of holding a worker, so one organization's twenty queued
scans do not delay another's one. A slot is a lease: released when the task ends however it ends, and
freed by expiry when its worker dies.

The slot stores run in-process everywhere and in Redis where REDIS_URL is set (CI)."""

from __future__ import annotations

import heapq
import itertools
import os
import time
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from inventory import slots, sync, tasks
from inventory.models import SyncRun
from inventory.slots import LocalSlots, OrgSlot, RedisSlots
from tests.factories import OrganizationFactory
from tests.inventory.sync_helpers import make_connection, populate

S = SyncRun.Status


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["local", "redis"])
def store(request):
    """Each slot store, with a way to let time pass (a fake clock in-process; real time in Redis)."""
    if request.param == "local":
        clock = FakeClock()

        def advance(seconds: float) -> None:
            clock.now += seconds

        yield LocalSlots(clock=clock), advance
        return
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL (CI runs it)")
    from inventory.ratelimit import redis_client

    client = redis_client(os.environ["REDIS_URL"])
    prefix = f"test:org-slots:{uuid.uuid4().hex[:8]}:"
    yield RedisSlots(client, prefix=prefix), time.sleep
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


# --- the slots -------------------------------------------------------------------------------------


def test_an_organization_holds_at_most_its_capacity(store):
    slots_, _advance = store
    assert slots_.acquire(1, "run:1", 2, 60) and slots_.acquire(1, "run:2", 2, 60)
    assert not slots_.acquire(1, "run:3", 2, 60)  # the organization's two slots are taken
    assert slots_.acquire(2, "run:4", 2, 60)  # another organization has its own
    assert slots_.acquire(1, "run:1", 2, 60)  # a holder takes its own slot again (a redelivered run)
    slots_.release(1, "run:1")
    assert slots_.acquire(1, "run:3", 2, 60)
    assert slots_.holders(1) == {"run:2", "run:3"}


def test_a_dead_workers_slot_frees_itself_when_its_lease_runs_out(store):
    slots_, advance = store
    assert slots_.acquire(1, "run:1", 1, 0.3)  # its worker dies: nobody refreshes or releases it
    assert not slots_.acquire(1, "run:2", 1, 0.3)
    advance(0.4)
    assert not slots_.refresh(1, "run:1", 0.3)  # gone
    assert slots_.acquire(1, "run:2", 1, 0.3)


def test_a_refreshed_lease_is_kept(store):
    slots_, advance = store
    assert slots_.acquire(1, "run:1", 1, 0.5)
    for _ in range(3):
        advance(0.3)
        assert slots_.refresh(1, "run:1", 0.5)
    assert not slots_.acquire(1, "run:2", 1, 0.5)


def test_a_running_scan_keeps_its_slot_and_gives_it_back_however_it_ends():
    store = LocalSlots()
    slot = OrgSlot(7, 1, store=store, capacity=1, lease=0.3)
    assert slot.acquire()
    with slot.kept():
        time.sleep(1.0)  # three leases long: the keeper refreshed it meanwhile
        assert store.holders(7) == {"run:1"}
        assert not OrgSlot(7, 2, store=store, capacity=1, lease=0.3).acquire()
    assert store.holders(7) == set()

    assert slot.acquire()
    with pytest.raises(RuntimeError), slot.kept():
        raise RuntimeError("the sync failed")
    assert store.holders(7) == set()


def test_no_cap_means_no_slot_to_take():
    store = LocalSlots()
    slot = OrgSlot(7, 1, store=store, capacity=0)
    assert all(OrgSlot(7, n, store=store, capacity=0).acquire() for n in range(50))
    with slot.kept():
        pass
    assert store.holders(7) == set()


# --- the scheduling rule ----------------------------------------------------------------------------


def simulate(capacity: int, *, workers: int = 3, a_scans: int = 20, duration: float = 600.0) -> dict:
    """A broker (messages by time ready, then by order sent) and ``workers`` workers, each taking the next
    ready message when it is free. Organization A queues ``a_scans`` scans, then B queues one. A scan that
    gets its organization's slot (the real OrgSlot rule) holds its worker ``duration`` seconds; one that
    does not is sent again ``SYNC_SLOT_RETRY_SECONDS`` later and frees its worker at once."""
    clock = FakeClock(0.0)
    store = LocalSlots(clock=clock)
    order = itertools.count()
    queue: list[tuple[float, int, str, int]] = []
    for run_id in range(a_scans):
        heapq.heappush(queue, (0.0, next(order), "A", run_id))
    heapq.heappush(queue, (0.0, next(order), "B", 1000))
    free_at = [0.0] * workers
    running: list[tuple[float, int, OrgSlot]] = []
    started: dict[int, float] = {}
    most_a = 0
    while queue:
        ready, _, org, run_id = heapq.heappop(queue)
        worker = min(range(workers), key=free_at.__getitem__)
        clock.now = max(ready, free_at[worker])
        while running and running[0][0] <= clock.now:
            heapq.heappop(running)[2].release()
        # Leases are refreshed while a scan runs (tested above): here they simply outlast the scans.
        slot = OrgSlot({"A": 1, "B": 2}[org], run_id, store=store, capacity=capacity, lease=10 * duration)
        if slot.acquire():
            started[run_id] = clock.now
            free_at[worker] = clock.now + duration
            heapq.heappush(running, (clock.now + duration, run_id, slot))
            most_a = max(most_a, sum(1 for _, r, _ in running if r < 1000))
        else:
            free_at[worker] = clock.now
            heapq.heappush(queue, (clock.now + 30.0, next(order), org, run_id))
    return {
        "b_started": started[1000],
        "a_started": sorted(v for k, v in started.items() if k < 1000),
        "most_a": most_a,
    }


def test_one_organizations_queue_does_not_delay_anothers_scan():
    capped = simulate(capacity=2)
    assert capped["b_started"] == 0.0  # B's scan starts at once, while A still has 18 scans queued
    assert capped["most_a"] == 2  # A never holds more than its two slots
    assert len(capped["a_started"]) == 20  # and all of A's scans still run, two at a time
    assert capped["a_started"][-1] == pytest.approx(9 * 600.0, abs=60)

    uncapped = simulate(capacity=0)  # the baseline: first come, first served
    assert uncapped["b_started"] >= 6 * 600.0  # B waited for nearly all of A's scans
    assert uncapped["most_a"] == 3


# --- the task ----------------------------------------------------------------------------------------


def run_as_worker(connection_id: int, run_id: int):
    """The task as a worker runs it (not eager, so the slots apply)."""
    task = tasks.sync_connection
    task.push_request(id=f"task-{run_id}", is_eager=False, retries=0)
    try:
        return task.run(connection_id, run_id)
    finally:
        task.pop_request()


@pytest.fixture
def worker_env(settings, monkeypatch):
    """One slot per organization in this process's store; tasks queued again are recorded, not sent."""
    settings.SYNC_MAX_CONCURRENT_PER_ORG = 1
    store = LocalSlots()
    monkeypatch.setattr(slots, "default_store", lambda: store)
    requeued: list[dict] = []
    monkeypatch.setattr(tasks.sync_connection, "apply_async", lambda **kwargs: requeued.append(kwargs))
    return store, requeued


def test_a_scan_waits_without_holding_the_worker_while_another_org_runs(cloud, org, worker_env):
    store, requeued = worker_env
    populate(cloud, per_region=1)
    busy = make_connection(org, name="Busy")
    SyncRun.objects.for_org(org).create(connection=busy, status=S.RUNNING, heartbeat_at=timezone.now())
    assert store.acquire(org.pk, "run:elsewhere", 1, 60)  # org's one slot: a scan on another worker
    conn = make_connection(org, name="Waiting")
    waiting = SyncRun.objects.for_org(org).create(connection=conn)

    other_org = OrganizationFactory()
    other_conn = make_connection(other_org, name="Other")
    other_run = SyncRun.objects.for_org(other_org).create(connection=other_conn)

    assert run_as_worker(conn.pk, waiting.pk) == "waiting for a slot"
    waiting.refresh_from_db()
    assert waiting.status == S.QUEUED and waiting.heartbeat_at is not None  # still wanted: not reaped
    assert requeued == [{"args": [conn.pk, waiting.pk], "countdown": pytest.approx(30, abs=7.6)}]

    assert run_as_worker(other_conn.pk, other_run.pk) == S.SUCCEEDED  # the other organization runs at once
    assert store.holders(other_org.pk) == set()  # and gives its slot back

    store.release(org.pk, "run:elsewhere")
    assert run_as_worker(conn.pk, waiting.pk) == S.SUCCEEDED


def test_a_failing_sync_gives_its_slot_back(cloud, connection, worker_env, monkeypatch):
    store, _requeued = worker_env
    run = SyncRun.objects.for_org(connection.org).create(connection=connection)

    def crash(*args, **kwargs):
        assert store.holders(connection.org_id) == {f"run:{run.pk}"}
        raise RuntimeError("the worker's code failed")

    monkeypatch.setattr(sync, "run_sync", crash)
    with pytest.raises(RuntimeError):
        run_as_worker(connection.pk, run.pk)
    assert store.holders(connection.org_id) == set()


def test_eager_tasks_take_no_slot(cloud, connection, worker_env, eager_celery):
    store, requeued = worker_env
    populate(cloud, per_region=1)
    store.acquire(connection.org_id, "run:elsewhere", 1, 60)
    run = SyncRun.objects.for_org(connection.org).create(connection=connection)
    assert tasks.sync_connection.apply(args=[connection.pk, run.pk]).get() == S.SUCCEEDED  # in the caller
    assert requeued == []


def test_a_waiting_scan_is_reaped_only_once_nobody_looks_for_it(cloud, connection, settings):
    settings.SYNC_QUEUED_TIMEOUT_MINUTES = 60
    now = timezone.now()
    runs = SyncRun.objects.for_org(connection.org)
    waiting = runs.create(connection=connection, created_at=now - timedelta(hours=3), heartbeat_at=now)
    assert sync.reap_stale_runs(now) == 0
    assert sync.reap_stale_runs(now + timedelta(minutes=61)) == 1  # its task stopped coming back
    waiting.refresh_from_db()
    assert waiting.status == S.FAILED and waiting.errors[0]["code"] == "never_started"


# --- a worker lost mid-run ---------------------------------------------------------------------------


def test_a_run_whose_worker_was_lost_starts_again_then_fails_after_too_many_restarts(cloud, connection, settings):
    settings.SYNC_MAX_RESTARTS = 2
    settings.SYNC_MAX_CONCURRENT_PER_ORG = 0
    populate(cloud, per_region=1)
    lost_at = timezone.now() - timedelta(seconds=tasks.lost_after_seconds() + 1)

    def lost_run() -> SyncRun:
        """A run left "running" by a worker that died: silent heartbeat, its lock still in the cache."""
        run = SyncRun.objects.for_org(connection.org).create(
            connection=connection, status=S.RUNNING, started_at=lost_at, heartbeat_at=lost_at
        )
        cache.set(sync.lock_key(connection.pk), run.pk, sync.lock_ttl())
        return run

    run = lost_run()
    assert run_as_worker(connection.pk, run.pk) == S.SUCCEEDED  # delivered again: it starts over
    run.refresh_from_db()
    assert run.resource_count > 0 and run.started_at > lost_at

    run = lost_run()
    for _ in range(2):  # it kills its worker every time
        assert not tasks.lost_worker_restarts_exhausted(run.pk, connection.pk)
        SyncRun.objects.for_org(connection.org).filter(pk=run.pk).update(heartbeat_at=lost_at)
    assert run_as_worker(connection.pk, run.pk) == S.FAILED
    run.refresh_from_db()
    assert run.status == S.FAILED and run.errors[0]["code"] == "worker_lost"
    assert "worker was lost 3 times" in run.errors[0]["message"]


def test_a_live_holder_of_the_same_run_is_not_taken_over(cloud, connection, settings, monkeypatch):
    settings.SYNC_MAX_CONCURRENT_PER_ORG = 0
    run = SyncRun.objects.for_org(connection.org).create(
        connection=connection, status=S.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    cache.set(sync.lock_key(connection.pk), run.pk, sync.lock_ttl())
    retried = []

    def retry(**kwargs):
        retried.append(kwargs)
        return RuntimeError("retry")

    monkeypatch.setattr(tasks.sync_connection, "retry", retry)
    with pytest.raises(RuntimeError, match="retry"):
        run_as_worker(connection.pk, run.pk)
    assert retried == [{"countdown": tasks.lost_after_seconds() + 5}]  # looks again once a dead one would show
    assert cache.get(sync.lock_key(connection.pk)) == run.pk
