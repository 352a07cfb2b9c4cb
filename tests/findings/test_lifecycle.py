"""The finding lifecycle: open → resolved → reopened, suppression, not evaluated never resolves,
rule statuses, daily counts, and evaluation after every sync."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from findings import lifecycle
from findings.models import DailyFindingCount, Finding, FindingEvent, OrgPolicy, RuleStatus
from findings.sources import BASELINE_RULE_ID
from inventory.models import Resource
from tests.factories import CloudConnectionFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db
F = Finding.Status
VOLUME = "aws.ec2.volume"
UNATTACHED = "aws-ec2-volume-unattached"
UNENCRYPTED = "aws-ec2-volume-unencrypted"


@pytest.fixture
def conn(org):
    return CloudConnectionFactory(org=org)


def volume(conn, name="vol-1", region="eu-west-1", **config):
    base = {"volume_id": name, "size_gb": 100, "volume_type": "gp3", "encrypted": True, "state": "in-use"}
    return ResourceFactory(connection=conn, resource_type=VOLUME, name=name, region=region, config={**base, **config})


def finding(conn, rule_id, res) -> Finding:
    return Finding.objects.for_org(conn.org).get(connection=conn, rule_id=rule_id, native_id=res.native_id)


def events(f: Finding) -> list[str]:
    return list(
        FindingEvent.objects.for_org(f.org).filter(finding=f).order_by("at", "id").values_list("kind", flat=True)
    )


def test_match_opens_a_finding_with_cost_and_identity(conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, state="available")
    summary = lifecycle.evaluate_connection(conn)
    f = finding(conn, UNATTACHED, res)
    assert f.status == F.OPEN and f.resource == res and f.category == "cost" and f.severity
    assert f.monthly_usd and f.monthly_usd > 0  # 100 GB gp3 has a price
    assert f.region == "eu-west-1" and f.resource_name == "vol-1"
    assert events(f) == ["opened"]
    assert summary.opened >= 1
    assert not Finding.objects.for_org(conn.org).filter(rule_id=UNENCRYPTED).exists()


def test_second_evaluation_changes_nothing(conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    volume(conn, state="available", encrypted=False)
    lifecycle.evaluate_connection(conn)
    before = list(Finding.objects.for_org(conn.org).values_list("id", "status", "first_seen"))
    summary = lifecycle.evaluate_connection(conn)
    assert summary.opened == summary.reopened == summary.resolved == 0
    assert list(Finding.objects.for_org(conn.org).values_list("id", "status", "first_seen")) == before
    assert FindingEvent.objects.for_org(conn.org).count() == 2


def test_fixed_resource_resolves_then_regression_reopens(conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, state="available")
    lifecycle.evaluate_connection(conn)
    Resource.objects.for_org(conn.org).filter(pk=res.pk).update(config={**res.config, "state": "in-use"})
    lifecycle.evaluate_connection(conn)
    f = finding(conn, UNATTACHED, res)
    assert f.status == F.RESOLVED and f.resolved_at is not None
    Resource.objects.for_org(conn.org).filter(pk=res.pk).update(config={**res.config, "state": "available"})
    summary = lifecycle.evaluate_connection(conn)
    f.refresh_from_db()
    assert f.status == F.OPEN and f.resolved_at is None and f.reopened_count == 1
    assert summary.reopened == 1
    assert events(f) == ["opened", "resolved", "reopened"]


def test_deleted_resource_resolves_its_findings(conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, state="available")
    lifecycle.evaluate_connection(conn)
    f = finding(conn, UNATTACHED, res)
    res.delete()
    lifecycle.evaluate_connection(conn)
    f.refresh_from_db()
    assert f.status == F.RESOLVED and f.resource is None
    assert FindingEvent.objects.for_org(conn.org).filter(finding=f, kind="resolved").get().note


@pytest.mark.parametrize("status", ["denied", "throttled", "error"])
def test_not_evaluated_scope_never_resolves(conn, status):
    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, state="available")
    lifecycle.evaluate_connection(conn)
    # The next sync could not read volumes: the stored record is stale, and even if it now looks fixed
    # (or vanished), the finding stays open.
    synced(conn, {}, coverage={VOLUME: {"eu-west-1": status}})
    Resource.objects.for_org(conn.org).filter(pk=res.pk).update(config={**res.config, "state": "in-use"})
    lifecycle.evaluate_connection(conn)
    assert finding(conn, UNATTACHED, res).status == F.OPEN
    rs = RuleStatus.objects.for_org(conn.org).get(connection=conn, rule_id=UNENCRYPTED)
    assert rs.verdict == RuleStatus.Verdict.NOT_EVALUATED
    assert rs.not_evaluated[0]["reason"] == status


def test_other_region_collected_resolves_only_there(conn):
    synced(conn, {VOLUME: ["eu-west-1", "us-east-1"]})
    eu = volume(conn, "vol-eu", "eu-west-1", state="available")
    us = volume(conn, "vol-us", "us-east-1", state="available")
    lifecycle.evaluate_connection(conn)
    synced(conn, {}, coverage={VOLUME: {"eu-west-1": "collected", "us-east-1": "denied"}})
    Resource.objects.for_org(conn.org).filter(pk__in=[eu.pk, us.pk]).update(config={**eu.config, "state": "in-use"})
    lifecycle.evaluate_connection(conn)
    assert finding(conn, UNATTACHED, eu).status == F.RESOLVED
    assert finding(conn, UNATTACHED, us).status == F.OPEN


def test_no_sync_yet_evaluates_nothing(conn):
    volume(conn, state="available")
    summary = lifecycle.evaluate_connection(conn)
    assert summary.rules == 0
    assert not Finding.objects.for_org(conn.org).exists()


def test_suppressed_stays_suppressed_until_expiry(conn, owner):
    from findings.actions import do_suppress

    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, state="available")
    lifecycle.evaluate_connection(conn)
    f = finding(conn, UNATTACHED, res)
    do_suppress(f, user=owner, reason="Kept for a migration", until=timezone.now() + timedelta(days=1))
    lifecycle.evaluate_connection(conn)
    f.refresh_from_db()
    assert f.status == F.SUPPRESSED
    assert RuleStatus.objects.for_org(conn.org).get(connection=conn, rule_id=UNATTACHED).verdict == "pass"
    lifecycle.evaluate_connection(conn, now=timezone.now() + timedelta(days=2))
    f.refresh_from_db()
    assert f.status == F.OPEN and not f.suppressed_reason
    assert events(f)[-1] == "unsuppressed"


def test_expire_suppressions_task(conn, owner):
    from findings.actions import do_suppress
    from findings.tasks import expire_suppressions

    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, state="available")
    lifecycle.evaluate_connection(conn)
    f = finding(conn, UNATTACHED, res)
    do_suppress(f, user=owner, reason="Temporary", until=timezone.now() + timedelta(seconds=1))
    Finding.objects.for_org(conn.org).filter(pk=f.pk).update(suppressed_until=timezone.now() - timedelta(seconds=1))
    assert expire_suppressions() == 1
    f.refresh_from_db()
    assert f.status == F.OPEN


def test_rule_status_and_daily_counts(conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    volume(conn, "a", state="available", encrypted=False)
    volume(conn, "b")
    lifecycle.evaluate_connection(conn)
    statuses = dict(RuleStatus.objects.for_org(conn.org).filter(connection=conn).values_list("rule_id", "verdict"))
    assert statuses[UNATTACHED] == "fail" and statuses[UNENCRYPTED] == "fail"
    assert statuses["aws-ec2-volume-gp2"] == "pass"
    # A rule on a type no sync collected is not evaluated, never a pass.
    assert statuses["aws-s3-bucket-public-acl"] == "not_evaluated"
    assert statuses["aws-ec2-instance-imdsv1-allowed"] == "not_evaluated"
    counts = DailyFindingCount.objects.for_org(conn.org).filter(connection=conn)
    assert sum(c.count for c in counts) == Finding.objects.for_org(conn.org).filter(status=F.OPEN).count() == 2


def test_policy_findings_and_removal(conn, owner):
    synced(conn, {VOLUME: ["eu-west-1", "us-east-1"]})
    tagged = volume(conn, "tagged")
    Resource.objects.for_org(conn.org).filter(pk=tagged.pk).update(tags={"owner": "ops"})
    untagged = volume(conn, "untagged", "us-east-1")
    policy = OrgPolicy.objects.create(
        org=conn.org, name="Owners", kind=OrgPolicy.Kind.REQUIRED_TAGS, resource_types=[VOLUME], values=["owner"]
    )
    regions = OrgPolicy.objects.create(
        org=conn.org, name="EU only", kind=OrgPolicy.Kind.ALLOWED_REGIONS, values=["eu-west-1"]
    )
    lifecycle.evaluate_connection(conn)
    f = finding(conn, f"policy-{policy.pk}", untagged)
    assert f.category == "drift" and f.rule_source == "policy" and "owner" in f.title
    assert not Finding.objects.for_org(conn.org).filter(rule_id=f"policy-{policy.pk}", native_id=tagged.native_id)
    assert finding(conn, f"policy-{regions.pk}", untagged).status == F.OPEN
    policy.enabled = False
    policy.save()
    lifecycle.evaluate_connection(conn)
    f.refresh_from_db()
    assert f.status == F.RESOLVED


def test_allowed_sizes_policy(conn):
    synced(conn, {"aws.ec2.instance": ["eu-west-1"]})
    big = ResourceFactory(connection=conn, config={"instance_type": "m5.24xlarge", "state": "running"})
    small = ResourceFactory(connection=conn, config={"instance_type": "t3.micro", "state": "running"})
    policy = OrgPolicy.objects.create(
        org=conn.org, name="Small", kind=OrgPolicy.Kind.ALLOWED_SIZES, values=["t3.micro", "t3.small"]
    )
    lifecycle.evaluate_connection(conn)
    ids = set(
        Finding.objects.for_org(conn.org).filter(rule_id=f"policy-{policy.pk}").values_list("native_id", flat=True)
    )
    assert ids == {big.native_id} and small.native_id not in ids


def test_baseline_drift_and_reapproval(conn, owner, django_capture_on_commit_callbacks):
    from findings.actions import do_approve_baseline

    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn)
    with django_capture_on_commit_callbacks(execute=True):
        do_approve_baseline([res], user=owner, org=conn.org)
    Resource.objects.for_org(conn.org).filter(pk=res.pk).update(config={**res.config, "volume_type": "gp2"})
    lifecycle.evaluate_connection(conn)
    f = finding(conn, BASELINE_RULE_ID, res)
    assert f.category == "drift"
    assert f.detail["diff"]["config.volume_type"] == {"old": "gp3", "new": "gp2"}
    res.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        do_approve_baseline([res], user=owner, org=conn.org)
    f.refresh_from_db()
    assert f.status == F.RESOLVED


def test_sync_hook_evaluates(conn, monkeypatch):
    from inventory import hooks
    from inventory.models import SyncRun

    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, state="available")
    run = SyncRun.objects.for_org(conn.org).first()
    hooks.run_after_sync(run)
    assert finding(conn, UNATTACHED, res).status == F.OPEN


def test_other_connections_untouched(conn, org):
    other = CloudConnectionFactory(org=org)
    synced(conn, {VOLUME: ["eu-west-1"]})
    synced(other, {VOLUME: ["eu-west-1"]})
    volume(other, "theirs", state="available")
    lifecycle.evaluate_connection(other)
    lifecycle.evaluate_connection(conn)
    assert Finding.objects.for_org(org).filter(connection=other, status=F.OPEN).exists()


def test_rule_narrowed_to_fewer_types_resolves_the_dropped_ones(conn):
    synced(conn, {VOLUME: ["eu-west-1"], "aws.ec2.instance": ["eu-west-1"]})
    vol = volume(conn)
    ResourceFactory(connection=conn, name="web")
    policy = OrgPolicy.objects.create(
        org=conn.org,
        name="Owners",
        kind=OrgPolicy.Kind.REQUIRED_TAGS,
        resource_types=[VOLUME, "aws.ec2.instance"],
        values=["owner"],
    )
    lifecycle.evaluate_connection(conn)
    f = finding(conn, f"policy-{policy.pk}", vol)
    assert f.status == F.OPEN
    policy.resource_types = ["aws.ec2.instance"]
    policy.save()
    lifecycle.evaluate_connection(conn)
    f.refresh_from_db()
    assert f.status == F.RESOLVED
    assert Finding.objects.for_org(conn.org).filter(rule_id=f"policy-{policy.pk}", status=F.OPEN).count() == 1


def test_reevaluating_a_large_connection_runs_bounded_queries(conn, django_assert_max_num_queries):
    synced(conn, {VOLUME: ["eu-west-1"]})
    ResourceFactory.create_batch(
        400,
        connection=conn,
        resource_type=VOLUME,
        config={"volume_id": "v", "size_gb": 10, "volume_type": "gp3", "encrypted": False, "state": "available"},
    )
    lifecycle.evaluate_connection(conn)
    assert Finding.objects.for_org(conn.org).filter(status=F.OPEN).count() == 800
    # Unchanged findings only get last_seen: a handful of UPDATEs by id chunks, never one per row.
    with django_assert_max_num_queries(40):
        summary = lifecycle.evaluate_connection(conn)
    assert summary.opened == summary.resolved == 0


def test_conditions_read_the_real_region_not_the_coverage_scope(org):
    # Azure units are scoped per subscription: grouping uses that scope, but a policy on "region" (and
    # a price looked up by region) must see the resource's own location.
    azure = CloudConnectionFactory(org=org, provider="azure", auth_method="azure_sp")
    sub = "/subscriptions/00000000-0000-0000-0000-000000000001"
    synced(azure, {"azure.compute.vm": [sub]})
    inside = ResourceFactory(
        connection=azure,
        resource_type="azure.compute.vm",
        region="westeurope",
        native_id=f"{sub}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/inside",
    )
    outside = ResourceFactory(
        connection=azure,
        resource_type="azure.compute.vm",
        region="eastus",
        native_id=f"{sub}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/outside",
    )
    policy = OrgPolicy.objects.create(
        org=org, name="EU only", kind=OrgPolicy.Kind.ALLOWED_REGIONS, values=["westeurope"]
    )
    lifecycle.evaluate_connection(azure)
    flagged = set(
        Finding.objects.for_org(org).filter(rule_id=f"policy-{policy.pk}").values_list("native_id", flat=True)
    )
    assert flagged == {outside.native_id} and inside.native_id not in flagged
    assert finding(azure, f"policy-{policy.pk}", outside).region == "eastus"
