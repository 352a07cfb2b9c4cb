"""The findings list (filters, counts, waste, honest coverage), a finding's page (why it matched,
remediation, history) and suppression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from findings import lifecycle, queries
from findings.models import Baseline, CustomRule, Finding, FindingEvent, OrgPolicy, RuleStatus
from findings.sources import baseline_state
from inventory.models import Resource
from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    RelationshipFactory,
    ResourceFactory,
    synced,
)

pytestmark = pytest.mark.django_db
F = Finding.Status
VOLUME = "aws.ec2.volume"
INSTANCE = "aws.ec2.instance"
UNATTACHED = "aws-ec2-volume-unattached"


@pytest.fixture
def conn(org):
    return CloudConnectionFactory(org=org, name="Production")


@pytest.fixture
def owner_client(owner, client_for):
    return client_for(owner)


def list_url(org, **params) -> str:
    """The flat list (the page opens grouped by rule; tests/findings/test_triage.py covers that view)."""
    from urllib.parse import urlencode

    url = reverse("findings:list", kwargs={"org_slug": org.slug})
    return f"{url}?{urlencode({'view': 'flat', **params}, doseq=True)}"


def detail_url(finding: Finding) -> str:
    return reverse("findings:detail", kwargs={"org_slug": finding.org.slug, "finding_id": finding.pk})


def volume(conn, name="vol-1", region="eu-west-1", **config):
    base = {"volume_id": name, "size_gb": 100, "volume_type": "gp3", "encrypted": True, "state": "in-use"}
    return ResourceFactory(connection=conn, resource_type=VOLUME, name=name, region=region, config={**base, **config})


def evaluated_finding(conn, rule_id, resource) -> Finding:
    lifecycle.evaluate_connection(conn)
    return Finding.objects.for_org(conn.org).get(connection=conn, rule_id=rule_id, native_id=resource.native_id)


def shown_ids(response) -> set[int]:
    return {f.pk for f in response.context["page"].object_list}


# --- the list ----------------------------------------------------------------------------------------


def test_list_shows_open_findings_counts_and_waste(owner_client, org, conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, "orphan", state="available")
    f = evaluated_finding(conn, UNATTACHED, res)
    response = owner_client.get(list_url(org))
    assert response.status_code == 200
    body = response.content.decode()
    assert f.title in body and "orphan" in body and detail_url(f) in body
    counts = response.context["counts"]
    assert counts.by_category["cost"] >= 1 and counts.total == sum(counts.by_severity.values())
    assert response.context["waste"] == f.monthly_usd > 0
    assert f"${f.monthly_usd:,.2f}" in body


@pytest.fixture
def mixed(org, conn):
    """Findings of every kind over two connections (AWS and Azure)."""
    azure = CloudConnectionFactory(org=org, name="Azure sub", provider="azure")
    res = ResourceFactory(connection=conn, name="web-server", resource_type=INSTANCE)
    az_res = ResourceFactory(connection=azure, name="vm-1", resource_type="azure.compute.vm", region="westeurope")
    return {
        "high_sec": FindingFactory(resource=res, severity="high", category="security", rule_id="aws-a"),
        "low_cost": FindingFactory(
            resource=ResourceFactory(connection=conn, name="idle-disk", resource_type=VOLUME),
            severity="low",
            category="cost",
            rule_id=UNATTACHED,
            title="EBS volume is not attached",
            monthly_usd=Decimal("12.50"),
        ),
        "resolved": FindingFactory(resource=res, severity="critical", rule_id="aws-b", status=F.RESOLVED),
        "suppressed": FindingFactory(
            resource=res, severity="medium", category="hygiene", rule_id="aws-c", status=F.SUPPRESSED
        ),
        "azure": FindingFactory(resource=az_res, severity="medium", category="security", rule_id="azure-x"),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"high_sec", "low_cost", "azure"}),  # default: open only
        ({"severity": "high"}, {"high_sec"}),
        ({"severity": ["high", "low"]}, {"high_sec", "low_cost"}),
        ({"category": "cost"}, {"low_cost"}),
        ({"rule": UNATTACHED}, {"low_cost"}),
        ({"rule": [UNATTACHED, "aws-a"]}, {"high_sec", "low_cost"}),
        ({"status": "resolved"}, {"resolved"}),
        ({"status": "suppressed"}, {"suppressed"}),
        ({"status": "any"}, {"high_sec", "low_cost", "resolved", "suppressed", "azure"}),
        ({"provider": "azure"}, {"azure"}),
        ({"q": "idle-DISK"}, {"low_cost"}),  # resource name, case-insensitive
        ({"q": "not attached"}, {"low_cost"}),  # title
        ({"q": "compute.vm/vm-1"}, {"azure"}),  # native id
        ({"severity": "medium", "status": "any", "category": "hygiene"}, {"suppressed"}),  # combined
        ({"severity": "medium", "provider": "aws"}, set()),  # combined, nothing left
    ],
)
def test_each_filter(owner_client, org, mixed, params, expected):
    response = owner_client.get(list_url(org, **params))
    assert response.status_code == 200
    assert shown_ids(response) == {mixed[k].pk for k in expected}
    assert not response.context["filters"].errors


def test_search_by_native_id_and_connection_filter(owner_client, org, conn, mixed):
    target = mixed["high_sec"]
    response = owner_client.get(list_url(org, q=target.native_id[-20:], connection=conn.pk))
    assert target.pk in shown_ids(response) and mixed["azure"].pk not in shown_ids(response)
    response = owner_client.get(list_url(org, connection=mixed["azure"].connection_id))
    assert shown_ids(response) == {mixed["azure"].pk}


def test_filters_make_a_shareable_link(owner_client, org, conn, mixed):
    response = owner_client.get(list_url(org, severity="low", connection=conn.pk, sort="-last_seen"))
    filters = response.context["filters"]
    assert filters.querystring() == f"severity=low&connection={conn.pk}&sort=-last_seen"
    body = response.content.decode()
    assert "severity=low&amp;connection=" in body  # in the export links
    assert f'value="{conn.pk}" selected' in body


@pytest.mark.parametrize(
    "params",
    [
        {"severity": "catastrophic"},
        {"category": "vibes"},
        {"status": "deleted"},
        {"connection": "abc"},
        {"provider": "gcp"},
        {"rule": "Robert'); DROP TABLE--"},
        {"sort": "name"},
        {"q": "x" * 500},
    ],
)
def test_invalid_filter_is_ignored_with_a_message(owner_client, org, mixed, params):
    response = owner_client.get(list_url(org, **params))
    assert response.status_code == 200
    filters = response.context["filters"]
    assert filters.errors and "ignored" in response.content.decode()
    assert shown_ids(response) == {mixed[k].pk for k in ("high_sec", "low_cost", "azure")}


def test_another_orgs_connection_id_is_refused_as_a_filter(owner_client, org, mixed, outsider):
    theirs = CloudConnectionFactory(org=outsider.org)
    FindingFactory(resource=ResourceFactory(connection=theirs))
    response = owner_client.get(list_url(org, connection=theirs.pk))
    assert response.context["filters"].errors
    assert all(f.org_id == org.pk for f in response.context["page"].object_list)


def test_bad_page_number_is_not_an_error(owner_client, org, mixed):
    assert owner_client.get(list_url(org, page="zzz")).status_code == 200
    assert owner_client.get(list_url(org, page="9999")).status_code == 200


def test_sort_by_severity_and_last_seen(owner_client, org, conn):
    res = ResourceFactory(connection=conn)
    now = timezone.now()
    low = FindingFactory(resource=res, rule_id="r-low", severity="low", last_seen=now)
    crit = FindingFactory(resource=res, rule_id="r-crit", severity="critical", last_seen=now - timedelta(days=2))
    med = FindingFactory(resource=res, rule_id="r-med", severity="medium", last_seen=now - timedelta(days=1))

    def order(**params):
        return [f.pk for f in owner_client.get(list_url(org, **params)).context["page"].object_list]

    assert order() == [crit.pk, med.pk, low.pk]  # most severe first by default
    assert order(sort="-severity") == [low.pk, med.pk, crit.pk]
    assert order(sort="-last_seen") == [low.pk, med.pk, crit.pk]
    assert order(sort="last_seen") == [crit.pk, med.pk, low.pk]


def test_pagination_keeps_the_filters(owner_client, org, conn):
    res = ResourceFactory(connection=conn)
    for i in range(queries.PAGE_SIZE + 5):
        FindingFactory(resource=res, rule_id=f"rule-{i:03d}", severity="high")
    response = owner_client.get(list_url(org, severity="high"))
    assert len(response.context["page"].object_list) == queries.PAGE_SIZE
    assert "?severity=high&amp;view=flat&amp;page=2" in response.content.decode()
    assert len(owner_client.get(list_url(org, severity="high", page=2)).context["page"].object_list) == 5


def test_empty_states(owner_client, org, conn):
    body = owner_client.get(list_url(org)).content.decode()
    assert "No open findings" in body and reverse("connections:list", kwargs={"org_slug": org.slug}) in body
    body = owner_client.get(list_url(org, severity="critical")).content.decode()
    assert "No finding matches these filters" in body


def test_counts_and_waste_count_open_findings_of_the_org_only(org, conn, mixed, outsider):
    FindingFactory(
        resource=ResourceFactory(connection=conn, resource_type=VOLUME),
        rule_id="cost-suppressed",
        category="cost",
        status=F.SUPPRESSED,
        monthly_usd=Decimal("100"),
    )
    FindingFactory(
        resource=ResourceFactory(connection=conn, resource_type=VOLUME),
        rule_id="cost-resolved",
        category="cost",
        status=F.RESOLVED,
        monthly_usd=Decimal("200"),
    )
    FindingFactory(
        resource=ResourceFactory(connection=conn, resource_type=VOLUME),
        rule_id="cost-open",
        category="cost",
        monthly_usd=Decimal("7.25"),
    )
    theirs = CloudConnectionFactory(org=outsider.org)
    FindingFactory(resource=ResourceFactory(connection=theirs), category="cost", monthly_usd=Decimal("999"))

    counts = queries.counts_by_severity_category(org)
    assert counts.total == 4
    # Open only: high_sec, low_cost, azure and "cost-open" (the factory's default severity is high).
    assert counts.by_severity == {"critical": 0, "high": 2, "medium": 1, "low": 1, "info": 0}
    assert counts.by_category == {"security": 2, "cost": 2, "drift": 0, "hygiene": 0}
    assert list(counts.by_severity) == ["critical", "high", "medium", "low", "info"]
    assert queries.org_monthly_waste(org) == Decimal("19.75")
    assert queries.org_monthly_waste(outsider.org) == Decimal("999")


def test_waste_is_zero_without_cost_findings(org):
    assert queries.org_monthly_waste(org) == Decimal("0")
    assert queries.counts_by_severity_category(org).total == 0


def test_not_evaluated_rules_are_announced_with_a_link_to_the_scans(owner_client, org, conn):
    for rule_id, reason in [("aws-a", "denied"), ("aws-b", "throttled")]:
        RuleStatus.objects.create(
            org=org,
            connection=conn,
            rule_id=rule_id,
            verdict="not_evaluated",
            not_evaluated=[{"type": VOLUME, "region": "eu-west-1", "reason": reason}],
            not_evaluated_count=1,
        )
    RuleStatus.objects.create(org=org, connection=conn, rule_id="aws-c", verdict="pass")
    response = owner_client.get(list_url(org))
    body = response.content.decode()
    assert "2 rules could not be evaluated on Production" in body
    assert "denied, throttled" in body
    assert reverse("inventory:history", kwargs={"org_slug": org.slug, "connection_id": conn.pk}) in body
    # Filtered to a rule that was evaluated everywhere: no banner.
    assert "could not be evaluated" not in owner_client.get(list_url(org, rule="aws-c")).content.decode()


def test_list_query_count_is_bounded(owner_client, org, django_assert_max_num_queries):
    conns = [CloudConnectionFactory(org=org) for _ in range(3)]
    for i in range(300):
        conn = conns[i % 3]
        res = ResourceFactory(connection=conn, resource_type=VOLUME)
        FindingFactory(resource=res, rule_id=f"rule-{i % 7}", severity=["high", "low", "medium"][i % 3])
        if i % 50 == 0:
            RuleStatus.objects.create(
                org=org,
                connection=conn,
                rule_id=f"rule-{i}",
                verdict="not_evaluated",
                not_evaluated=[{"type": VOLUME, "region": "eu-west-1", "reason": "denied"}],
                not_evaluated_count=1,
            )
    with django_assert_max_num_queries(18):
        response = owner_client.get(list_url(org))
    assert response.status_code == 200 and response.context["page"].paginator.count == 300


# --- the finding page ----------------------------------------------------------------------------------


def test_detail_explains_a_builtin_match(owner_client, org, conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, "orphan", state="available")
    f = evaluated_finding(conn, UNATTACHED, res)
    response = owner_client.get(detail_url(f))
    assert response.status_code == 200
    body = response.content.decode()
    tree = response.context["explanation"].tree
    assert tree.kind == "leaf" and tree.label == "config.state" and tree.actual == "available" and tree.result
    assert 'data-testid="explain"' in body and "config.state" in body and "available" in body and "✓" in body
    assert "Delete the volume." in body  # remediation
    assert "https://aws.amazon.com/ebs/pricing/" in body  # references
    assert f"/o/{org.slug}/resources/{res.pk}/" in body  # the resource's page
    assert f"${f.monthly_usd:,.2f}" in body
    assert "Opened" in body  # history


def test_detail_explains_related_resources_and_compliance(owner_client, org, conn):
    stopped_since = (timezone.now() - timedelta(days=90)).isoformat()
    instance = ResourceFactory(
        connection=conn,
        resource_type=INSTANCE,
        name="old-box",
        config={"state": "stopped", "stopped_since": stopped_since},
    )
    disk = volume(conn, "old-disk")
    RelationshipFactory(source=disk, target=instance, kind="attached_to")
    synced(conn, {INSTANCE: ["eu-west-1"], VOLUME: ["eu-west-1"]})
    f = evaluated_finding(conn, "aws-ec2-instance-stopped-long", instance)
    response = owner_client.get(detail_url(f))
    tree = response.context["explanation"].tree
    related = [c for c in tree.children if c.kind == "related"]
    assert related and related[0].result is True and "1 related, 1 matching" in related[0].note
    assert response.context["explanation"].neighbours == 1
    assert "attached_to" in response.content.decode()


def test_detail_query_count_does_not_grow_with_neighbours(owner_client, org, conn, django_assert_max_num_queries):
    stopped_since = (timezone.now() - timedelta(days=90)).isoformat()
    instance = ResourceFactory(
        connection=conn, resource_type=INSTANCE, config={"state": "stopped", "stopped_since": stopped_since}
    )
    for i in range(40):
        RelationshipFactory(source=volume(conn, f"disk-{i}"), target=instance, kind="attached_to")
    f = FindingFactory(resource=instance, rule_id="aws-ec2-instance-stopped-long")
    for _ in range(30):
        FindingEvent.objects.create(org=org, finding=f, kind="reopened")
    with django_assert_max_num_queries(18):
        response = owner_client.get(detail_url(f))
    assert response.context["explanation"].neighbours == 40
    assert len(response.context["events"]) == 30


def test_detail_shows_compliance_mappings(owner_client, org, conn):
    res = ResourceFactory(
        connection=conn,
        resource_type=INSTANCE,
        config={"state": "running", "metadata_options": {"http_tokens": "optional", "http_endpoint": "enabled"}},
    )
    f = FindingFactory(resource=res, rule_id="aws-ec2-instance-imdsv1-allowed")
    body = owner_client.get(detail_url(f)).content.decode()
    url = reverse("findings:compliance_framework", kwargs={"org_slug": org.slug, "framework": "cis-aws-3.0"})
    assert url in body and "5.6" in body
    assert "config.metadata_options.http_tokens" in body and "optional" in body


def test_detail_explains_a_policy_finding(owner_client, org, conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, "untagged")
    OrgPolicy.objects.create(
        org=org, name="Owners", kind=OrgPolicy.Kind.REQUIRED_TAGS, resource_types=[VOLUME], values=["owner"]
    )
    lifecycle.evaluate_connection(conn)
    f = Finding.objects.for_org(org).get(native_id=res.native_id, rule_source="policy")
    response = owner_client.get(detail_url(f))
    body = response.content.decode()
    assert "tags.owner" in body and "not exists" in body and "not present" in body
    assert "Tag the resource with owner" in body  # the policy's remediation


def test_detail_explains_a_custom_rule_finding(owner_client, org, conn):
    res = volume(conn, "big-one", size_gb=2000)
    CustomRule.objects.create(
        org=org,
        rule_id="custom-big-volumes",
        source="",
        document={
            "id": "big-volumes",
            "title": "Volume over 1 TB",
            "severity": "low",
            "category": "hygiene",
            "resource_types": [VOLUME],
            "condition": {"path": "config.size_gb", "op": "gt", "value": 1000},
        },
        title="Volume over 1 TB",
        severity="low",
        category="hygiene",
    )
    f = FindingFactory(resource=res, rule_id="custom-big-volumes", rule_source="custom", title="Volume over 1 TB")
    response = owner_client.get(detail_url(f))
    tree = response.context["explanation"].tree
    assert (tree.label, tree.op, tree.expected, tree.actual, tree.result) == (
        "config.size_gb",
        "gt",
        "1000",
        "2000",
        True,
    )
    CustomRule.objects.for_org(org).delete()
    body = owner_client.get(detail_url(f)).content.decode()
    assert "The custom rule behind this finding was deleted." in body


def test_detail_of_a_baseline_drift_shows_old_and_new(owner_client, org, conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    res = volume(conn, "approved")
    Baseline.objects.create(org=org, connection=conn, resource=res, approved=baseline_state(res))
    Resource.objects.for_org(org).filter(pk=res.pk).update(config={**res.config, "volume_type": "io2"})
    f = evaluated_finding(conn, "baseline-drift", res)
    response = owner_client.get(detail_url(f))
    rows = response.context["drift"]
    assert [(r.path, r.old, r.new) for r in rows] == [("config.volume_type", "gp3", "io2")]
    body = response.content.decode()
    assert 'data-testid="drift"' in body and "gp3" in body and "io2" in body


def test_detail_of_a_finding_whose_resource_is_gone(owner_client, org, conn):
    f = FindingFactory(
        resource=ResourceFactory(connection=conn, name="ghost", resource_type=VOLUME), rule_id=UNATTACHED
    )
    native_id = f.native_id
    f.resource.delete()
    response = owner_client.get(detail_url(f))
    assert response.status_code == 200
    body = response.content.decode()
    assert "ghost" in body and native_id in body and "no longer in the inventory" in body
    assert "/resources/" not in body
    assert "no current record" in body


def test_detail_says_when_its_scope_was_not_evaluated(owner_client, org, conn):
    f = FindingFactory(resource=volume(conn, state="available"), rule_id=UNATTACHED)
    RuleStatus.objects.create(
        org=org,
        connection=conn,
        rule_id=UNATTACHED,
        verdict="fail",
        not_evaluated=[{"type": VOLUME, "region": "eu-west-1", "reason": "throttled"}],
        not_evaluated_count=1,
    )
    body = owner_client.get(detail_url(f)).content.decode()
    assert 'data-testid="scope-gap"' in body and "throttled" in body
    assert reverse("inventory:history", kwargs={"org_slug": org.slug, "connection_id": conn.pk}) in body


def test_history_is_shown_in_the_users_timezone(owner, owner_client, org, conn):
    owner.timezone = "Asia/Tokyo"
    owner.save()
    f = FindingFactory(resource=volume(conn), rule_id=UNATTACHED)
    at = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    FindingEvent.objects.create(org=org, finding=f, kind="opened", at=at)
    body = owner_client.get(detail_url(f)).content.decode()
    assert "2025-03-02 08:30 JST" in body


# --- suppression ---------------------------------------------------------------------------------------


def suppress_url(f: Finding) -> str:
    return reverse("findings:suppress", kwargs={"org_slug": f.org.slug, "finding_id": f.pk})


def unsuppress_url(f: Finding) -> str:
    return reverse("findings:unsuppress", kwargs={"org_slug": f.org.slug, "finding_id": f.pk})


def test_suppress_with_reason_and_expiry(member, client_for, org, conn):
    member.timezone = "America/New_York"
    member.save()
    f = FindingFactory(resource=volume(conn), rule_id=UNATTACHED)
    expiry = (timezone.now() + timedelta(days=10)).date()
    response = client_for(member).post(suppress_url(f), {"reason": "Kept for the audit", "until": expiry.isoformat()})
    assert response.status_code == 302 and response.url == detail_url(f)
    f.refresh_from_db()
    assert f.status == F.SUPPRESSED and f.suppressed_reason == "Kept for the audit" and f.suppressed_by == member
    new_york = f.suppressed_until.astimezone(ZoneInfo("America/New_York"))
    assert new_york.date() == expiry and (new_york.hour, new_york.minute) == (0, 0)  # midnight, the member's time
    event = AuditEvent.objects.get(action="finding_suppressed", org=org)
    assert event.actor == member and event.metadata["reason"] == "Kept for the audit"
    assert FindingEvent.objects.for_org(org).filter(finding=f, kind="suppressed").exists()
    body = client_for(member).get(detail_url(f)).content.decode()
    assert "Kept for the audit" in body and "Lift the suppression" in body
    assert f not in list(client_for(member).get(list_url(org)).context["page"].object_list)


def test_suppress_without_expiry(owner_client, org, conn):
    f = FindingFactory(resource=volume(conn), rule_id=UNATTACHED)
    owner_client.post(suppress_url(f), {"reason": "Accepted risk"})
    f.refresh_from_db()
    assert f.status == F.SUPPRESSED and f.suppressed_until is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "   "}, "Say why this finding is suppressed"),
        ({}, "Say why this finding is suppressed"),
        ({"reason": "ok", "until": "2001-01-01"}, "after today"),
        ({"reason": "ok", "until": "next tuesday"}, "Enter a valid date"),
    ],
)
def test_suppress_refuses_bad_input(owner_client, org, conn, data, message):
    f = FindingFactory(resource=volume(conn), rule_id=UNATTACHED)
    response = owner_client.post(suppress_url(f), data)
    # Back to the finding's page (a reload there is a GET, never a re-post or a 405), the form as typed.
    assert response.status_code == 302 and response["Location"] == detail_url(f) + "#suppress"
    page = owner_client.get(detail_url(f)).content.decode()
    assert message in page and "The finding was not suppressed" in page
    f.refresh_from_db()
    assert f.status == F.OPEN and not f.suppressed_reason
    assert not AuditEvent.objects.filter(action="finding_suppressed").exists()


def test_resolved_finding_cannot_be_suppressed(owner_client, org, conn):
    f = FindingFactory(resource=volume(conn), rule_id=UNATTACHED, status=F.RESOLVED)
    response = owner_client.post(suppress_url(f), {"reason": "whatever"}, follow=True)
    assert response.status_code == 200 and "nothing to suppress" in response.content.decode()
    f.refresh_from_db()
    assert f.status == F.RESOLVED


def test_unsuppress(owner_client, owner, org, conn):
    f = FindingFactory(resource=volume(conn), rule_id=UNATTACHED)
    owner_client.post(suppress_url(f), {"reason": "for now"})
    response = owner_client.post(unsuppress_url(f))
    assert response.status_code == 302
    f.refresh_from_db()
    assert f.status == F.OPEN and not f.suppressed_reason
    assert AuditEvent.objects.filter(action="finding_unsuppressed", org=org, actor=owner).exists()
    # Twice: a clear message, no error.
    response = owner_client.post(unsuppress_url(f), follow=True)
    assert "This finding is not suppressed." in response.content.decode()


@pytest.mark.parametrize("member_role", ["viewer"])
def test_viewer_may_read_but_not_suppress(member, client_for, org, conn):
    f = FindingFactory(resource=volume(conn), rule_id=UNATTACHED)
    client = client_for(member)
    response = client.get(detail_url(f))
    assert response.status_code == 200 and 'data-testid="suppress"' not in response.content.decode()
    assert client.post(suppress_url(f), {"reason": "mine"}).status_code == 403
    f.status = F.SUPPRESSED
    f.save()
    assert client.post(unsuppress_url(f)).status_code == 403
    f.refresh_from_db()
    assert f.status == F.SUPPRESSED


def test_outsider_gets_404_everywhere(outsider, client_for, org, conn):
    f = FindingFactory(resource=volume(conn), rule_id=UNATTACHED)
    client = client_for(outsider)
    assert client.get(list_url(org)).status_code == 404
    assert client.get(detail_url(f)).status_code == 404
    assert client.post(suppress_url(f), {"reason": "x"}).status_code == 404
    assert client.post(unsuppress_url(f)).status_code == 404
    # Their own org's URL with this org's finding id: 404 as well.
    theirs = reverse("findings:detail", kwargs={"org_slug": outsider.org.slug, "finding_id": f.pk})
    assert client.get(theirs).status_code == 404
    f.refresh_from_db()
    assert f.status == F.OPEN
