"""A setting a collector could not read (listed in ``config["unreadable"]``) is never a pass: a rule that
reads it is "not evaluated" on that resource — in its rule status, in the compliance view, and for the
finding lifecycle (an open finding is not resolved by a scan that could not see the setting)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from findings import compliance, lifecycle
from findings.models import Finding, FindingEvent, RuleStatus
from findings.rules import ResourceIndex, compile_rule, evaluate_rule
from findings.rules.evaluate import unread_keys
from inventory.models import Resource
from tests.factories import CloudConnectionFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db
USER = "aws.iam.user"
TOPIC = "aws.sns.topic"
NOT_ROTATED = "aws-iam-access-key-not-rotated"  # CIS AWS 3.0 1.14
OLD_KEY = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "status": "Active", "create_date": "2020-01-01T00:00:00+00:00"}
V = RuleStatus.Verdict


@pytest.fixture
def conn(org):
    connection = CloudConnectionFactory(org=org)
    synced(connection, {USER: ["global"], TOPIC: ["eu-west-1"]})
    return connection


def user(conn, name="ada", **config):
    base = {"user_name": name, "access_keys": [], "unreadable": []}
    return ResourceFactory(connection=conn, resource_type=USER, name=name, region="global", config={**base, **config})


def status(conn, rule_id) -> RuleStatus:
    return RuleStatus.objects.for_org(conn.org).get(connection=conn, rule_id=rule_id)


def cis_cell(org, control="1.14"):
    report = compliance.framework_report(org, "cis-aws-3.0")
    row = next(r for r in report.controls if r.control == control)
    return row.cells[0]


def test_unreadable_setting_is_not_evaluated_in_rule_status_and_compliance(org, conn):
    res = user(conn, access_keys=None, unreadable=["access_keys"])
    lifecycle.evaluate_connection(conn)
    rule_status = status(conn, NOT_ROTATED)
    assert rule_status.verdict == V.NOT_EVALUATED  # before the fix: pass (null access keys match nothing)
    assert rule_status.not_evaluated_count == 1 and rule_status.checked == 0
    [entry] = rule_status.not_evaluated
    reason = "could not read access_keys"
    assert entry == {"type": USER, "region": "global", "resource": res.native_id, "reason": reason}
    cell = cis_cell(org)
    assert cell.verdict == compliance.NOT_EVALUATED
    assert "could not read access_keys" in cell.reasons
    assert not Finding.objects.for_org(org).filter(rule_id=NOT_ROTATED).exists()


def test_readable_user_still_passes_and_an_unrelated_unreadable_setting_changes_nothing(org, conn):
    user(conn, "ada", access_keys=[])
    user(conn, "bob", access_keys=[], tags=None, unreadable=["tags"])
    lifecycle.evaluate_connection(conn)
    assert status(conn, NOT_ROTATED).verdict == V.PASS
    assert cis_cell(org).verdict == compliance.PASS


def test_open_finding_is_not_resolved_by_a_scan_that_could_not_read_the_setting(org, conn):
    res = user(conn, access_keys=[OLD_KEY])
    lifecycle.evaluate_connection(conn)
    found = Finding.objects.for_org(org).get(rule_id=NOT_ROTATED, native_id=res.native_id)
    assert found.status == Finding.Status.OPEN
    seen = found.last_seen

    Resource.objects.for_org(org).filter(pk=res.pk).update(
        config={**res.config, "access_keys": None, "unreadable": ["access_keys"]}
    )
    summary = lifecycle.evaluate_connection(conn)
    found.refresh_from_db()
    assert found.status == Finding.Status.OPEN and found.resolved_at is None  # before the fix: resolved
    assert found.last_seen == seen  # unchanged: this scan did not see the key
    assert summary.resolved == 0
    assert list(FindingEvent.objects.for_org(org).filter(finding=found).values_list("kind", flat=True)) == ["opened"]
    assert status(conn, NOT_ROTATED).verdict == V.FAIL  # the finding still stands

    # Readable again and rotated: now it resolves.
    Resource.objects.for_org(org).filter(pk=res.pk).update(config={**res.config, "access_keys": []})
    lifecycle.evaluate_connection(conn)
    found.refresh_from_db()
    assert found.status == Finding.Status.RESOLVED


def test_a_call_filling_several_keys_makes_its_null_keys_unknown(org, conn):
    """SNS lists "attributes" (one call fills kms_master_key_id and others): the encryption rule, which
    reads kms_master_key_id, is not evaluated where it is null — not passed, not a finding."""
    topic = ResourceFactory(
        connection=conn,
        resource_type=TOPIC,
        region="eu-west-1",
        config={"topic_name": "alerts", "kms_master_key_id": None, "unreadable": ["attributes"]},
    )
    lifecycle.evaluate_connection(conn)
    rule_status = status(conn, "aws-sns-topic-not-kms-encrypted")
    assert rule_status.verdict == V.NOT_EVALUATED  # before the fix: pass (the rule guards "attributes")
    assert rule_status.not_evaluated[0]["resource"] == topic.native_id


def test_an_azure_setting_that_could_not_be_read(org):
    """Azure collectors list unreadable settings the same way (a firewall whose policy was denied)."""
    azure = CloudConnectionFactory(org=org, provider="azure")
    scope = "/subscriptions/00000000-0000-0000-0000-000000000000"
    synced(azure, {"azure.network.firewall": [scope]})
    fields = ("threat_intel_mode", "idps_mode", "policy_rule_collection_group_count", "has_rules")
    ResourceFactory(
        connection=azure,
        provider="azure",
        resource_type="azure.network.firewall",
        region="westeurope",
        native_id=f"{scope}/resourcegroups/rg/providers/microsoft.network/azurefirewalls/fw",
        config={**dict.fromkeys(fields), "sku_tier": "Standard", "unreadable": list(fields)},
    )
    lifecycle.evaluate_connection(azure)
    assert status(azure, "azure-firewall-threat-intel-off").verdict == V.NOT_EVALUATED  # before: pass


# --- The engine, without the database ------------------------------------------------------------


def _record(rid, rtype, config, **extra):
    return {"id": rid, "connection_id": 1, "resource_type": rtype, "region": "eu-west-1", "native_id": f"r{rid}",
            "name": f"r{rid}", "tags": {}, "config": config, **extra}  # fmt: skip


def test_unread_keys():
    rec = {"config": {"acl": None, "versioning": "Enabled", "unreadable": ["acl", "tags"]}}
    assert unread_keys(rec, frozenset({"acl"})) == ("acl",)
    assert unread_keys(rec, frozenset({"versioning"})) == ()
    assert unread_keys(rec, frozenset({"tags", "versioning"})) == ("tags",)
    assert unread_keys(rec, frozenset({"*"})) == ("acl", "tags")
    grouped = {"config": {"kms": None, "fifo": False, "unreadable": ["attributes"]}}
    assert unread_keys(grouped, frozenset({"kms", "fifo"})) == ("kms",)
    assert unread_keys({"config": {"unreadable": []}}, frozenset({"kms"})) == ()


def test_rule_reading_an_unreadable_setting_of_a_related_resource_is_not_evaluated():
    rule = compile_rule(
        {
            "id": "instance-open-sg",
            "title": "Instance behind an open group",
            "severity": "high",
            "category": "security",
            "resource_types": ["aws.ec2.instance"],
            "condition": {
                "related": {
                    "kind": "uses_sg",
                    "types": ["aws.ec2.security_group"],
                    "where": {"path": "config.open_to_world", "op": "equals", "value": True},
                }
            },
        }
    )
    records = [
        _record(1, "aws.ec2.instance", {"unreadable": []}),
        _record(2, "aws.ec2.security_group", {"open_to_world": None, "unreadable": ["open_to_world"]}),
        _record(3, "aws.ec2.instance", {"unreadable": []}),
        _record(4, "aws.ec2.security_group", {"open_to_world": False, "unreadable": []}),
        _record(5, "aws.ec2.instance", {"unreadable": []}),
        _record(6, "aws.ec2.security_group", {"open_to_world": True, "unreadable": ["tags"]}),
    ]
    index = ResourceIndex(records, [(1, 2, "uses_sg"), (3, 4, "uses_sg"), (5, 6, "uses_sg")])
    result = evaluate_rule(rule, index)
    assert result.matched == [5]
    assert result.unreadable == {1: ("r2: open_to_world",)}  # before the fix: a pass
    assert result.checked == 2


def test_the_resource_page_says_what_could_not_be_read(client_for, owner, org, conn):
    res = user(conn, access_keys=None, unreadable=["access_keys"])
    lifecycle.evaluate_connection(conn)
    html = client_for(owner).get(reverse("dashboard:resource", args=[org.slug, res.pk])).content.decode()
    assert 'data-testid="unreadable"' in html and "could not read access_keys" in html
    readable = user(conn, "bob")
    html = client_for(owner).get(reverse("dashboard:resource", args=[org.slug, readable.pk])).content.decode()
    assert 'data-testid="unreadable"' not in html
