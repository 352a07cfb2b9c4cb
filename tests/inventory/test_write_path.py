"""The write path after its optimisation: hashes decide what is diffed and written, an unchanged re-sync
writes no resource row, and created / modified / deleted / unchanged / failed scope stay exactly right.
The delta handed to the after-sync hooks names what changed."""

from __future__ import annotations

from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from inventory import hooks, sync
from inventory.collectors.base import Rel, ResourceRecord
from inventory.diff import record_hashes
from inventory.models import Relationship, Resource, ResourceChange, SyncRun
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import INSTANCE, USER, VPC, client_error, populate, sync_now

aws, cloud, connection = helpers.aws, helpers.cloud, helpers.connection
S = SyncRun.Status
QUEUE = "aws.fake.queue"


def stored(connection) -> dict[str, tuple]:
    rows = Resource.objects.for_org(connection.org).filter(connection=connection)
    fields = ("native_id", "id", "name", "tags", "config", "updated_at", "last_seen", "content_hash", "volatile_hash")
    return {row[0]: row[1:] for row in rows.values_list(*fields)}


def rels(connection) -> set[tuple[str, str, str]]:
    rows = Relationship.objects.for_org(connection.org).filter(connection=connection)
    return set(rows.values_list("source__native_id", "target__native_id", "kind"))


def writes_to(ctx: CaptureQueriesContext, table: str) -> list[str]:
    verbs = ("INSERT", "UPDATE", "DELETE", "COPY")
    return [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(verbs) and table in q["sql"].split("(")[0]]


def changes(connection, run) -> dict[str, dict]:
    rows = ResourceChange.objects.for_org(connection.org).filter(sync_run=run)
    return {f"{c.kind} {c.native_id.rsplit('/', 1)[-1]}": c.diff for c in rows}


def test_hash_of_the_canonical_form():
    base = ("aws.fake.instance", "eu-west-1", "web", {"env": "prod"}, {"a": 1, "b": {"c": [1, 2]}})
    content, volatile = record_hashes(*base, [("in_vpc", "vpc-1")])
    assert len(content) == 64 and volatile == ""  # sha256 hex; no volatile keys, no volatile hash
    reordered = ("aws.fake.instance", "eu-west-1", "web", {"env": "prod"}, {"b": {"c": [1, 2]}, "a": 1})
    assert record_hashes(*reordered, [("in_vpc", "vpc-1"), ("in_vpc", "vpc-1")])[0] == content
    for changed in (
        ("aws.fake.instance", "eu-west-1", "web", {"env": "dev"}, base[4]),  # a tag
        ("aws.fake.instance", "eu-west-1", "web", base[3], {"a": 2, "b": {"c": [1, 2]}}),  # config
        ("aws.fake.instance", "eu-west-1", "web", base[3], {"a": 1, "b": {"c": [2, 1]}}),  # list order counts
        ("aws.fake.instance", "us-east-1", "web", base[3], base[4]),  # region
        ("aws.fake.instance", "eu-west-1", "api", base[3], base[4]),  # name
    ):
        assert record_hashes(*changed, [("in_vpc", "vpc-1")])[0] != content
    assert record_hashes(*base, [("in_vpc", "vpc-2")])[0] != content  # relationships are part of it
    # A volatile key is left out of the content hash and covered by the volatile one.
    quiet = record_hashes(*base[:4], {"a": 1, "b": {"c": [1, 2]}, "seen": 1}, [], ("seen",))
    moved = record_hashes(*base[:4], {"a": 1, "b": {"c": [1, 2]}, "seen": 2}, [], ("seen",))
    assert quiet[0] == moved[0] and quiet[1] != moved[1] and quiet[1]


def test_unchanged_resync_writes_no_resource_row(cloud, connection):
    populate(cloud)
    first = sync_now(connection)
    before = stored(connection)
    assert all(len(row[6]) == 64 for row in before.values()), "every row carries its content hash"
    assert first.created_count == len(before) == 14

    with CaptureQueriesContext(db) as ctx:
        again = sync_now(connection)
    assert again.status == S.SUCCEEDED
    assert (again.created_count, again.modified_count, again.deleted_count) == (0, 0, 0)
    assert not writes_to(ctx, "inventory_resource "), "no INSERT/UPDATE/DELETE of a resource"
    assert not writes_to(ctx, "inventory_relationship")
    assert not writes_to(ctx, "inventory_resourcechange")
    assert stored(connection) == before, "last_seen included: an unchanged row is not rewritten"
    assert rels(connection) and len(rels(connection)) == 6
    assert changes(connection, again) == {}


def test_created_modified_deleted_with_field_diffs(cloud, connection):
    populate(cloud)
    sync_now(connection)
    before = stored(connection)
    tagged = cloud.find(INSTANCE, "eu-west-1", "i-0")
    tagged.tags = {**tagged.tags, "env": "staging"}
    configured = cloud.find(VPC, "us-east-1", "vpc-1")
    configured.config = {**configured.config, "flow_logs": True}
    cloud.remove(INSTANCE, "us-east-1", "i-2")
    cloud.add(USER, "global", "carol", config={"mfa": False})

    run = sync_now(connection)
    assert (run.created_count, run.modified_count, run.deleted_count) == (1, 2, 1)
    assert changes(connection, run) == {
        "modified i-0": {"tags.env": {"old": "prod", "new": "staging"}},
        "modified vpc-1": {"config.flow_logs": {"old": False, "new": True}},
        "deleted i-2": {},
        "created carol": {},
    }
    after = stored(connection)
    assert after[tagged.native_id][0] == before[tagged.native_id][0], "the same row, the same id"
    assert after[tagged.native_id][2] == {"Name": "i-0", "env": "staging"}
    assert after[tagged.native_id][6] != before[tagged.native_id][6], "its hash follows"
    assert after[configured.native_id][3]["flow_logs"] is True
    # The rows nobody changed were not written.
    untouched = cloud.find(INSTANCE, "eu-west-1", "i-1").native_id
    assert after[untouched] == before[untouched]


def test_a_change_only_in_a_volatile_key_is_no_change_but_is_stored(cloud, connection):
    cloud.register("fake.queue", service="sqs", volatile=("messages",))
    queue = cloud.add(QUEUE, "eu-west-1", "jobs", config={"encrypted": False, "messages": 3})
    sync_now(connection)
    before = stored(connection)[queue.native_id]

    queue.config["messages"] = 40
    run = sync_now(connection)
    assert (run.created_count, run.modified_count, run.deleted_count) == (0, 0, 0)
    assert changes(connection, run) == {}
    after = stored(connection)[queue.native_id]
    assert after[3] == {"encrypted": False, "messages": 40}, "rules read the new value"
    assert after[6] == before[6] and after[7] != before[7], "same content hash, new volatile hash"

    queue.config["encrypted"] = True
    run = sync_now(connection)
    assert run.modified_count == 1
    assert changes(connection, run) == {"modified jobs": {"config.encrypted": {"old": False, "new": True}}}


def test_relationships_follow_their_source_and_late_targets(cloud, connection):
    populate(cloud, per_region=2)
    sync_now(connection)
    instance = cloud.find(INSTANCE, "eu-west-1", "i-0")
    vpc0, vpc1 = (cloud.find(VPC, "eu-west-1", f"vpc-{i}").native_id for i in (0, 1))
    # A relation to a resource not collected yet: unresolved, then resolved once the target appears,
    # although the source itself does not change again.
    instance.relations = [Rel("in_vpc", vpc1), Rel("uses_role", "arn:aws:fake:global:123:user/dave")]
    run = sync_now(connection)
    assert run.modified_count == 0, "a relationship is not a field change"
    assert (instance.native_id, vpc1, "in_vpc") in rels(connection)
    assert (instance.native_id, vpc0, "in_vpc") not in rels(connection)
    assert run.unresolved_relations == 1
    cloud.add(USER, "global", "dave", native_id="arn:aws:fake:global:123:user/dave")
    run = sync_now(connection)
    assert run.unresolved_relations == 0
    assert (instance.native_id, "arn:aws:fake:global:123:user/dave", "uses_role") in rels(connection)
    # Deleting a target takes its relationships with it; the source stays unchanged.
    cloud.remove(VPC, "eu-west-1", "vpc-1")
    run = sync_now(connection)
    assert run.deleted_count == 1 and run.unresolved_relations == 2  # i-0 and i-1 pointed at it
    assert not any(target == vpc1 for _, target, _ in rels(connection))


def test_a_failed_scope_keeps_its_resources_untouched(cloud, connection):
    populate(cloud)
    sync_now(connection)
    before = stored(connection)
    cloud.fail[(INSTANCE, "us-east-1")] = client_error("AccessDenied")
    cloud.remove(INSTANCE, "us-east-1", "i-0")  # unseen, not gone
    cloud.find(INSTANCE, "eu-west-1", "i-0").config["type"] = "m5.large"
    run = sync_now(connection)
    assert run.status == S.PARTIAL
    assert (run.created_count, run.modified_count, run.deleted_count) == (0, 1, 0)
    after = stored(connection)
    assert after.keys() == before.keys()
    kept = [k for k in before if "us-east-1" in k and "/i-" in k]
    assert kept and all(after[k] == before[k] for k in kept)


def test_rows_without_a_hash_are_diffed_once_then_hashed(cloud, connection):
    populate(cloud)
    sync_now(connection)
    Resource.objects.for_org(connection.org).filter(connection=connection).update(content_hash="", volatile_hash="")
    run = sync_now(connection)
    assert (run.created_count, run.modified_count, run.deleted_count) == (0, 0, 0)
    assert changes(connection, run) == {}
    assert all(len(row[6]) == 64 for row in stored(connection).values())


def test_the_hooks_get_what_changed(cloud, connection, monkeypatch):
    populate(cloud)
    deltas = []
    monkeypatch.setattr(hooks, "after_sync", [lambda run: deltas.append(run.inventory_delta)])
    sync_now(connection)
    ids = dict(Resource.objects.for_org(connection.org).filter(connection=connection).values_list("native_id", "id"))
    assert deltas[-1].changed_ids == deltas[-1].created_ids == frozenset(ids.values())

    sync_now(connection)
    assert deltas[-1].empty

    instance = cloud.find(INSTANCE, "eu-west-1", "i-0")
    instance.config["type"] = "m5.large"
    vpc = instance.relations[0].target_native_id
    gone = cloud.find(INSTANCE, "us-east-1", "i-1")
    us_vpc = gone.relations[0].target_native_id
    cloud.remove(INSTANCE, "us-east-1", "i-1")
    sync_now(connection)
    delta = deltas[-1]
    assert delta.changed_ids == {ids[instance.native_id]} and not delta.created_ids
    assert delta.deleted_native_ids == {gone.native_id}
    assert delta.relinked_ids == {ids[us_vpc]}, "the other end of the deleted resource's relationship"
    assert ids[vpc] not in delta.relinked_ids, "an unchanged relationship is not relinked"


def test_records_without_precomputed_hashes_are_hashed_at_write(cloud, connection):
    """A fetch built by hand (no hashes) writes the same inventory as the collectors' path."""
    from inventory.collectors.base import get_collector

    run = SyncRun.objects.for_org(connection.org).create(connection=connection, status=S.RUNNING)
    unit = sync.Unit(get_collector(USER), "global")
    record = ResourceRecord(native_id="arn:aws:fake:global:1:user/zoe", name="zoe", region="global")
    record.resource_type = USER
    fetch = sync.FetchResult(units=[unit], results=[sync.UnitResult(unit, "collected", [record])])
    summary = sync.write_inventory(run, connection, fetch, sync.summarize(fetch))
    assert summary.created == 1
    row = Resource.objects.for_org(connection.org).get(native_id=record.native_id)
    assert row.content_hash == sync.hash_record(record)[0]


def test_last_seen_is_the_last_run_that_collected_the_scope(cloud, connection):
    from inventory.seen import fill_last_seen

    populate(cloud)
    sync_now(connection)
    second = sync_now(connection)  # unchanged: no row written, yet every resource was seen again
    cloud.fail[(INSTANCE, "us-east-1")] = client_error("AccessDenied")
    third = sync_now(connection)
    assert third.status == S.PARTIAL

    rows = list(Resource.objects.for_org(connection.org).filter(connection=connection))
    stored_times = {r.pk: r.last_seen for r in rows}
    fill_last_seen(rows, connection.org_id)
    for r in rows:
        expected = second.finished_at if (r.resource_type, r.region) == (INSTANCE, "us-east-1") else third.finished_at
        assert r.last_seen == expected, (r.name, r.region)
        assert stored_times[r.pk] < expected, "the stored value is older: the row was not rewritten"
