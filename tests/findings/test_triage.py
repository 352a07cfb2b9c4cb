"""Triage at scale: the list grouped by rule (flat view still there), bulk suppress / lift / export on a
selection or the whole filtered list, acceptance by rule and scope (now and for later findings), counts
recomputed everywhere after a decision, and remediation snippets with the resource's ids filled in."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from findings import bulk, compliance, lifecycle, queries, remediation
from findings.models import Finding, FindingEvent, RuleStatus, SuppressionRule
from findings.rules.catalog import builtin_catalog
from orgs.roles import Role
from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    MembershipFactory,
    ResourceFactory,
    UserFactory,
    synced,
)

F = Finding.Status
VOLUME = "aws.ec2.volume"
UNENCRYPTED = "aws-ec2-volume-unencrypted"
FW = "cis-aws-1.5"


@pytest.fixture
def conn(org):
    return CloudConnectionFactory(org=org, name="Production")


@pytest.fixture
def owner_client(owner, client_for):
    return client_for(owner)


def url(org, name="list", **kwargs):
    return reverse(f"findings:{name}", kwargs={"org_slug": org.slug, **kwargs})


def vpc_findings(conn, regions, rule_id="aws-default-vpc-present", **extra):
    out = []
    for region in regions:
        res = ResourceFactory(connection=conn, resource_type="aws.ec2.vpc", region=region, name=f"default-{region}")
        out.append(FindingFactory(resource=res, rule_id=rule_id, title="Default VPC present", severity="low", **extra))
    return out


# --- grouped view ------------------------------------------------------------------------------------------


def test_the_list_groups_by_rule_with_counts_connections_and_waste(owner_client, org, conn):
    other = CloudConnectionFactory(org=org, name="Staging")
    vpc_findings(conn, ["eu-west-1", "eu-west-2", "us-east-1"])
    vpc_findings(other, ["eu-west-1"])
    for i in range(2):
        res = ResourceFactory(connection=conn, resource_type=VOLUME, name=f"vol-{i}")
        FindingFactory(
            resource=res, rule_id="aws-ec2-volume-unattached", severity="medium", category="cost", monthly_usd="10.50"
        )
    FindingFactory(resource=ResourceFactory(connection=conn), rule_id="crit", severity="critical", title="Critical")
    response = owner_client.get(url(org))
    assert response.context["view"] == "rules"
    groups = {g.rule_id: g for g in response.context["page"].object_list}
    assert [g.rule_id for g in response.context["page"].object_list] == [
        "crit",
        "aws-ec2-volume-unattached",
        "aws-default-vpc-present",
    ]  # most severe first
    vpc = groups["aws-default-vpc-present"]
    assert (vpc.count, vpc.connections, vpc.waste) == (4, 2, None)
    cost = groups["aws-ec2-volume-unattached"]
    assert (cost.count, cost.connections, cost.waste) == (2, 1, Decimal("21.00"))
    html = response.content.decode()
    assert "7 findings in 3 rules" in html and 'data-testid="rule-group"' in html
    # Opening a group loads its findings (within the filters); the flat view is one click away.
    rows = owner_client.get(url(org, "group_rows") + "?rule=aws-default-vpc-present")
    assert rows.status_code == 200 and rows.content.decode().count('name="id"') == 4
    assert owner_client.get(url(org, "group_rows")).status_code == 400
    flat = owner_client.get(url(org) + "?view=flat")
    assert flat.context["view"] == "flat" and flat.context["page"].paginator.count == 7
    # One rule filter drills into the flat list of that rule.
    assert owner_client.get(url(org) + "?rule=crit").context["view"] == "flat"


def test_grouped_view_runs_a_fixed_number_of_queries(owner_client, org, conn, django_assert_max_num_queries):
    for i in range(30):
        vpc_findings(conn, [f"r-{i}"], rule_id=f"rule-{i % 7}")
    with django_assert_max_num_queries(16):
        assert owner_client.get(url(org)).status_code == 200


# --- bulk actions ---------------------------------------------------------------------------------------


def test_bulk_suppress_a_selection_is_one_audited_decision(owner_client, owner, org, conn):
    a, b, c = vpc_findings(conn, ["eu-west-1", "eu-west-2", "eu-west-3"])
    response = owner_client.post(
        url(org, "bulk"),
        {"action": "suppress", "id": [a.pk, b.pk], "reason": "Boilerplate", "back": "view=flat"},
    )
    assert response.status_code == 302 and response["Location"] == url(org) + "?view=flat"
    statuses = dict(Finding.objects.for_org(org).values_list("pk", "status"))
    assert statuses == {a.pk: F.SUPPRESSED, b.pk: F.SUPPRESSED, c.pk: F.OPEN}
    event = AuditEvent.objects.get(org=org, action="finding_suppressed")
    assert event.actor == owner and event.metadata["findings"] == 2
    assert FindingEvent.objects.for_org(org).filter(kind="suppressed").count() == 2
    # Lifting them again.
    owner_client.post(url(org, "bulk"), {"action": "unsuppress", "id": [a.pk, b.pk], "status": "suppressed"})
    assert Finding.objects.for_org(org).filter(status=F.OPEN).count() == 3
    assert AuditEvent.objects.filter(org=org, action="finding_unsuppressed", metadata__findings=2).exists()


def test_bulk_suppress_the_whole_filtered_list_and_by_rule_group(owner_client, org, conn):
    vpc_findings(conn, ["eu-west-1", "eu-west-2"])
    keep = FindingFactory(resource=ResourceFactory(connection=conn), rule_id="other", severity="high")
    owner_client.post(url(org, "bulk"), {"action": "suppress", "scope": "all", "severity": "low", "reason": "ok"})
    assert set(Finding.objects.for_org(org).filter(status=F.SUPPRESSED).values_list("rule_id", flat=True)) == {
        "aws-default-vpc-present"
    }
    owner_client.post(url(org, "bulk"), {"action": "suppress", "group": ["other"], "reason": "ok too"})
    keep.refresh_from_db()
    assert keep.status == F.SUPPRESSED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "suppress", "id": ["1"]}, "Say why"),
        ({"action": "suppress", "reason": "x"}, "Select at least one finding"),
        ({"action": "delete", "id": ["1"]}, "Choose what to do"),
        ({"action": "suppress", "scope": "all", "severity": "nope", "reason": "x"}, "not valid"),
    ],
)
def test_bulk_refusals_say_why_and_change_nothing(owner_client, org, conn, data, message):
    f = vpc_findings(conn, ["eu-west-1"])[0]
    data = {k: (v if k != "id" else [str(f.pk)]) for k, v in data.items()}
    response = owner_client.post(url(org, "bulk"), data, follow=True)
    assert response.status_code == 200 and message in response.content.decode()
    f.refresh_from_db()
    assert f.status == F.OPEN


def test_bulk_export_of_a_selection_is_audited(owner_client, org, conn):
    a, b = vpc_findings(conn, ["eu-west-1", "eu-west-2"])
    response = owner_client.post(url(org, "bulk"), {"action": "export_json", "id": [a.pk]})
    assert response.status_code == 200
    rows = json.loads(b"".join(response.streaming_content))
    rows = rows.get("findings", rows) if isinstance(rows, dict) else rows
    assert [r["native_id"] for r in rows] == [a.native_id]
    assert AuditEvent.objects.filter(org=org, action="findings_exported", metadata__findings=1).exists()


def test_bulk_never_reaches_another_org(owner_client, org, conn, outsider):
    theirs = vpc_findings(CloudConnectionFactory(org=outsider.org), ["eu-west-1"])[0]
    owner_client.post(url(org, "bulk"), {"action": "suppress", "id": [theirs.pk], "reason": "mine now"})
    theirs.refresh_from_db()
    assert theirs.status == F.OPEN


def test_a_viewer_may_export_but_not_suppress(org, conn, client_for):
    viewer = UserFactory()
    MembershipFactory(user=viewer, org=org, role=Role.VIEWER)
    f = vpc_findings(conn, ["eu-west-1"])[0]
    c = client_for(viewer)
    assert c.post(url(org, "bulk"), {"action": "suppress", "id": [f.pk], "reason": "x"}).status_code == 403
    assert c.post(url(org, "bulk"), {"action": "export_csv", "id": [f.pk]}).status_code == 200
    assert c.get(url(org, "accept")).status_code == 403


# --- acceptance by rule and scope -----------------------------------------------------------------------


def test_accepting_a_rule_in_a_connection_covers_later_findings_too(owner_client, owner, org, conn):
    other = CloudConnectionFactory(org=org, name="Staging")
    ours = vpc_findings(conn, ["eu-west-1", "us-east-1"])
    theirs = vpc_findings(other, ["eu-west-1"])
    page = owner_client.get(url(org, "accept") + f"?finding={ours[0].pk}").content.decode()
    assert "aws-default-vpc-present" in page and f'value="{conn.pk}" selected' in page
    response = owner_client.post(
        url(org, "accept") + f"?finding={ours[0].pk}",
        {"rule_id": "aws-default-vpc-present", "connection": conn.pk, "region": "", "reason": "Default VPCs"},
    )
    assert response.status_code == 302
    rule = SuppressionRule.objects.for_org(org).get()
    assert {f.status for f in Finding.objects.for_org(org).filter(pk__in=[f.pk for f in ours])} == {F.SUPPRESSED}
    assert Finding.objects.for_org(org).get(pk=theirs[0].pk).status == F.OPEN
    assert AuditEvent.objects.filter(org=org, action="scope_suppression_created", metadata__findings=2).exists()

    # A new default VPC in the accepted connection is suppressed by the next evaluation; elsewhere it is not.
    later = vpc_findings(conn, ["ap-south-1"])[0]
    assert bulk.apply_scope_suppressions(conn) == 1 and bulk.apply_scope_suppressions(other) == 0
    later.refresh_from_db()
    assert later.status == F.SUPPRESSED and later.suppression_rule == rule
    detail = owner_client.get(later.get_absolute_url()).content.decode()
    assert "Accepted with every finding of this rule in connection Production" in detail

    # Lifting reopens what it suppressed, and only that.
    manual = vpc_findings(conn, ["sa-east-1"])[0]
    owner_client.post(reverse("findings:suppress", args=[org.slug, manual.pk]), {"reason": "mine"})
    owner_client.post(url(org, "lift_acceptance", acceptance_id=rule.pk))
    assert Finding.objects.for_org(org).filter(status=F.SUPPRESSED).get().pk == manual.pk
    assert AuditEvent.objects.filter(org=org, action="scope_suppression_lifted", metadata__findings=3).exists()
    listing = owner_client.get(url(org, "acceptances")).content.decode()
    assert "Lifted" in listing


def test_acceptance_by_region_and_tag(org, conn, owner):
    tagged = ResourceFactory(connection=conn, resource_type="aws.ec2.vpc", region="eu-west-1", tags={"env": "sandbox"})
    plain = ResourceFactory(connection=conn, resource_type="aws.ec2.vpc", region="eu-west-1", tags={"env": "prod"})
    elsewhere = ResourceFactory(
        connection=conn, resource_type="aws.ec2.vpc", region="us-east-1", tags={"env": "sandbox"}
    )
    findings = {r.pk: FindingFactory(resource=r, rule_id="aws-default-vpc-present") for r in (tagged, plain, elsewhere)}
    _, n = bulk.do_accept_scope(
        org,
        rule_id="aws-default-vpc-present",
        user=owner,
        reason="sandbox",
        region="eu-west-1",
        tag_key="env",
        tag_value="sandbox",
    )
    assert n == 1
    status = {pk: Finding.objects.for_org(org).get(pk=f.pk).status for pk, f in findings.items()}
    assert status == {tagged.pk: F.SUPPRESSED, plain.pk: F.OPEN, elsewhere.pk: F.OPEN}
    with pytest.raises(bulk.BulkError):
        bulk.do_accept_scope(org, rule_id="aws-default-vpc-present", user=owner, reason="  ")


def test_an_evaluation_applies_acceptances_to_new_findings(org, conn, owner):
    synced(conn, {VOLUME: ["eu-west-1"]})
    bulk.do_accept_scope(org, rule_id=UNENCRYPTED, user=owner, reason="test data", region="eu-west-1")
    ResourceFactory(
        connection=conn, resource_type=VOLUME, region="eu-west-1", config={"encrypted": False, "state": "in-use"}
    )
    lifecycle.evaluate_connection(conn)
    finding = Finding.objects.for_org(org).get(rule_id=UNENCRYPTED)
    assert finding.status == F.SUPPRESSED and finding.suppressed_reason == "test data"
    status = RuleStatus.objects.for_org(org).get(connection=conn, rule_id=UNENCRYPTED)
    assert status.matched == 0 and status.verdict != "fail"


# --- counts recomputed after a decision -----------------------------------------------------------------


def test_compliance_and_headline_counts_follow_a_suppression(owner_client, org, conn):
    synced(conn, {VOLUME: ["eu-west-1"]})
    for name in ("a", "b"):
        ResourceFactory(
            connection=conn, resource_type=VOLUME, name=name, config={"encrypted": False, "state": "in-use"}
        )
    lifecycle.evaluate_connection(conn)
    control = next(c for c, rules in builtin_catalog().controls(FW).items() if UNENCRYPTED in rules)

    def cell():
        row = next(r for r in compliance.framework_report(org, FW).controls if r.control == control)
        return row.cells[0]

    assert cell().open_findings == 2 and cell().verdict == "fail"
    first, second = Finding.objects.for_org(org).filter(rule_id=UNENCRYPTED).order_by("pk")
    owner_client.post(reverse("findings:suppress", args=[org.slug, first.pk]), {"reason": "test volume"})
    assert cell().open_findings == 1  # not "2 open findings" any more
    assert queries.open_counts(org, [(conn.pk, UNENCRYPTED)]) == {(conn.pk, UNENCRYPTED): 1}
    owner_client.post(url(org, "bulk"), {"action": "suppress", "id": [second.pk], "reason": "also test"})
    assert cell().open_findings == 0 and cell().verdict != "fail"
    assert queries.counts_by_severity_category(org).total == 0
    owner_client.post(reverse("findings:unsuppress", args=[org.slug, first.pk]))
    assert cell().open_findings == 1 and cell().verdict == "fail"


# --- remediation snippets ---------------------------------------------------------------------------------


def test_every_snippet_names_a_catalog_rule_and_known_placeholders():
    catalog = builtin_catalog()
    snippets = remediation.catalog()
    assert len(snippets) >= 30
    assert not [rule_id for rule_id in snippets if rule_id not in catalog]


def test_snippets_fill_in_the_resource_ids_and_quote_them(owner_client, org, conn):
    res = ResourceFactory(
        connection=conn,
        resource_type="aws.ec2.instance",
        region="eu-west-1",
        native_id="arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123",
    )
    f = FindingFactory(resource=res, rule_id="aws-ec2-instance-imdsv1-allowed")
    html = owner_client.get(f.get_absolute_url()).content.decode()
    assert "aws ec2 modify-instance-metadata-options --region eu-west-1 --instance-id i-0abc123" in html
    assert 'data-testid="copy-aws_cli"' in html and "http_tokens   = &quot;required&quot;" in html
    bucket = FindingFactory(
        resource=ResourceFactory(
            connection=conn, resource_type="aws.s3.bucket", native_id="arn:aws:s3:::logs; rm -rf ~", region="global"
        ),
        rule_id="aws-s3-bucket-versioning-off",
    )
    cli, tf = remediation.snippets_for(bucket)
    assert "--bucket 'logs; rm -rf ~'" in cli.text  # shell-quoted, never run as two commands
    assert 'bucket = "logs; rm -rf ~"' in tf.text
    azure = FindingFactory(
        resource=ResourceFactory(
            connection=conn,
            resource_type="azure.keyvault.vault",
            native_id="/subscriptions/0000/resourceGroups/rg-prod/providers/Microsoft.KeyVault/vaults/kv-main",
        ),
        rule_id="azure-keyvault-purge-protection-off",
    )
    assert remediation.snippets_for(azure)[0].text == (
        "az keyvault update --name kv-main --resource-group rg-prod --enable-purge-protection true"
    )
    assert remediation.snippets_for(FindingFactory(resource=res, rule_id="no-such-rule")) == []


# --- small things -----------------------------------------------------------------------------------------


def test_an_org_without_connections_is_not_told_its_scans_found_nothing(owner_client, org):
    html = owner_client.get(url(org)).content.decode()
    assert "No cloud account connected yet" in html and "found nothing to fix" not in html
    CloudConnectionFactory(org=org)
    html = owner_client.get(url(org)).content.decode()
    assert "found nothing to fix" in html


def test_a_forged_back_link_stays_a_query_on_the_list(owner_client, org, conn):
    response = owner_client.post(url(org, "bulk"), {"action": "nope", "back": "severity=low\r\nX-Evil: 1#frag"})
    assert response.status_code == 302
    assert response["Location"].startswith(url(org) + "?severity=low") and "\n" not in response["Location"]
