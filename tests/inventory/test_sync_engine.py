"""The sync engine against a fake cloud (collectors registered by the test): what is written, what is
kept, how failures, throttling, cancels and crashes leave the inventory, and that writes are batched."""

from __future__ import annotations

import time
import weakref

import pytest
from django.core.cache import cache
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from inventory import coverage, hooks, sync
from inventory.collectors.base import Rel
from inventory.diff import resource_diff
from inventory.models import DailyCount, Relationship, Resource, ResourceChange, SyncRun
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import INSTANCE, REGIONS, USER, VPC, client_error, populate, sync_now

# Fixtures (tests/inventory/sync_helpers.py)
aws, cloud, connection = helpers.aws, helpers.cloud, helpers.connection


S = SyncRun.Status


def inventory(connection) -> dict[str, tuple]:
    """native_id -> (id, type, region, name, tags, config) of the stored inventory."""
    rows = Resource.objects.for_org(connection.org).filter(connection=connection)
    return {
        r.native_id: (r.pk, r.resource_type, r.region, r.name, r.tags, r.config, r.first_seen) for r in rows.order_by()
    }


def relationships(connection) -> set[tuple[str, str, str]]:
    rels = Relationship.objects.for_org(connection.org).filter(connection=connection)
    return {(r.source.native_id, r.target.native_id, r.kind) for r in rels.select_related("source", "target")}


def test_full_sync(cloud, connection):
    populate(cloud)
    run = sync_now(connection)

    assert run.status == S.SUCCEEDED
    assert run.completeness_percent == 100.0
    assert run.progress_total == run.progress_done == 2 * len(REGIONS) + 1
    assert run.resource_count == run.created_count == 3 * 2 * len(REGIONS) + 2
    assert (run.modified_count, run.deleted_count, run.unresolved_relations) == (0, 0, 0)
    assert run.counts["by_type"] == {INSTANCE: 6, USER: 2, VPC: 6}
    assert run.counts["by_region"] == {"eu-west-1": 6, "global": 2, "us-east-1": 6}
    assert run.counts["by_type_region"] == {
        INSTANCE: dict.fromkeys(REGIONS, 3),
        USER: {"global": 2},
        VPC: dict.fromkeys(REGIONS, 3),
    }
    regions, rows = run.coverage_table()
    assert regions == ["global", "eu-west-1", "us-east-1"]
    assert rows[0] == (INSTANCE, [("", None), ("collected", 3), ("collected", 3)])
    assert run.coverage == {
        INSTANCE: dict.fromkeys(REGIONS, "collected"),
        USER: {"global": "collected"},
        VPC: dict.fromkeys(REGIONS, "collected"),
    }
    assert run.started_at and run.finished_at and run.heartbeat_at
    assert run.warnings == [] and run.errors == []

    stored = inventory(connection)
    assert len(stored) == 14
    instance = Resource.objects.for_org(connection.org).get(resource_type=INSTANCE, region="eu-west-1", name="i-0")
    assert instance.provider == "aws"
    assert instance.tags == {"Name": "i-0", "env": "prod"}
    assert instance.config == {"type": "t3.micro", "state": "running", "nested": {"a": 1, "b": [1, 2]}}
    assert instance.native_id == cloud.find(INSTANCE, "eu-west-1", "i-0").native_id
    assert Resource.objects.for_org(connection.org).get(name="alice").region == "global"
    vpc = cloud.find(VPC, "eu-west-1", "vpc-0")
    assert (instance.native_id, vpc.native_id, "in_vpc") in relationships(connection)
    assert len(relationships(connection)) == 6
    changes = ResourceChange.objects.for_org(connection.org).filter(sync_run=run)
    assert changes.count() == 14 and set(changes.values_list("kind", flat=True)) == {"created"}
    counts = DailyCount.objects.for_org(connection.org).filter(connection=connection)
    assert {(c.resource_type, c.region): c.count for c in counts} == {
        (INSTANCE, "eu-west-1"): 3,
        (INSTANCE, "us-east-1"): 3,
        (VPC, "eu-west-1"): 3,
        (VPC, "us-east-1"): 3,
        (USER, "global"): 2,
    }


def test_ids_are_stable_and_changes_are_recorded_with_diffs(cloud, connection):
    populate(cloud)
    first = sync_now(connection)
    before = inventory(connection)

    # Nothing changed: nothing is written but last_seen.
    again = sync_now(connection)
    assert (again.created_count, again.modified_count, again.deleted_count) == (0, 0, 0)
    assert inventory(connection) == before
    assert not ResourceChange.objects.for_org(connection.org).filter(sync_run=again).exists()

    # One modified (config, tags, name), one deleted, one created.
    changed = cloud.find(INSTANCE, "eu-west-1", "i-1")
    changed.config = {"type": "m5.large", "state": "running", "nested": {"a": 2, "b": [1, 2]}}
    changed.tags = {"Name": "i-1", "env": "staging", "kubernetes.io/role": "node"}
    changed.name = "web-1"
    gone = cloud.find(INSTANCE, "us-east-1", "i-2")
    cloud.remove(INSTANCE, "us-east-1", "i-2")
    born = cloud.add(INSTANCE, "us-east-1", "i-9", config={"type": "t3.nano"})
    third = sync_now(connection)

    assert third.status == S.SUCCEEDED
    assert (third.created_count, third.modified_count, third.deleted_count) == (1, 1, 1)
    after = inventory(connection)
    for native_id, row in before.items():
        if native_id != gone.native_id:
            assert after[native_id][0] == row[0], "the same resource keeps its id"
            assert after[native_id][6] == row[6], "and its first_seen"
    assert gone.native_id not in after and born.native_id in after

    changes = {c.kind: c for c in ResourceChange.objects.for_org(connection.org).filter(sync_run=third)}
    assert set(changes) == {"created", "modified", "deleted"}
    assert changes["modified"].resource_id == before[changed.native_id][0]
    assert changes["modified"].diff == {
        "config.nested.a": {"old": 1, "new": 2},
        "config.type": {"old": "t3.micro", "new": "m5.large"},
        "name": {"old": "i-1", "new": "web-1"},
        "tags.env": {"old": "prod", "new": "staging"},
        'tags["kubernetes.io/role"]': {"old": None, "new": "node"},
    }
    deleted = changes["deleted"]
    assert deleted.resource is None
    assert (deleted.resource_type, deleted.native_id, deleted.name) == (INSTANCE, gone.native_id, "i-2")
    assert changes["created"].resource.native_id == born.native_id
    resource = Resource.objects.for_org(connection.org).get(native_id=changed.native_id)
    assert resource.updated_at > resource.first_seen
    assert first.pk != third.pk


def test_access_denied_is_a_warning_and_the_rest_completes(cloud, connection):
    populate(cloud)
    cloud.fail[(INSTANCE, "us-east-1")] = client_error("UnauthorizedOperation", "DescribeInstances")
    cloud.fail[(USER, "global")] = client_error("AccessDenied", "ListUsers")
    run = sync_now(connection)

    assert run.status == S.PARTIAL
    assert run.completeness_percent == pytest.approx(60.0)  # 3 of 5 units
    assert run.coverage[INSTANCE] == {"eu-west-1": "collected", "us-east-1": "denied"}
    assert run.coverage[USER] == {"global": "denied"}
    assert {(w["type"], w["region"], w["status"], w["code"]) for w in run.warnings} == {
        (INSTANCE, "us-east-1", "denied", "UnauthorizedOperation"),
        (USER, "global", "denied", "AccessDenied"),
    }
    assert all(w["message"] for w in run.warnings)
    stored = {(t, r) for _, t, r, *_ in inventory(connection).values()}
    assert stored == {(INSTANCE, "eu-west-1"), (VPC, "eu-west-1"), (VPC, "us-east-1")}

    # The rule engine's view: only collected scopes are evaluated.
    seen = coverage.last_coverage(connection)
    assert seen[(INSTANCE, "eu-west-1")] == "collected"
    assert not coverage.is_evaluated(seen, INSTANCE, "us-east-1")
    assert not coverage.is_evaluated(seen, USER, "eu-west-1")  # a global type: its scope is "global"
    assert coverage.coverage_status(seen, "aws.fake.unknown", "eu-west-1") == coverage.NOT_EVALUATED


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling", "throttled"),
        ("ThrottlingException", "throttled"),
        ("RequestLimitExceeded", "throttled"),
        ("TooManyRequestsException", "throttled"),
        ("AccessDeniedException", "denied"),
        ("OptInRequired", "skipped"),
        ("AuthFailure", "error"),
        ("InternalError", "error"),
    ],
)
def test_error_codes_are_classified(cloud, connection, code, status):
    populate(cloud, per_region=1)
    cloud.fail[(VPC, "eu-west-1")] = client_error(code)
    run = sync_now(connection)
    assert run.status == S.PARTIAL
    assert run.coverage[VPC]["eu-west-1"] == status
    assert run.warnings == [
        {"type": VPC, "region": "eu-west-1", "status": status, "code": code, "message": f"{code} (test)"}
    ]


def test_a_bug_in_a_collector_is_an_error_without_details(cloud, connection, caplog):
    populate(cloud, per_region=1)
    cloud.fail[(VPC, "us-east-1")] = KeyError("secret-looking-internal-detail")
    run = sync_now(connection)
    warning = run.warnings[0]
    assert (warning["status"], warning["code"]) == ("error", "KeyError")
    assert "secret-looking" not in warning["message"]
    assert "collector aws.fake.vpc failed" in caplog.text


def test_throttling_after_retries_through_botocore(cloud, connection, monkeypatch):
    """A real client answering ThrottlingException on every attempt: boto3's retries give up and the
    unit is "throttled" while the others are collected."""
    from botocore.stub import Stubber

    populate(cloud, per_region=1)
    attempts = []

    def describe_through_a_throttled_api(ctx):
        client = ctx.client("ec2")
        with Stubber(client) as stub:
            for _ in range(10):
                stub.add_client_error("describe_vpcs", service_error_code="RequestLimitExceeded", http_status_code=503)
            attempts.append(1)
            client.describe_vpcs()
        yield from ()

    from inventory.collectors import base

    original = base._REGISTRY[INSTANCE]
    base._REGISTRY[INSTANCE] = base.Collector("aws", "fake.instance", "ec2", True, describe_through_a_throttled_api)
    try:
        run = sync_now(connection)
    finally:
        base._REGISTRY[INSTANCE] = original
    assert run.coverage[INSTANCE] == dict.fromkeys(REGIONS, "throttled")
    assert run.coverage[VPC] == dict.fromkeys(REGIONS, "collected")
    assert run.status == S.PARTIAL


def test_failed_part_keeps_its_previous_records(cloud, connection):
    populate(cloud)
    sync_now(connection)
    before = inventory(connection)

    # us-east-1 instances are now denied, and one of them was really deleted: we cannot know, so
    # the previous records stay (not evaluated). eu-west-1 changes are applied.
    cloud.remove(INSTANCE, "us-east-1", "i-0")
    cloud.remove(INSTANCE, "eu-west-1", "i-0")
    cloud.fail[(INSTANCE, "us-east-1")] = client_error("AccessDenied")
    run = sync_now(connection)

    assert run.status == S.PARTIAL and run.deleted_count == 1
    after = inventory(connection)
    kept = {k: v for k, v in before.items() if v[1] == INSTANCE and v[2] == "us-east-1"}
    assert len(kept) == 3 and all(after[k] == v for k, v in kept.items())
    assert cloud.find(VPC, "eu-west-1", "vpc-0").native_id in after
    assert sum(1 for v in after.values() if v[1] == INSTANCE and v[2] == "eu-west-1") == 2
    # Relationships of the failed part are untouched too.
    assert len(relationships(connection)) == 5
    # Daily counts still count what is kept.
    counts = DailyCount.objects.for_org(connection.org).filter(connection=connection, resource_type=INSTANCE)
    assert {c.region: c.count for c in counts} == {"eu-west-1": 2, "us-east-1": 3}


def test_global_collector_records_in_regions_are_replaced_by_scope(cloud, connection):
    """A global collector (like S3's) may return resources of several regions; its scope is "global"."""
    cloud.add(USER, "global", "bucket-eu", record_region="eu-west-1")
    cloud.add(USER, "global", "bucket-us", record_region="us-east-1")
    sync_now(connection)
    assert {v[2] for v in inventory(connection).values()} == {"eu-west-1", "us-east-1"}

    cloud.remove(USER, "global", "bucket-eu")
    run = sync_now(connection)
    assert run.deleted_count == 1
    assert {v[3] for v in inventory(connection).values()} == {"bucket-us"}

    cloud.fail[(USER, "global")] = client_error("AccessDenied")
    cloud.remove(USER, "global", "bucket-us")
    run = sync_now(connection)
    assert run.status == S.PARTIAL and run.coverage[USER] == {"global": "denied"}
    assert {v[3] for v in inventory(connection).values()} == {"bucket-us"}  # kept: not evaluated


def test_a_sync_failing_while_writing_leaves_the_previous_inventory(cloud, connection, monkeypatch, caplog):
    populate(cloud)
    sync_now(connection)
    before, rels_before = inventory(connection), relationships(connection)
    counts_before = list(DailyCount.objects.for_org(connection.org).values_list("resource_type", "region", "count"))

    cloud.remove(INSTANCE, "eu-west-1", "i-0")
    cloud.add(INSTANCE, "eu-west-1", "i-new")
    cloud.find(VPC, "us-east-1", "vpc-1").config = {"cidr": "changed"}

    def crash(*args, **kwargs):
        raise RuntimeError("database went away")

    # The last write of the transaction: resources were already created, updated and deleted.
    original = DailyCount.objects.bulk_create
    monkeypatch.setattr(DailyCount.objects, "bulk_create", crash)
    run = sync_now(connection)

    assert run.status == S.FAILED
    assert run.errors[0]["code"] == "RuntimeError"
    assert "previous inventory is unchanged" in run.errors[0]["message"]
    assert inventory(connection) == before
    assert relationships(connection) == rels_before
    assert list(DailyCount.objects.for_org(connection.org).values_list("resource_type", "region", "count")) == (
        counts_before
    )
    assert not ResourceChange.objects.for_org(connection.org).filter(sync_run=run).exists()
    assert "writing the inventory failed" in caplog.text

    monkeypatch.setattr(DailyCount.objects, "bulk_create", original)  # the next sync applies the changes
    again = sync_now(connection)
    assert (again.created_count, again.modified_count, again.deleted_count) == (1, 1, 1)


def test_cancel_during_fetch_changes_nothing(cloud, connection, settings):
    settings.SYNC_MAX_WORKERS = 1
    populate(cloud)
    sync_now(connection)
    before = inventory(connection)
    cloud.remove(INSTANCE, "eu-west-1", "i-0")
    cloud.add(VPC, "us-east-1", "vpc-new")

    run = SyncRun.objects.for_org(connection.org).create(connection=connection)
    # A member presses "Cancel" while the first unit runs (the action sets the cache flag and the row);
    # the next unit is slow to make its first API call.
    first_unit = (USER, "global")  # global units start first
    for key in [(t, r) for t in (INSTANCE, VPC) for r in REGIONS] + [(USER, "global")]:
        cloud.before[key] = lambda: time.sleep(0.3)
    cloud.before[first_unit] = lambda: cache.set(sync.cancel_key(run.pk), True)
    cloud.served.clear()
    finished = sync.run_sync(run.pk)

    assert finished.status == S.CANCELLED
    assert inventory(connection) == before
    assert not ResourceChange.objects.for_org(connection.org).filter(sync_run=run).exists()
    assert finished.finished_at is not None
    assert list(cloud.served) == [first_unit], "no unit got past an API call after the cancel"


def test_cancel_requested_before_the_write_changes_nothing(cloud, connection):
    from inventory import actions

    populate(cloud)
    sync_now(connection)
    before = inventory(connection)
    cloud.remove(VPC, "eu-west-1", "vpc-0")
    run = SyncRun.objects.for_org(connection.org).create(connection=connection)
    # Requested through the database only (as from another process, without the cache flag).
    cloud.before[(USER, "global")] = lambda: None
    original = sync.write_inventory

    def cancel_then_write(run_, *args):
        SyncRun.objects.unscoped().filter(pk=run_.pk).update(cancel_requested=True)
        return original(run_, *args)

    sync.write_inventory = cancel_then_write
    try:
        finished = sync.run_sync(run.pk)
    finally:
        sync.write_inventory = original
    assert finished.status == S.CANCELLED
    assert inventory(connection) == before
    assert actions.do_request_cancel(finished) is False  # over: nothing to cancel


def test_relationships_are_rebuilt_and_unresolved_targets_counted(cloud, connection):
    populate(cloud, per_region=1)
    instance = cloud.find(INSTANCE, "eu-west-1", "i-0")
    vpc = cloud.find(VPC, "eu-west-1", "vpc-0")
    user = cloud.find(USER, "global", "alice")
    instance.relations = [Rel("in_vpc", vpc.native_id), Rel("uses_role", "arn:aws:iam::123456789012:role/missing")]
    run = sync_now(connection)
    assert run.unresolved_relations == 1
    assert (instance.native_id, vpc.native_id, "in_vpc") in relationships(connection)

    instance.relations = [Rel("managed_by", user.native_id)]
    run = sync_now(connection)
    assert run.unresolved_relations == 0
    mine = {r for r in relationships(connection) if r[0] == instance.native_id}
    assert mine == {(instance.native_id, user.native_id, "managed_by")}

    # The target disappears: its relationships go with it.
    cloud.remove(USER, "global", "alice")
    sync_now(connection)
    assert not {r for r in relationships(connection) if r[0] == instance.native_id}


def test_duplicate_native_ids_in_a_run_are_stored_once(cloud, connection):
    record = cloud.add(VPC, "eu-west-1", "vpc-dup")
    cloud.add(VPC, "eu-west-1", "vpc-dup-again", native_id=record.native_id)
    run = sync_now(connection)
    assert run.status == S.SUCCEEDED
    assert Resource.objects.for_org(connection.org).filter(native_id=record.native_id).count() == 1


def test_the_fetched_records_are_let_go_before_the_hooks_run(cloud, connection, monkeypatch):
    """The findings hook loads the inventory again: the scan's own records must not still be held then
    (at a million resources, holding both doubled the worker's peak memory)."""
    populate(cloud)
    fetched: list[weakref.ref] = []
    real_summarize = sync.summarize

    def watching(fetch):
        fetched.append(weakref.ref(fetch))
        fetched.extend(weakref.ref(record) for result in fetch.results for record in result.records)
        return real_summarize(fetch)

    still_held = []
    monkeypatch.setattr(sync, "summarize", watching)
    monkeypatch.setattr(hooks, "after_sync", [lambda run: still_held.append(sum(r() is not None for r in fetched))])
    run = sync_now(connection)
    assert run.status == S.SUCCEEDED and len(fetched) == 1 + run.resource_count > 10
    assert still_held == [0]  # released by reference counting alone: no garbage collection needed


def test_hooks_run_after_a_sync_that_wrote(cloud, connection, monkeypatch):
    populate(cloud, per_region=1)
    seen = []
    monkeypatch.setattr(hooks, "after_sync", [lambda run: seen.append(run.status), lambda run: 1 / 0])
    sync_now(connection)
    cloud.fail[(VPC, "eu-west-1")] = client_error("AccessDenied")
    sync_now(connection)
    for key in list(cloud.records):
        cloud.fail[key] = client_error("AccessDenied")
    cloud.fail[(INSTANCE, "us-east-1")] = client_error("AccessDenied")
    cloud.fail[(INSTANCE, "eu-west-1")] = client_error("AccessDenied")
    cloud.fail[(VPC, "us-east-1")] = client_error("AccessDenied")
    assert sync_now(connection).status == S.FAILED
    assert seen == ["succeeded", "partial"]  # a failing hook never fails the sync


def test_a_large_account_across_regions(cloud, connection):
    """6,000 resources over 2 regions + global, with relationships; then a second sync with churn."""
    for region in REGIONS:
        vpcs = [cloud.add(VPC, region, f"vpc-{i}", config={"cidr": f"10.{i % 250}.0.0/16"}) for i in range(500)]
        for i in range(2400):
            cloud.add(
                INSTANCE,
                region,
                f"i-{i:05d}",
                config={"type": "t3.micro", "index": i, "disks": [{"size": 8}]},
                tags={"env": "prod" if i % 2 else "dev"},
                relations=[Rel("in_vpc", vpcs[i % 500].native_id)],
            )
    for i in range(200):
        cloud.add(USER, "global", f"user-{i}")
    run = sync_now(connection)
    assert run.status == S.SUCCEEDED
    assert run.resource_count == 6000 == Resource.objects.for_org(connection.org).count()
    assert Relationship.objects.for_org(connection.org).count() == 4800
    ids = dict(Resource.objects.for_org(connection.org).values_list("native_id", "id"))

    for i in range(0, 2400, 10):
        cloud.find(INSTANCE, "eu-west-1", f"i-{i:05d}").config["type"] = "m5.large"
    for i in range(100):
        cloud.remove(INSTANCE, "us-east-1", f"i-{i:05d}")
    run = sync_now(connection)
    assert (run.created_count, run.modified_count, run.deleted_count) == (0, 240, 100)
    after = dict(Resource.objects.for_org(connection.org).values_list("native_id", "id"))
    assert all(ids[k] == v for k, v in after.items())
    assert len(after) == 5900


def _churn(cloud, n: int, round_: int) -> None:
    """n instances per region: each round modifies all of them, creates a tenth and deletes 40 (Django
    deletes 100 rows per DELETE statement, so a fixed number keeps the comparison like for like)."""
    for region in REGIONS:
        cloud.records[(INSTANCE, region)] = [
            r for r in cloud.records[(INSTANCE, region)] if not r.name.endswith(f"-r{round_ - 1}-del")
        ]
        for record in cloud.records[(INSTANCE, region)]:
            record.config["round"] = round_
        for i in range(n // 10):
            suffix = "-del" if i < 20 else ""
            cloud.add(INSTANCE, region, f"i-{i}-r{round_}{suffix}", config={"round": round_})
        vpc = cloud.records[(VPC, region)][0]
        for record in cloud.records[(INSTANCE, region)]:
            record.relations = [Rel("in_vpc", vpc.native_id)]


def _queries_for_syncs(cloud, connection, n: int) -> list[int]:
    for region in REGIONS:
        cloud.add(VPC, region, "vpc-main")
        for i in range(n):
            cloud.add(INSTANCE, region, f"i-{i}", config={"round": 0})
    counts = []
    for round_ in range(3):
        if round_:
            _churn(cloud, n, round_)
        with CaptureQueriesContext(db) as ctx:
            run = sync_now(connection)
        assert run.status == S.SUCCEEDED
        counts.append(len(ctx.captured_queries))
    return counts


def test_query_count_does_not_grow_with_resources(
    cloud, connection, org, settings, monkeypatch, django_assert_max_num_queries
):
    settings.SYNC_HEARTBEAT_SECONDS = 3600  # no time-based heartbeats in the count
    from tests.inventory.sync_helpers import make_connection

    with monkeypatch.context() as patch:
        patch.setattr(sync, "BATCH_SIZE", 10_000)  # one INSERT per table, to compare like with like
        patch.setattr(sync, "ID_CHUNK", 10_000)
        small = _queries_for_syncs(cloud, connection, 50)
        cloud.records.clear()
        # ~2,000 resources, modified, deleted and created each round: as many queries as 100.
        big = _queries_for_syncs(cloud, make_connection(org, name="Big"), 1000)
    assert big == small, f"queries per sync grew with resources: {small} → {big}"
    cloud.records.clear()
    for region in REGIONS:
        for i in range(2500):
            cloud.add(INSTANCE, region, f"x-{i}")
    # 5,000 resources: a few more INSERT batches (2,000 rows each), nothing per resource.
    with django_assert_max_num_queries(small[0] + 6):
        sync_now(make_connection(org, name="Bigger"))


def test_units_start_with_the_global_ones_then_each_type_across_regions(cloud):
    from inventory.collectors.base import collectors_for

    units = sync.plan_units(collectors_for("aws"), REGIONS)
    assert [u.scope for u in units] == [
        (USER, "global"),
        (INSTANCE, "eu-west-1"),
        (INSTANCE, "us-east-1"),
        (VPC, "eu-west-1"),
        (VPC, "us-east-1"),
    ]


def test_resource_diff_paths():
    old = {"name": "a", "tags": {"x": "1", "a.b/c": "2"}, "config": {"l": [1, 2], "d": {"e": {"f": 1}}, "gone": 1}}
    new = {"name": "a", "tags": {"x": "1"}, "config": {"l": [2, 1], "d": {"e": {"f": 2}}, "new": None}}
    assert resource_diff(old, new) == {
        "config.d.e.f": {"old": 1, "new": 2},
        "config.gone": {"old": 1, "new": None},
        "config.l": {"old": [1, 2], "new": [2, 1]},
        "config.new": {"old": None, "new": None},
        'tags["a.b/c"]': {"old": "2", "new": None},
    }
    assert resource_diff(old, old) == {}


def test_canonical_config_never_looks_changed(cloud, connection):
    """Tuples, datetimes, sets and numeric keys are stored as JSON: read back, they compare equal."""
    from datetime import UTC, datetime

    cloud.add(
        VPC,
        "eu-west-1",
        "odd",
        config={"t": (1, 2), "when": datetime(2026, 1, 1, tzinfo=UTC), 3: "three", "s": {"b", "a"}},
    )
    sync_now(connection)
    assert sync_now(connection).modified_count == 0
    stored = Resource.objects.for_org(connection.org).get(name="odd").config
    assert stored == {"t": [1, 2], "when": "2026-01-01T00:00:00+00:00", "3": "three", "s": ["a", "b"]}


def test_tags_and_config_are_queryable_json(cloud, connection):
    populate(cloud)
    sync_now(connection)
    resources = Resource.objects.for_org(connection.org).filter(connection=connection)
    assert resources.filter(tags__env="prod").count() == 6
    assert resources.filter(config__nested__a=1, config__type="t3.micro").count() == 6
    if db.vendor == "postgresql":
        assert resources.filter(tags__contains={"env": "prod"}, config__contains={"state": "running"}).count() == 6
        with db.cursor() as cursor:
            indexes = db.introspection.get_constraints(cursor, Resource._meta.db_table)
        assert {"inventory_resource_tags_gin", "inventory_resource_config_gin"} <= set(indexes)
        assert indexes["inventory_resource_tags_gin"]["type"] == "gin"


def test_a_time_limit_in_the_calling_thread_stops_the_queued_units(settings):
    """Celery's soft time limit lands in the thread that waits on the pool: the queued units must never
    start (otherwise leaving the pool waits for all of them and only the hard limit ends the task)."""
    import threading

    class SoftTimeLimit(Exception):
        pass

    class Control:
        interval = 0.01
        cancelled = threading.Event()

        def start(self, total):
            pass

        def record(self, result):
            pass

        def tick(self, done):
            raise SoftTimeLimit

    started = []

    def work(unit):
        started.append(unit)
        time.sleep(0.05)
        return sync.UnitResult(unit, coverage.COLLECTED)

    units = [sync.Unit(f"collector-{i}", "eu-west-1") for i in range(40)]
    control = Control()
    with pytest.raises(SoftTimeLimit):
        sync.execute_units(units, work, control, max_workers=2)
    assert control.cancelled.is_set()
    assert len(started) <= 4, f"{len(started)} of 40 units ran after the time limit"


def test_values_that_change_on_every_read_are_stored_but_never_a_change(cloud, connection):
    """The scanning role's last use moves with every scan (and last-used dates with any use): the record
    keeps the new value for the rules, but no change event and no "modified" count."""
    role = cloud.register("fake.role", regional=False, service="iam", volatile=("last_used", "keys[].last_used"))
    cloud.add(
        role, "global", "scanner", config={"last_used": {"date": "2026-01-01"}, "keys": [{"id": "k", "last_used": "a"}]}
    )
    sync_now(connection)
    scanner = cloud.find(role, "global", "scanner")
    scanner.config = {"last_used": {"date": "2026-01-02"}, "keys": [{"id": "k", "last_used": "b"}]}
    quiet = sync_now(connection)
    assert (quiet.created_count, quiet.modified_count, quiet.deleted_count) == (0, 0, 0)
    assert not ResourceChange.objects.for_org(connection.org).filter(sync_run=quiet).exists()
    stored = Resource.objects.for_org(connection.org).get(native_id=scanner.native_id)
    assert stored.config["last_used"] == {"date": "2026-01-02"}  # the rules see today's value

    scanner.config = {"last_used": {"date": "2026-01-03"}, "keys": [{"id": "k2", "last_used": "b"}]}
    real = sync_now(connection)
    assert real.modified_count == 1
    change = ResourceChange.objects.for_org(connection.org).get(sync_run=real)
    assert list(change.diff) == ["config.keys"]


def test_strip_volatile_reaches_into_lists_and_leaves_the_original_alone():
    from inventory.diff import strip_volatile

    config = {"a": 1, "report": {"at": "t", "keep": 2}, "keys": [{"id": 1, "used": "x"}, {"id": 2}], "n": None}
    stripped = strip_volatile(config, ("report.at", "keys[].used", "missing.path", "n.deeper"))
    assert stripped == {"a": 1, "report": {"keep": 2}, "keys": [{"id": 1}, {"id": 2}], "n": None}
    assert config["report"]["at"] == "t" and config["keys"][0]["used"] == "x"
