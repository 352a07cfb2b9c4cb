"""Retention by plan: the daily task deletes history older than the plan keeps (scan runs, change
events, finding events, daily counts), in batches, and never the current inventory, a finding (open or
not), a connection's last inventory-writing run or its latest daily counts."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from billing import retention, tasks
from billing.models import BillingAccount
from billing.plans import TEAM
from findings.models import DailyFindingCount, Finding, FindingEvent
from inventory.models import DailyCount, Resource, ResourceChange, SyncRun
from tests.factories import MembershipFactory
from tests.inventory.sync_helpers import make_connection

S = SyncRun.Status


def days_ago(n: int):
    return timezone.now() - timedelta(days=n)


def build_history(org, conn):
    """Per kind: something older than Free's 30 days and something recent; returns the rows by name."""
    rows = {}
    runs = SyncRun.objects.for_org(org)
    rows["old_run"] = runs.create(
        connection=conn, status=S.SUCCEEDED, created_at=days_ago(60), finished_at=days_ago(60)
    )
    rows["old_failed_run"] = runs.create(connection=conn, status=S.FAILED, created_at=days_ago(50))
    rows["last_wrote_run"] = runs.create(
        connection=conn, status=S.PARTIAL, created_at=days_ago(40), finished_at=days_ago(40)
    )
    rows["recent_failed_run"] = runs.create(connection=conn, status=S.FAILED, created_at=days_ago(1))
    resource = Resource.objects.create(
        org=org, connection=conn, provider="aws", resource_type="aws.fake.vpc", native_id="vpc-1", region="eu-west-1",
        first_seen=days_ago(200), last_seen=days_ago(40),
    )  # fmt: skip
    rows["resource"] = resource
    changes = ResourceChange.objects
    common = {
        "org": org,
        "connection": conn,
        "resource": resource,
        "resource_type": "aws.fake.vpc",
        "native_id": "vpc-1",
    }
    rows["old_change"] = changes.create(sync_run=rows["old_run"], kind="created", created_at=days_ago(60), **common)
    rows["new_change"] = changes.create(
        sync_run=rows["last_wrote_run"], kind="modified", created_at=days_ago(2), **common
    )
    counts = {"org": org, "connection": conn, "resource_type": "aws.fake.vpc", "region": "eu-west-1", "count": 1}
    rows["old_count"] = DailyCount.objects.create(date=days_ago(60).date(), **counts)
    rows["latest_old_count"] = DailyCount.objects.create(date=days_ago(40).date(), **counts)  # the latest day
    finding = Finding.objects.create(
        org=org, connection=conn, resource=resource, rule_id="r1", title="Open one", severity="low", category="cost",
        resource_type="aws.fake.vpc", native_id="vpc-1", first_seen=days_ago(200),
    )  # fmt: skip
    rows["finding"] = finding
    rows["old_event"] = FindingEvent.objects.create(org=org, finding=finding, kind="opened", at=days_ago(200))
    rows["new_event"] = FindingEvent.objects.create(org=org, finding=finding, kind="reopened", at=days_ago(3))
    fcounts = {"org": org, "connection": conn, "severity": "low", "category": "cost", "count": 1}
    rows["old_fcount"] = DailyFindingCount.objects.create(date=days_ago(90).date(), **fcounts)
    rows["new_fcount"] = DailyFindingCount.objects.create(date=days_ago(5).date(), **fcounts)
    return rows


def exists(row) -> bool:
    return type(row)._base_manager.filter(pk=row.pk).exists()


def test_prunes_what_the_free_plan_does_not_keep(org):
    conn = make_connection(org)
    rows = build_history(org, conn)
    counts = retention.prune_org(org, batch_size=1)  # one row per batch: the loop runs to the end
    gone = {"old_run", "old_failed_run", "old_change", "old_count", "old_event", "old_fcount"}
    for name, row in rows.items():
        assert exists(row) is (name not in gone), name
    # (Other apps register their own history too: automations' runs and deliveries, none here.)
    assert {name: n for name, n in counts.items() if n} == {
        "inventory.ResourceChange": 1,
        "inventory.SyncRun": 2,
        "inventory.DailyCount": 1,
        "findings.FindingEvent": 1,
        "findings.DailyFindingCount": 1,
    }
    assert not any(retention.prune_org(org).values())  # idempotent


def test_a_bigger_plan_keeps_more(org):
    BillingAccount.objects.create(org=org, plan=TEAM, status="active", stripe_subscription_id="sub_1")
    conn = make_connection(org)
    rows = build_history(org, conn)
    retention.prune_org(org)  # Team keeps 180 days
    assert exists(rows["old_run"]) and exists(rows["old_change"]) and exists(rows["old_fcount"])
    assert not exists(rows["old_event"])  # 200 days old


def test_only_the_orgs_own_history_is_pruned(org, outsider):
    mine = build_history(org, make_connection(org))
    theirs = build_history(outsider.org, make_connection(outsider.org, name="Theirs"))
    BillingAccount.objects.create(org=outsider.org, plan=TEAM, status="active", stripe_subscription_id="sub_2")
    retention.prune_org(org)
    assert not exists(mine["old_run"]) and exists(theirs["old_run"])


def test_active_runs_are_never_pruned(org):
    conn = make_connection(org)
    stuck = SyncRun.objects.for_org(org).create(connection=conn, status=S.RUNNING, created_at=days_ago(90))
    retention.prune_org(org)
    assert exists(stuck)


def test_the_daily_task_prunes_every_org(org, eager_celery):
    rows = build_history(org, make_connection(org))
    other = MembershipFactory().org
    other_rows = build_history(other, make_connection(other, name="Other"))
    assert tasks.prune_history.delay().get() >= 2
    assert not exists(rows["old_event"]) and not exists(other_rows["old_event"])
    assert exists(rows["finding"]) and exists(rows["resource"])
