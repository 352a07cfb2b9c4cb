"""The organization dashboard: its numbers (dashboard/overview.py), its stages from a new organization to
everyday use, its links, its charts' data, and a bounded number of queries on a large organization."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard import overview as dashboard
from findings.models import DailyFindingCount, Finding
from inventory.models import DailyCount, Resource, ResourceChange, SyncRun
from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    ResourceFactory,
    SyncRunFactory,
    recount_findings,
    synced,
)

pytestmark = pytest.mark.django_db
EC2 = "aws.ec2.instance"
S3 = "aws.s3.bucket"
VM = "azure.compute.vm"


def url(org) -> str:
    return reverse("dashboard:home", kwargs={"org_slug": org.slug})


def page_of(client, org) -> str:
    response = client.get(url(org))
    assert response.status_code == 200
    return response.content.decode()


def days_ago(n: int) -> dt.date:
    return dashboard._today() - dt.timedelta(days=n)


def at_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


@pytest.fixture
def aws(org):
    return CloudConnectionFactory(org=org, name="Prod AWS")


@pytest.fixture
def azure(org):
    return CloudConnectionFactory(org=org, name="Azure sub", provider="azure", auth_method="azure_sp")


@pytest.fixture
def inventory(aws, azure):
    """Prod AWS: 3 instances in eu-west-1, 1 in us-east-1, 2 global buckets; Azure: 2 VMs in westeurope."""
    synced(aws, {EC2: ["eu-west-1", "us-east-1"], S3: ["global"]})
    synced(azure, {VM: ["westeurope"]})
    for _ in range(3):
        ResourceFactory(connection=aws, resource_type=EC2, region="eu-west-1")
    ResourceFactory(connection=aws, resource_type=EC2, region="us-east-1")
    ResourceFactory.create_batch(2, connection=aws, resource_type=S3, region="global")
    ResourceFactory.create_batch(2, connection=azure, resource_type=VM, region="westeurope")
    return {"aws": aws, "azure": azure}


def counts(buckets) -> dict[str, int]:
    return {b.key: b.count for b in buckets}


# --- the numbers --------------------------------------------------------------------------------


def test_resource_counts_by_provider_type_region_and_connection(org, inventory, outsider):
    ResourceFactory(connection=CloudConnectionFactory(org=outsider.org), resource_type=EC2)  # not ours
    result = dashboard.resource_counts(org)
    assert result.total == 8
    assert counts(result.by_provider) == {"aws": 6, "azure": 2}
    assert [b.label for b in result.by_provider] == ["AWS", "Azure"]
    assert counts(result.by_type) == {EC2: 4, S3: 2, VM: 2}
    assert counts(result.by_region) == {"eu-west-1": 3, "global": 2, "westeurope": 2, "us-east-1": 1}
    assert {b.key: b.label for b in result.by_region}["global"] == "Global"
    aws, azure = inventory["aws"], inventory["azure"]
    assert counts(result.by_connection) == {str(aws.pk): 6, str(azure.pk): 2}
    assert {b.label for b in result.by_connection} == {"Prod AWS", "Azure sub"}
    assert result.per_connection == {aws.pk: 6, azure.pk: 2}
    assert (result.type_count, result.region_count) == (3, 4)
    assert result.by_type[0].share == 100 and result.by_type[1].share == 50  # bar widths, largest = 100


def test_resource_counts_fold_the_long_tail_into_other(org, aws):
    for i in range(5):
        ResourceFactory.create_batch(5 - i, connection=aws, resource_type=f"aws.t{i}", region="eu-west-1")
    rows = dashboard.resource_counts(org, top=2).by_type
    assert [(b.key, b.count, b.other) for b in rows] == [("aws.t0", 5, False), ("aws.t1", 4, False), ("", 6, True)]
    assert rows[-1].label == "3 others"


def test_resource_counts_is_one_grouped_query_then_cached(org, inventory, django_assert_num_queries):
    names = {inventory["aws"].pk: "Prod AWS", inventory["azure"].pk: "Azure sub"}
    with django_assert_num_queries(2):  # the inventory's stamp, then the GROUP BY
        first = dashboard.resource_counts(org, names)
    with django_assert_num_queries(1):  # the stamp alone: the groups come from the cache
        assert dashboard.resource_counts(org, names) == first
    # A new resource changes the stamp: the counts are never stale.
    ResourceFactory(connection=inventory["aws"], resource_type="aws.s3.bucket", region="us-east-1")
    assert dashboard.resource_counts(org, names).total == first.total + 1


def test_finding_counts_open_only_and_monthly_waste(org, aws, django_assert_num_queries):
    res = ResourceFactory(connection=aws)
    FindingFactory(resource=res, rule_id="r1", severity="critical", category="security")
    FindingFactory(resource=res, rule_id="r2", severity="high", category="security")
    FindingFactory(resource=res, rule_id="r3", severity="low", category="cost", monthly_usd=Decimal("12.50"))
    FindingFactory(resource=res, rule_id="r4", severity="low", category="cost", monthly_usd=Decimal("7.25"))
    FindingFactory(resource=res, rule_id="r5", severity="medium", category="cost", monthly_usd=None)
    FindingFactory(resource=res, rule_id="r6", severity="info", category="hygiene")
    # Neither resolved nor suppressed findings count, nor their cost.
    FindingFactory(
        resource=res,
        rule_id="r7",
        severity="critical",
        category="cost",
        monthly_usd=100,
        status=Finding.Status.RESOLVED,
    )
    FindingFactory(
        resource=res, rule_id="r8", severity="high", category="cost", monthly_usd=200, status=Finding.Status.SUPPRESSED
    )
    with django_assert_num_queries(1):
        result = dashboard.finding_counts(org)
    assert result.total == 6
    assert counts(result.by_severity) == {"critical": 1, "high": 1, "medium": 1, "low": 2, "info": 1}
    assert [b.key for b in result.by_severity] == ["critical", "high", "medium", "low", "info"]
    assert counts(result.by_category) == {"security": 2, "cost": 3, "drift": 0, "hygiene": 1}
    assert result.critical_high == 2
    assert result.monthly_waste == Decimal("19.75")
    assert result.cost_findings == 3
    assert result.per_connection == {aws.pk: 6}


def test_connection_status_shows_the_last_run(org, aws, azure, django_assert_num_queries):
    now = timezone.now()
    synced(aws, created_at=now - dt.timedelta(days=2), completeness_percent=100)
    last = SyncRunFactory(
        connection=aws,
        status=SyncRun.Status.PARTIAL,
        created_at=now - dt.timedelta(hours=1),
        completeness_percent=87.5,
        warnings=[{"type": EC2, "region": "eu-west-1", "status": "denied"}, {"type": S3, "region": "global"}],
    )
    with django_assert_num_queries(2):
        statuses = dashboard.connection_status(org)
        assert statuses[1].last_run.connection.name  # no query for the run's connection
    by_name = {s.connection.name: s for s in statuses}
    assert [s.connection.name for s in statuses] == ["Azure sub", "Prod AWS"]
    prod = by_name["Prod AWS"]
    assert prod.last_run.pk == last.pk and prod.last_run.status == "partial"
    assert prod.last_run.completeness_percent == 87.5 and prod.warnings == 2
    assert prod.scanned and not prod.running
    assert by_name["Azure sub"].last_run is None and not by_name["Azure sub"].scanned


def test_connection_failing_every_scan_is_not_scanned(org, aws):
    SyncRunFactory(connection=aws, status=SyncRun.Status.FAILED)
    (status,) = dashboard.connection_status(org)
    assert status.last_run.status == "failed" and not status.scanned


def make_change(conn, resource, kind, diff=None, name="web-1", minutes_ago=0, run=None):
    run = run or synced(conn)
    return ResourceChange.objects.for_org(conn.org).create(
        connection=conn,
        sync_run=run,
        resource=resource,
        resource_type=EC2,
        native_id=f"arn:aws:ec2:eu-west-1:123456789012:instance/{name}",
        name=name,
        kind=kind,
        diff=diff or {},
        created_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )


def test_recent_changes_newest_first_with_changed_paths(org, aws, django_assert_num_queries):
    res = ResourceFactory(connection=aws, name="web-1")
    run = synced(aws)
    make_change(aws, res, "created", minutes_ago=30, run=run)
    diff = {f"config.f{i}": {"old": i, "new": i + 1} for i in range(6)}
    modified = make_change(aws, res, "modified", diff=diff, minutes_ago=10, run=run)
    gone = make_change(aws, None, "deleted", name="old-db", minutes_ago=5, run=run)
    with django_assert_num_queries(1):
        changes = dashboard.recent_changes(org, limit=2)
        assert changes[1].change.resource.name == "web-1" and changes[1].change.connection.name == "Prod AWS"
    assert [c.change.pk for c in changes] == [gone.pk, modified.pk]
    assert changes[0].resource_id is None and changes[0].change.name == "old-db"
    assert changes[1].paths == ["config.f0", "config.f1", "config.f2", "config.f3"] and changes[1].more_paths == 2


# --- trends ---------------------------------------------------------------------------------------


def daily(conn, day, count, resource_type=EC2, region="eu-west-1"):
    DailyCount.objects.for_org(conn.org).create(
        connection=conn, date=day, resource_type=resource_type, region=region, count=count
    )


def daily_findings(conn, day, severity, count, category="security"):
    DailyFindingCount.objects.for_org(conn.org).create(
        connection=conn, date=day, severity=severity, category=category, count=count
    )


def test_resource_trend_carries_a_connection_forward_over_days_without_rows(org, aws, azure):
    # Prod AWS has rows on days 1 and 3 of the window only; Azure every day.
    window = [days_ago(4 - i) for i in range(5)]
    daily(aws, window[0], 10)
    daily(aws, window[0], 5, resource_type=S3, region="global")
    daily(aws, window[2], 20)
    for day in window:
        daily(azure, day, 100, resource_type=VM, region="westeurope")
    trend = dashboard.resource_trend(org, days=5)
    assert trend.days == window
    assert trend.series["total"] == [115, 115, 120, 120, 120]  # day 2 counts day 1's 15, days 4-5 day 3's 20


def test_resource_trend_starts_from_the_last_value_before_the_window(org, aws):
    daily(aws, days_ago(40), 7)  # long before the window: carried in
    daily(aws, days_ago(2), 9)
    trend = dashboard.resource_trend(org, days=30)
    assert len(trend.days) == 30 and trend.days[-1] == dashboard._today()
    assert trend.series["total"][0] == 7 and trend.series["total"][-3:] == [9, 9, 9]
    assert trend.first_total == 7 and trend.last_total == 9 and trend.delta == 2


def test_resource_trend_is_zero_before_a_connections_first_data(org, aws):
    daily(aws, days_ago(1), 4)
    assert dashboard.resource_trend(org, days=4).series["total"] == [0, 0, 4, 4]


def test_a_scan_that_counted_nothing_brings_the_trend_to_zero(org, aws):
    daily(aws, days_ago(3), 6)
    # A scan on day -1 wrote its inventory and found nothing: no rows that day, but a real zero.
    synced(aws, finished_at=at_noon(days_ago(1)))
    SyncRunFactory(connection=aws, status=SyncRun.Status.FAILED, finished_at=at_noon(days_ago(2)))  # not evidence
    assert dashboard.resource_trend(org, days=4).series["total"] == [6, 6, 0, 0]


def test_finding_trend_by_severity_carries_forward(org, aws, azure):
    window = [days_ago(2 - i) for i in range(3)]
    daily_findings(aws, window[0], "critical", 2)
    daily_findings(aws, window[0], "high", 3, category="security")
    daily_findings(aws, window[0], "high", 1, category="cost")
    daily_findings(aws, window[2], "high", 1)
    daily_findings(azure, window[1], "low", 5)
    trend = dashboard.finding_trend(org, days=3)
    assert list(trend.series) == ["critical", "high", "medium", "low", "info"]
    assert trend.series["critical"] == [2, 2, 0]
    assert trend.series["high"] == [4, 4, 1]
    assert trend.series["low"] == [0, 5, 5]
    assert trend.total_at(1) == 11
    data = trend.chart_data()
    assert data["labels"] == [d.isoformat() for d in window]
    assert data["series"][0] == {"key": "critical", "label": "Critical", "values": [2, 2, 0]}


def test_trends_ignore_other_organizations(org, aws, outsider):
    other = CloudConnectionFactory(org=outsider.org)
    daily(other, days_ago(1), 50)
    daily_findings(other, days_ago(1), "critical", 50)
    assert dashboard.resource_trend(org, days=3).series["total"] == [0, 0, 0]
    assert dashboard.finding_trend(org, days=3).series["critical"] == [0, 0, 0]


# --- the page: stages and empty states ------------------------------------------------------------


def test_new_org_is_led_to_connect_its_first_account(client_for, owner, org):
    page = page_of(client_for(owner), org)
    assert 'data-testid="empty-connect"' in page
    assert "Connect your first cloud account" in page
    assert f'href="/o/{org.slug}/connections/new/aws-role/" data-testid="connect-aws"' in page
    assert f'href="/o/{org.slug}/connections/new/azure/" data-testid="connect-azure"' in page
    assert 'data-testid="ask-admin"' not in page
    assert 'data-testid="kpi-resources"' not in page and "chart.umd.min.js" not in page


@pytest.mark.parametrize("member_role", ["viewer", "member"])
def test_who_cannot_add_connections_is_told_to_ask_an_admin(client_for, member, org):
    page = page_of(client_for(member), org)
    assert 'data-testid="empty-connect"' in page and 'data-testid="ask-admin"' in page
    assert 'data-testid="connect-aws"' not in page and "/connections/new/" not in page


@pytest.mark.parametrize("member_role", ["member"])
def test_connected_but_never_scanned_offers_the_first_scan(client_for, member, org, aws):
    SyncRunFactory(connection=aws, status=SyncRun.Status.FAILED)  # a failed scan is not a scan
    page = page_of(client_for(member), org)
    assert 'data-testid="empty-scan"' in page and "Run your first scan" in page
    scan_url = reverse("inventory:scan_now", kwargs={"org_slug": org.slug, "connection_id": aws.pk})
    assert f'<form method="post" action="{scan_url}"' in page
    assert 'data-testid="first-scan">Scan Prod AWS<' in page
    assert 'data-testid="connection-status"' in page and 'data-testid="run-status">Failed<' in page
    assert 'data-testid="kpi-resources"' not in page


@pytest.mark.parametrize("member_role", ["viewer"])
def test_a_viewer_is_not_offered_a_scan_button(client_for, member, org, aws):
    page = page_of(client_for(member), org)
    assert 'data-testid="empty-scan"' in page and 'data-testid="ask-scan"' in page
    assert "/scans/new/" not in page


def test_unverified_connection_leads_to_its_setup_not_a_scan(client_for, owner, org):
    conn = CloudConnectionFactory(org=org, name="New", status="pending")
    page = page_of(client_for(owner), org)
    assert f'href="{conn.get_absolute_url()}">Finish setting up New<' in page
    assert "/scans/new/" not in page


def test_first_scan_running_links_to_its_progress(client_for, owner, org, aws):
    run = SyncRunFactory(connection=aws, status=SyncRun.Status.RUNNING, finished_at=None)
    page = page_of(client_for(owner), org)
    assert "Your first scan is under way" in page
    assert f'href="/o/{org.slug}/scans/{run.pk}/" data-testid="follow-scan"' in page


def test_outsider_gets_404(client_for, outsider, org):
    assert client_for(outsider).get(url(org)).status_code == 404


# --- the page: everyday use -------------------------------------------------------------------------


def chart_json(page: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S)
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


def test_scanned_without_findings_says_so(client_for, owner, org, inventory):
    page = page_of(client_for(owner), org)
    assert 'data-testid="no-findings"' in page and "No open findings." in page
    assert 'data-testid="empty-scan"' not in page and 'data-testid="empty-connect"' not in page
    assert 'id="severity-chart"' not in page  # no empty doughnut


@pytest.mark.parametrize("member_role", ["viewer"])
def test_dashboard_numbers_and_links(client_for, member, org, inventory):
    aws, azure = inventory["aws"], inventory["azure"]
    res = Resource.objects.for_org(org).filter(resource_type=EC2).first()
    FindingFactory(resource=res, severity="critical", category="security")
    FindingFactory(
        resource=res, rule_id="aws-ec2-idle", severity="low", category="cost", monthly_usd=Decimal("1234.40")
    )
    run = synced(aws)
    diff = {"config.instance_type": {"old": "t3.micro", "new": "t3.large"}}
    make_change(aws, res, "modified", diff=diff, name="renamed-since", run=run)
    make_change(aws, None, "deleted", name="old-db", run=run)
    page = page_of(client_for(member), org)
    slug = org.slug
    explorer, findings = f"/o/{slug}/inventory/", f"/o/{slug}/findings/"

    # Key numbers, each a link to the list behind it.
    assert re.search(
        r'data-testid="kpi-resources">\s*<span class="kpi-label">Resources</span>\s*'
        r'<span class="kpi-value">8</span>',
        page,
    )
    assert f'href="{explorer}" data-testid="kpi-resources"' in page
    assert f'href="{findings}?severity=critical&amp;severity=high" data-testid="kpi-critical-high"' in page
    assert re.search(r'data-testid="kpi-waste">.*?<span class="kpi-value">\$1,234</span>', page, re.S)
    assert f'href="{findings}?category=cost" data-testid="kpi-waste"' in page
    # Breakdowns link to the explorer filtered by them.
    assert f'href="{explorer}?provider=aws">AWS</a>' in page
    assert f'href="{explorer}?type=aws.ec2.instance">aws.ec2.instance</a>' in page
    assert f'href="{explorer}?region=eu-west-1">eu-west-1</a>' in page
    assert f'href="{explorer}?region=global">Global</a>' in page
    assert f'href="{explorer}?connection={azure.pk}">Azure sub</a>' in page
    # Severity and category counts link to the findings list.
    assert f'href="{findings}?severity=critical"><span class="dot" aria-hidden="true"></span>Critical</a>' in page
    assert f'href="{findings}?category=security">Security</a>' in page
    # Connections: scan history, last scan status, per-connection counts; a viewer gets no scan button.
    assert f'href="/o/{slug}/connections/{aws.pk}/scans/" title="Scan history">Prod AWS</a>' in page
    assert 'data-testid="run-status">Succeeded<' in page
    assert f'href="{explorer}?connection={aws.pk}">6</a>' in page
    assert f'href="{findings}?connection={aws.pk}">2</a>' in page
    assert 'data-testid="scan-now"' not in page
    # Recent changes: a live resource is a link, a deleted one its identity only.
    assert f'href="/o/{slug}/resources/{res.pk}/">{res.name}</a>' in page
    assert "<code>config.instance_type</code>" in page
    assert 'data-testid="deleted-resource">old-db<' in page
    assert "/resources/None/" not in page


def test_charts_data_is_embedded_with_30_points(client_for, owner, org, inventory):
    aws = inventory["aws"]
    res = Resource.objects.for_org(org).filter(resource_type=EC2).first()
    FindingFactory(resource=res, severity="high")
    daily(aws, days_ago(10), 3)
    page = page_of(client_for(owner), org)
    resources = chart_json(page, "resource-chart-data")
    assert len(resources["labels"]) == 30 and resources["labels"][-1] == dashboard._today().isoformat()
    (total,) = resources["series"]
    assert len(total["values"]) == 30 and total["values"][-1] == 8  # today is the live count
    assert total["values"][-10] == 3
    findings = chart_json(page, "finding-chart-data")
    assert [s["key"] for s in findings["series"]] == ["critical", "high", "medium", "low", "info"]
    assert all(len(s["values"]) == 30 for s in findings["series"])
    assert findings["series"][1]["values"][-1] == 1
    severity = chart_json(page, "severity-chart-data")
    assert severity["keys"][:2] == ["critical", "high"] and severity["values"][:2] == [0, 1]
    # The canvases, the script (with the CSP nonce) and the fallbacks for screen readers and no JS.
    for canvas in ("resources-chart", "findings-chart", "severity-chart"):
        assert f'<canvas id="{canvas}"' in page
    assert re.search(r'<script src="/static/dashboard/js/dashboard.js" defer nonce="[^"]+"></script>', page)
    assert re.search(r'<script src="/static/vendor/chart.umd.min.js" defer nonce="[^"]+"></script>', page)
    assert "From 0 to 8 resources over 30 days." in page  # no data before day -10
    assert page.count("<summary>Show the numbers</summary>") == 2
    # Those who may scan get a "Scan now" per connection.
    scan_url = reverse("inventory:scan_now", kwargs={"org_slug": org.slug, "connection_id": aws.pk})
    assert f'action="{scan_url}" class="inline">' in page and 'data-testid="scan-now"' in page


def test_times_are_shown_in_the_users_timezone(client_for, owner, org, aws):
    owner.timezone = "Asia/Tokyo"
    owner.save()
    finished = dt.datetime(2026, 3, 4, 23, 30, tzinfo=dt.UTC)
    synced(aws, created_at=finished, finished_at=finished)
    page = page_of(client_for(owner), org)
    assert "Mar 5, 08:30" in page  # 23:30 UTC is 08:30 the next day in Tokyo


# --- a large organization: a fixed number of queries ------------------------------------------------


def large_org(org, connections=3, resources=2000, findings=500, days=30):
    conns = [CloudConnectionFactory(org=org, name=f"Account {i}") for i in range(connections)]
    types = [EC2, S3, "aws.ec2.volume", "aws.rds.instance", "aws.lambda.function", "aws.iam.role"]
    regions = ["eu-west-1", "us-east-1", "ap-south-1", "global"]
    rows = []
    for i in range(resources):
        conn, rtype, region = conns[i % connections], types[i % len(types)], regions[i % len(regions)]
        rows.append(
            Resource(
                org=org,
                connection=conn,
                provider="aws",
                resource_type=rtype,
                region=region,
                name=f"r{i}",
                native_id=f"arn:{i}",
            )
        )
    created = Resource.objects.bulk_create(rows)
    sev = ["critical", "high", "medium", "low", "info"]
    cat = ["security", "cost", "drift", "hygiene"]
    Finding.objects.bulk_create(
        Finding(
            org=org,
            connection=r.connection,
            resource=r,
            rule_id=f"rule-{i % 40}",
            title="t",
            severity=sev[i % 5],
            category=cat[i % 4],
            resource_type=r.resource_type,
            native_id=r.native_id,
            status=Finding.Status.OPEN if i % 10 else Finding.Status.RESOLVED,
            monthly_usd=Decimal("3.10") if cat[i % 4] == "cost" else None,
        )
        for i, r in enumerate(created[:findings])
    )
    recount_findings(org)
    daily_rows, finding_rows, runs = [], [], []
    for conn in conns:
        for d in range(days):
            day = days_ago(d)
            if d % 7 == 3:
                continue  # a day without a scan: carried forward
            runs.append(
                SyncRun(org=org, connection=conn, status="succeeded", created_at=at_noon(day), finished_at=at_noon(day))
            )
            daily_rows += [
                DailyCount(org=org, connection=conn, date=day, resource_type=t, region=r, count=10 + d)
                for t in types
                for r in regions
            ]
            finding_rows += [
                DailyFindingCount(org=org, connection=conn, date=day, severity=s, category=c, count=d % 5)
                for s in sev
                for c in cat
            ]
    SyncRun.objects.bulk_create(runs)
    DailyCount.objects.bulk_create(daily_rows)
    DailyFindingCount.objects.bulk_create(finding_rows)
    run = SyncRun.objects.for_org(org).filter(connection=conns[0]).first()
    ResourceChange.objects.bulk_create(
        ResourceChange(
            org=org,
            connection=conns[0],
            sync_run=run,
            resource=created[i] if i % 3 else None,
            resource_type=EC2,
            native_id=f"arn:{i}",
            name=f"r{i}",
            kind="modified" if i % 3 else "deleted",
            diff={"config.a": {"old": 1, "new": 2}},
        )
        for i in range(100)
    )
    return conns


def test_query_count_is_bounded_on_a_large_organization(client_for, owner, org, django_assert_max_num_queries):
    large_org(org)
    client = client_for(owner)
    client.get(url(org))  # warm the session
    # The dashboard's 10 (test below) + members and invitations counts + the request's own (session,
    # user, MFA check, membership, the header's organization switcher).
    with django_assert_max_num_queries(20):
        page = page_of(client, org)
    assert 'data-testid="kpi-resources"' in page and "2,000" in page
    assert page.count('class="change"') == dashboard.RECENT_CHANGES
    assert len(chart_json(page, "resource-chart-data")["labels"]) == 30


def test_overview_runs_a_fixed_number_of_queries_whatever_the_size(org, django_assert_num_queries):
    from django.core.cache import cache

    cache.clear()
    large_org(org, resources=300, findings=100, days=10)
    with django_assert_num_queries(11):  # an empty cache
        overview = dashboard.overview(org)
    with django_assert_num_queries(5):  # cached: connections 2, the stamp 1, findings 1, changes 1
        again = dashboard.overview(org)
    assert again.finding_trend.series == overview.finding_trend.series
    assert [c.change.pk for c in again.changes] == [c.change.pk for c in overview.changes]
    assert overview.stage == dashboard.STAGE_READY
    assert overview.resources.total == 300 and overview.findings.total == 90


def test_the_cached_trends_move_with_new_counts_and_changes_stay_live(org):
    conns = large_org(org, resources=120, findings=10, days=3)
    first = dashboard.overview(org)
    run = SyncRun.objects.for_org(org).filter(connection=conns[0]).first()
    change = ResourceChange.objects.create(
        org=org, connection=conns[0], sync_run=run, resource_type=EC2, native_id="arn:new", name="brand-new",
        kind="created", diff={},
    )  # fmt: skip
    assert dashboard.overview(org).changes[0].change.pk == change.pk != first.changes[0].change.pk
    yesterday = first.finding_trend.days[-2]
    DailyFindingCount.objects.for_org(org).filter(connection=conns[0], date=yesterday).delete()  # as a rewrite
    DailyFindingCount.objects.create(
        org=org, connection=conns[0], date=yesterday, severity="critical", category="security", count=500
    )
    assert dashboard.overview(org).finding_trend.series["critical"][-2] >= 500


def test_the_rendered_trend_panels_follow_new_counts_and_todays_values(client_for, owner, org):
    """The trend panels are rendered once per change of what they show (a template fragment cache):
    a rewritten day and today's live numbers both show on the next visit."""
    conns = large_org(org, resources=120, findings=40, days=3)
    client = client_for(owner)

    def critical() -> list[int]:
        data = chart_json(page_of(client, org), "finding-chart-data")
        return next(s["values"] for s in data["series"] if s["key"] == "critical")

    before = critical()
    day = days_ago(1)
    DailyFindingCount.objects.for_org(org).filter(connection=conns[0], date=day).delete()
    DailyFindingCount.objects.create(
        org=org, connection=conns[0], date=day, severity="critical", category="security", count=700
    )
    after = critical()
    assert after[-2] >= 700 and after[-2] != before[-2]
    # Today's point is the live count: one more open critical finding shows at once.
    FindingFactory(resource=ResourceFactory(connection=conns[0]), severity="critical", rule_id="rule-new")
    assert critical()[-1] == after[-1] + 1
