"""Evaluation after a sync, proportional to what it changed (findings/incremental.py): an unchanged
re-sync writes no finding; a change re-decides exactly the findings of the changed resources and of the
resources related to them; anything the planner cannot vouch for (rules changed, coverage changed, a
skipped evaluation) is evaluated in full. Every incremental result is checked against a full evaluation
of the same state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from findings import incremental, lifecycle
from findings.models import Finding, FindingEvent, OrgPolicy, RuleStatus
from inventory.hooks import InventoryDelta
from inventory.models import Relationship, Resource, SyncRun
from tests.factories import CloudConnectionFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db
F = Finding.Status
VOLUME, SNAPSHOT = "aws.ec2.volume", "aws.ec2.snapshot"
UNATTACHED, UNENCRYPTED, ORPHANED = (
    "aws-ec2-volume-unattached",
    "aws-ec2-volume-unencrypted",
    "aws-ec2-snapshot-orphaned",
)
TYPES = {VOLUME: ["eu-west-1"], SNAPSHOT: ["eu-west-1"]}
COVERAGE = {(t, r): "collected" for t, regions in TYPES.items() for r in regions}


@pytest.fixture
def conn(org):
    return CloudConnectionFactory(org=org)


def volume(conn, name, **config):
    base = {"volume_id": name, "size_gb": 10, "volume_type": "gp3", "encrypted": True, "state": "in-use"}
    return ResourceFactory(connection=conn, resource_type=VOLUME, name=name, region="eu-west-1", config=base | config)


def snapshot(conn, name, of=None):
    snap = ResourceFactory(
        connection=conn,
        resource_type=SNAPSHOT,
        name=name,
        region="eu-west-1",
        config={"volume_id": of.name if of else "vol-0gone", "size_gb": 10},
    )
    if of is not None:
        Relationship.objects.create(org=conn.org, connection=conn, source=snap, target=of, kind="snapshot_of")
    return snap


@pytest.fixture
def estate(conn):
    """Three volumes (one unattached, one unencrypted), a snapshot of each, synced and evaluated in full."""
    synced(conn, TYPES, finished_at=timezone.now() - timedelta(hours=2))
    vols = [volume(conn, "vol-a"), volume(conn, "vol-b", state="available"), volume(conn, "vol-c", encrypted=False)]
    snaps = [snapshot(conn, f"snap-{v.name[-1]}", of=v) for v in vols]
    lifecycle.evaluate_connection(conn)
    return {r.name: r for r in vols + snaps}


def next_sync(conn, *, changed=(), created=(), deleted=(), relinked=()) -> InventoryDelta:
    run = synced(conn, TYPES)
    return InventoryDelta(
        run_id=run.pk,
        changed_ids=frozenset(r.pk for r in (*changed, *created)),
        created_ids=frozenset(r.pk for r in created),
        deleted_native_ids=frozenset(deleted),
        relinked_ids=frozenset(r.pk for r in relinked),
    )


def state(conn) -> dict[tuple[str, str], tuple]:
    rows = Finding.objects.for_org(conn.org).filter(connection=conn)
    fields = ("rule_id", "native_id", "status", "severity", "monthly_usd", "resource_id", "reopened_count")
    return {(r[0], r[1]): r[2:] for r in rows.values_list(*fields)}


def verdicts(conn) -> dict[str, tuple]:
    rows = RuleStatus.objects.for_org(conn.org).filter(connection=conn)
    return {r[0]: r[1:] for r in rows.values_list("rule_id", "verdict", "checked", "matched", "not_evaluated_count")}


def assert_same_as_full(conn):
    """A full evaluation of the same inventory changes nothing the incremental one left."""
    findings, rules = state(conn), verdicts(conn)
    events = FindingEvent.objects.for_org(conn.org).count()
    summary = lifecycle.evaluate_connection(conn)
    assert (summary.opened, summary.reopened, summary.resolved) == (0, 0, 0)
    assert state(conn) == findings and verdicts(conn) == rules
    assert FindingEvent.objects.for_org(conn.org).count() == events


def evaluate_incrementally(conn, delta):
    """The hook's evaluation, failing if it fell back to loading the whole inventory."""

    def whole_inventory(_connection):
        raise AssertionError("a full evaluation: the whole inventory was loaded")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lifecycle, "load_index", whole_inventory)
        return lifecycle.evaluate_connection(conn, delta=delta)


def finding(conn, rule_id, res) -> Finding:
    return Finding.objects.for_org(conn.org).get(connection=conn, rule_id=rule_id, native_id=res.native_id)


def test_unchanged_resync_writes_no_finding(conn, estate):
    before = state(conn)
    events = FindingEvent.objects.for_org(conn.org).count()
    assert before, "the estate has open findings"
    delta = next_sync(conn)

    def load_records(*args):
        raise AssertionError("nothing changed and no date crossed a threshold: no record is read")

    with CaptureQueriesContext(db) as ctx, pytest.MonkeyPatch.context() as patch:
        patch.setattr(incremental, "_load_records", load_records)
        summary = evaluate_incrementally(conn, delta)
    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    assert not [w for w in writes if "findings_finding" in w.split(" WHERE")[0]], writes
    assert FindingEvent.objects.for_org(conn.org).count() == events
    assert state(conn) == before
    assert summary.opened == summary.resolved == 0
    evaluated_at = set(RuleStatus.objects.for_org(conn.org).values_list("evaluated_at", flat=True))
    assert len(evaluated_at) == 1 and evaluated_at.pop() >= timezone.now() - timedelta(minutes=1)
    assert_same_as_full(conn)


def test_a_change_decides_exactly_its_findings(conn, estate):
    other = estate["vol-c"]
    unencrypted_before = finding(conn, UNENCRYPTED, other)
    fixed = estate["vol-b"]
    Resource.objects.for_org(conn.org).filter(pk=fixed.pk).update(config={**fixed.config, "state": "in-use"})
    broken = estate["vol-a"]
    Resource.objects.for_org(conn.org).filter(pk=broken.pk).update(config={**broken.config, "encrypted": False})

    summary = evaluate_incrementally(conn, next_sync(conn, changed=[fixed, broken]))
    assert (summary.opened, summary.resolved) == (1, 1)
    assert finding(conn, UNATTACHED, fixed).status == F.RESOLVED
    assert finding(conn, UNENCRYPTED, broken).status == F.OPEN
    untouched = finding(conn, UNENCRYPTED, other)
    assert untouched.last_seen == unencrypted_before.last_seen, "a finding outside the change is not written"
    assert_same_as_full(conn)


def test_deleting_a_resource_resolves_its_findings_and_reopens_its_neighbours(conn, estate):
    gone = estate["vol-b"]
    snap = estate["snap-b"]
    assert not Finding.objects.for_org(conn.org).filter(rule_id=ORPHANED, native_id=snap.native_id).exists()
    native_id = gone.native_id
    gone.delete()  # its relationship to the snapshot goes with it

    summary = evaluate_incrementally(conn, next_sync(conn, deleted=[native_id], relinked=[snap]))
    assert summary.resolved >= 1 and summary.opened == 1
    resolved = Finding.objects.for_org(conn.org).get(rule_id=UNATTACHED, native_id=native_id)
    assert resolved.status == F.RESOLVED
    assert finding(conn, ORPHANED, snap).status == F.OPEN, "the related snapshot's finding opened"
    assert_same_as_full(conn)


def test_a_new_relationship_resolves_the_related_finding(conn, estate):
    orphan = snapshot(conn, "snap-x")
    evaluate_incrementally(conn, next_sync(conn, created=[orphan]))
    assert finding(conn, ORPHANED, orphan).status == F.OPEN
    vol = estate["vol-a"]
    Relationship.objects.create(org=conn.org, connection=conn, source=orphan, target=vol, kind="snapshot_of")
    evaluate_incrementally(conn, next_sync(conn, relinked=[orphan, vol]))
    assert finding(conn, ORPHANED, orphan).status == F.RESOLVED
    assert verdicts(conn)[ORPHANED][0] == "pass"
    assert_same_as_full(conn)


def test_created_resources_are_counted_and_judged(conn, estate):
    new = volume(conn, "vol-d", state="available")
    checked = verdicts(conn)[UNATTACHED][1]
    summary = evaluate_incrementally(conn, next_sync(conn, created=[new]))
    assert summary.opened == 1 and finding(conn, UNATTACHED, new).status == F.OPEN
    assert verdicts(conn)[UNATTACHED][1] == checked + 1
    assert_same_as_full(conn)


def test_what_the_planner_cannot_vouch_for_is_evaluated_in_full(conn, estate, monkeypatch):
    from findings.sources import org_rules

    def applicable():
        return [r for r in org_rules(conn.org, providers=["aws"])[0] if r.connection_ids is None]

    coverage = {(t, r): "collected" for t, regions in TYPES.items() for r in regions}
    delta = next_sync(conn)
    assert incremental.plan(conn, applicable(), coverage, delta) is not None
    assert incremental.plan(conn, applicable(), coverage, None) is None
    # A rule change (here a policy): the stored verdicts are for other rules.
    policy = OrgPolicy.objects.create(org=conn.org, name="Owners", kind=OrgPolicy.Kind.REQUIRED_TAGS, values=["o"])
    assert incremental.plan(conn, applicable(), coverage, delta) is None
    lifecycle.evaluate_connection(conn, delta=delta)  # falls back to a full evaluation
    assert Finding.objects.for_org(conn.org).filter(rule_id=f"policy-{policy.pk}", status=F.OPEN).count() == 6
    # A delta that is not the last run's, and a coverage that moved.
    stale = next_sync(conn)
    next_sync(conn)
    assert incremental.plan(conn, applicable(), coverage, stale) is None
    later = next_sync(conn)
    assert (
        incremental.plan(conn, applicable(), {**coverage, ("aws.ec2.instance", "eu-west-1"): "collected"}, later)
        is None
    )
    # An evaluation skipped since the previous sync (paused processing, a failure).
    RuleStatus.objects.for_org(conn.org).update(evaluated_at=timezone.now() - timedelta(days=1))
    assert incremental.plan(conn, applicable(), coverage, next_sync(conn)) is None


def test_rule_change_evaluates_every_connection_in_full(conn, estate, monkeypatch, django_capture_on_commit_callbacks):
    from findings.actions import do_reevaluate_org

    calls = []
    original = lifecycle.evaluate_connection
    monkeypatch.setattr(lifecycle, "evaluate_connection", lambda c, **kw: calls.append(kw) or original(c, **kw))
    with django_capture_on_commit_callbacks(execute=True):
        do_reevaluate_org(conn.org)
    assert calls == [{}], "no delta: everything is evaluated"


def test_rule_reach_counts_nested_relationships():
    from findings.rules import compile_rule

    def reach(condition):
        rule = compile_rule(
            {
                "id": "test-rule",
                "title": "t",
                "severity": "low",
                "category": "cost",
                "resource_types": [SNAPSHOT],
                "condition": condition,
            }
        )
        return incremental.rule_reach([type("R", (), {"rule": rule, "id": "test-rule"})()])[:2]

    assert reach({"path": "config.size_gb", "op": "gt", "value": 1}) == (0, set())
    nested = {"related": {"kind": "snapshot_of", "where": {"related": {"kind": "attached_to", "exists": True}}}}
    assert reach(nested) == (2, set())
    assert reach({"path": "config.start", "op": "older_than_days", "value": 3}) == (0, {SNAPSHOT})


def test_hook_passes_the_sync_delta(conn, estate, monkeypatch):
    from inventory import hooks

    seen = []
    monkeypatch.setattr(lifecycle, "evaluate_connection", lambda c, **kw: seen.append(kw.get("delta")))
    delta = next_sync(conn)
    run = SyncRun.objects.for_org(conn.org).get(pk=delta.run_id)
    hooks.run_after_sync(run, delta)
    hooks.run_after_sync(run, InventoryDelta(run.pk + 1, frozenset(), frozenset(), frozenset(), frozenset()))
    assert seen == [delta, None], "a delta of another run is never trusted"


def test_rules_reading_the_clock_are_judged_again_without_a_change(conn, estate):
    snap = estate["snap-a"]
    started = timezone.now() - timedelta(days=80)
    Resource.objects.for_org(conn.org).filter(pk=snap.pk).update(
        config={**snap.config, "start_time": started.isoformat()}
    )
    lifecycle.evaluate_connection(conn)  # the state as the last evaluation saw it: 80 days old
    assert not Finding.objects.for_org(conn.org).filter(rule_id="aws-ec2-snapshot-old").exists()
    before = state(conn)

    later = timezone.now() + timedelta(days=11)  # 91 days old now, without any change to the data
    since = RuleStatus.objects.for_org(conn.org).first().evaluated_at
    clock = [r for r in applicable_rules(conn) if r.id == "aws-ec2-snapshot-old"]
    assert incremental.clock_targets(conn, clock, since, since + timedelta(hours=1)) == (set(), 0)
    assert incremental.clock_targets(conn, clock, since, later)[0] == {snap.pk}, "only the one that crossed"
    summary = evaluate_incrementally_at(conn, next_sync(conn), later)
    assert summary.opened == 1
    assert finding(conn, "aws-ec2-snapshot-old", snap).status == F.OPEN
    assert {k: v for k, v in state(conn).items() if k[0] != "aws-ec2-snapshot-old"} == before


def applicable_rules(conn):
    from findings.sources import org_rules

    return [r for r in org_rules(conn.org, providers=["aws"])[0] if r.connection_ids is None]


def evaluate_incrementally_at(conn, delta, now):
    def whole_inventory(_connection):
        raise AssertionError("a full evaluation: the whole inventory was loaded")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lifecycle, "load_index", whole_inventory)
        return lifecycle.evaluate_connection(conn, delta=delta, now=now)


def test_an_evaluation_overtaken_by_a_sync_is_not_trusted(conn, estate, monkeypatch):
    """An evaluation that read the inventory while a sync committed may have judged the state before
    it: the next incremental evaluation must not build on it."""
    original = lifecycle._write_daily_counts

    def sync_commits_meanwhile(connection, now):
        synced(conn, TYPES)  # the sync's run, finished while the evaluation was under way
        original(connection, now)

    monkeypatch.setattr(lifecycle, "_write_daily_counts", sync_commits_meanwhile)
    lifecycle.evaluate_connection(conn)
    monkeypatch.undo()
    latest = SyncRun.objects.for_org(conn.org).order_by("-finished_at", "-id").first()
    assert RuleStatus.objects.for_org(conn.org).first().evaluated_at < latest.finished_at
    assert incremental.plan(conn, applicable_rules(conn), COVERAGE, next_sync(conn)) is None
    # Once evaluated again without a sync in between, increments are trusted again.
    lifecycle.evaluate_connection(conn)
    assert incremental.plan(conn, applicable_rules(conn), COVERAGE, next_sync(conn)) is not None


def test_a_failing_plan_falls_back_to_a_full_evaluation(conn, estate, monkeypatch):
    fixed = estate["vol-b"]
    Resource.objects.for_org(conn.org).filter(pk=fixed.pk).update(config={**fixed.config, "state": "in-use"})

    def broken(*args):
        raise ValueError("a bug in the planner")

    monkeypatch.setattr(incremental, "plan", broken)
    summary = lifecycle.evaluate_connection(conn, delta=next_sync(conn, changed=[fixed]))
    assert summary.resolved == 1 and finding(conn, UNATTACHED, fixed).status == F.RESOLVED
