"""The write in parts (inventory/sync.py: WRITE_PART_ROWS): each part commits on its own with a
heartbeat, whole scopes at a time. A write in many parts ends where a write in one part ends; a failure
in a later part keeps the parts already saved and deletes nothing of the scopes not saved; a run
restarted after its worker died mid-write converges to what a clean sync gives, counts and change
events included, and the rules then evaluate everything."""

from __future__ import annotations

import json

import pytest

from inventory import actions, hooks, sync
from inventory.collectors.base import Rel
from inventory.models import ERROR, Relationship, Resource, ResourceChange, SyncRun
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import INSTANCE, USER, VPC, arn, make_connection, populate, sync_now

aws, cloud, connection = helpers.aws, helpers.cloud, helpers.connection
S = SyncRun.Status
PART = 3  # rows per part in these tests: the 17 resources below take several parts


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs (not even ``except Exception``)."""


@pytest.fixture
def twin(org, aws):
    """A second connection to the same account: written in one part, to compare with."""
    return make_connection(org, name="Twin")


def state(connection) -> tuple[dict, set]:
    rows = Resource.objects.for_org(connection.org).filter(connection=connection)
    fields = ("native_id", "resource_type", "region", "name", "tags", "config", "content_hash", "volatile_hash")
    resources = {row[0]: row[1:] for row in rows.values_list(*fields)}
    rels = Relationship.objects.for_org(connection.org).filter(connection=connection)
    return resources, set(rels.values_list("source__native_id", "target__native_id", "kind"))


def events(run) -> list[tuple]:
    rows = ResourceChange.objects.for_org(run.org_id).filter(sync_run_id=run.pk)
    return sorted((c.kind, c.native_id, json.dumps(c.diff, sort_keys=True)) for c in rows)


def counts(run) -> tuple[int, int, int]:
    run.refresh_from_db()
    return run.created_count, run.modified_count, run.deleted_count


def populate_with_a_late_target(cloud) -> None:
    """The usual estate, and an instance pointing at a VPC that does not exist yet (unresolved)."""
    populate(cloud)
    late = arn("vpc", "us-east-1", "vpc-late")
    cloud.add(INSTANCE, "eu-west-1", "i-late", relations=[Rel("in_vpc", late)])


def change_the_cloud(cloud) -> None:
    """Modified, deleted, created resources in several scopes; a relationship moved to a new VPC; the
    VPC the unchanged instance "i-late" points at appears."""
    tagged = cloud.find(INSTANCE, "eu-west-1", "i-0")
    tagged.tags = {**tagged.tags, "env": "staging"}
    cloud.remove(INSTANCE, "us-east-1", "i-2")
    cloud.remove(VPC, "eu-west-1", "vpc-2")
    cloud.add(USER, "global", "carol", config={"mfa": False})
    new_vpc = cloud.add(VPC, "eu-west-1", "vpc-9")
    cloud.find(INSTANCE, "eu-west-1", "i-1").relations = [Rel("in_vpc", new_vpc.native_id)]
    cloud.add(VPC, "us-east-1", "vpc-late")


def spy(monkeypatch, name: str, calls: list, *, fail_on: int | None = None, error: BaseException | None = None):
    """Wrap ``sync.<name>``: note each call's first argument (and raise ``error`` on call ``fail_on``)."""
    original = getattr(sync, name)

    def wrapper(*args, **kwargs):
        calls.append(args[0])
        if fail_on is not None and len(calls) == fail_on:
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(sync, name, wrapper)


def _noted(parts: list, scopes: list[set]) -> list:
    scopes.extend(set(part.scopes) for part in parts)  # copied: a part is emptied once written
    return parts


def test_a_write_in_parts_ends_where_a_write_in_one_part_ends(cloud, connection, twin, monkeypatch):
    deltas: dict[int, hooks.InventoryDelta | None] = {}
    monkeypatch.setattr(hooks, "run_after_sync", lambda run, delta=None: deltas.update({run.pk: delta}))
    populate_with_a_late_target(cloud)
    default, original = sync.WRITE_PART_ROWS, sync._mark_part_saved

    def both() -> tuple[SyncRun, SyncRun]:
        one = sync_now(twin)
        monkeypatch.setattr(sync, "WRITE_PART_ROWS", PART)
        beats: list = []

        def beat(run, parts):
            original(run, parts)
            beats.append((parts, sync.saved_parts(run.pk), SyncRun.objects.unscoped().get(pk=run.pk).heartbeat_at))

        monkeypatch.setattr(sync, "_mark_part_saved", beat)
        many = sync_now(connection)
        monkeypatch.setattr(sync, "_mark_part_saved", original)
        monkeypatch.setattr(sync, "WRITE_PART_ROWS", default)
        assert len(beats) >= 2, "several parts, a heartbeat after each but the last"
        assert [b[0] for b in beats] == [b[1] for b in beats] == list(range(1, len(beats) + 1))
        assert all(b[2] is not None for b in beats)
        return one, many

    for step in (None, change_the_cloud):
        if step:
            step(cloud)
        one, many = both()
        assert one.status == many.status == S.SUCCEEDED
        assert state(many.connection) == state(one.connection)
        assert events(many) == events(one)
        assert counts(many) == counts(one)
        assert many.unresolved_relations == one.unresolved_relations
        assert many.counts == one.counts and "saved_parts" not in many.counts
        by_id = dict(Resource.objects.unscoped().values_list("id", "native_id"))
        for field in ("changed_ids", "created_ids", "relinked_ids"):
            mine, theirs = (sorted(by_id[i] for i in getattr(deltas[r.pk], field)) for r in (many, one))
            assert mine == theirs, field
        assert deltas[many.pk].deleted_native_ids == deltas[one.pk].deleted_native_ids
    _resources, rels = state(connection)
    assert (arn("instance", "eu-west-1", "i-late"), arn("vpc", "us-east-1", "vpc-late"), "in_vpc") in rels


def test_a_failure_in_part_two_keeps_part_one_and_deletes_nothing_unsaved(cloud, connection, monkeypatch):
    populate_with_a_late_target(cloud)
    sync_now(connection)
    before, rels_before = state(connection)
    change_the_cloud(cloud)
    monkeypatch.setattr(sync, "WRITE_PART_ROWS", PART)
    parts: list[set] = []
    split = sync._split_into_parts
    monkeypatch.setattr(sync, "_split_into_parts", lambda *a: _noted(split(*a), parts))
    written: list = []
    original_write_part = sync._write_part
    spy(monkeypatch, "_write_part", written, fail_on=2, error=RuntimeError("database went away"))
    deltas: list = []
    monkeypatch.setattr(hooks, "run_after_sync", lambda run, delta=None: deltas.append(delta))

    run = sync_now(connection)

    assert run.status == S.PARTIAL
    assert run.errors[0]["code"] == "RuntimeError" and "partway" in run.errors[0]["message"]
    part_one = parts[0]
    after, _rels = state(connection)
    # Part one's scopes hold the new state; every other scope is as it was (its deletions not applied).
    for native_id, row in before.items():
        scope = (row[0], row[1])
        if scope not in part_one:
            assert after.get(native_id) == row, native_id
    not_saved = {
        (w["type"], w["region"]) for w in run.warnings if w.get("code") == "not_saved" and w["status"] == ERROR
    }
    assert not_saved and not (not_saved & part_one)
    for rtype, region in not_saved:
        assert run.coverage[rtype][region] == ERROR
    for rtype, region in part_one:
        assert run.coverage[rtype][region] == "collected"
    # The change events are exactly part one's, and the rules get part one's delta.
    kinds = {(kind, native_id) for kind, native_id, _diff in events(run)}
    assert kinds and all((after.get(n) or before[n])[:2] in part_one for _k, n in kinds)
    assert counts(run) == (
        sum(1 for k, _ in kinds if k == "created"),
        sum(1 for k, _ in kinds if k == "modified"),
        sum(1 for k, _ in kinds if k == "deleted"),
    )
    assert deltas and deltas[-1] is not None
    assert deltas[-1].created_ids == set(
        Resource.objects.for_org(connection.org)
        .filter(connection=connection, native_id__in=[n for k, n in kinds if k == "created"])
        .values_list("id", flat=True)
    )

    # The next sync saves the rest: the inventory is then the cloud's.
    monkeypatch.setattr(sync, "_write_part", original_write_part)
    again = sync_now(connection)
    assert again.status == S.SUCCEEDED
    final, final_rels = state(connection)
    assert set(final) == {r.native_id for records in cloud.records.values() for r in records}
    assert (arn("instance", "eu-west-1", "i-late"), arn("vpc", "us-east-1", "vpc-late"), "in_vpc") in final_rels
    assert not {(k, n) for k, n, _ in events(again)} & kinds, "no change is recorded twice"
    assert rels_before != final_rels


@pytest.mark.parametrize("same_run", [True, False], ids=["restarted", "next-run"])
def test_a_write_killed_midway_converges_to_a_clean_sync(cloud, connection, twin, monkeypatch, same_run):
    populate_with_a_late_target(cloud)
    sync_now(connection)
    sync_now(twin)
    change_the_cloud(cloud)
    summaries: dict[int, sync.WriteSummary] = {}
    original_write = sync.write_inventory

    def write(run, *args):
        summaries[run.pk] = original_write(run, *args)
        return summaries[run.pk]

    monkeypatch.setattr(sync, "write_inventory", write)
    clean = sync_now(twin)
    monkeypatch.setattr(sync, "WRITE_PART_ROWS", PART)
    deltas: dict[int, object] = {}
    monkeypatch.setattr(hooks, "run_after_sync", lambda run, delta=None: deltas.update({run.pk: delta}))
    calls: list = []
    original_write_part = sync._write_part
    spy(monkeypatch, "_write_part", calls, fail_on=3, error=WorkerKilled())

    first, _started = actions.do_start_sync(connection, enqueue=False)
    with pytest.raises(WorkerKilled):
        sync.run_sync(first.pk)
    first.refresh_from_db()
    assert first.status == S.RUNNING and sync.saved_parts(first.pk) == 2, "two parts saved, then the worker died"
    assert state(connection) != state(twin)

    monkeypatch.setattr(sync, "_write_part", original_write_part)  # no failure from here on
    if same_run:
        retried = sync.run_sync(first.pk)  # delivered again: the same run starts over
        assert retried.pk == first.pk
        assert counts(retried) == counts(clean)
        assert events(retried) == events(clean)
        assert summaries[retried.pk].unchanged == summaries[clean.pk].unchanged
    else:
        SyncRun.objects.unscoped().filter(pk=first.pk).update(status=S.FAILED)  # reaped
        retried = sync_now(connection)
        assert retried.pk != first.pk
        assert sorted(events(first) + events(retried)) == events(clean), "each change recorded once"
    assert retried.status == S.SUCCEEDED
    assert state(connection) == state(twin)
    assert retried.unresolved_relations == clean.unresolved_relations
    assert deltas[retried.pk] is None, "what the dead attempt wrote was never evaluated: evaluate everything"

    # Once a write finished, the next one is incremental again.
    assert deltas[sync_now(connection).pk] is not None
