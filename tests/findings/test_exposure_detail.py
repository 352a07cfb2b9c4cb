"""The exposure pass inside an evaluation (no cloud: the records the collectors write, and a sync's
coverage): severity and path stored on the finding, shown on its page, and a severity event in its history
when the route to the internet goes away."""

from __future__ import annotations

from django.urls import reverse

from findings import lifecycle
from findings.exposure_findings import SEVERITY_BY_EXPOSURE, severity_for
from findings.models import Finding, FindingEvent
from findings.rules.catalog import builtin_catalog
from tests.dashboard.test_exposure_page import REGION, exposed_estate
from tests.factories import ResourceFactory, synced

RULE = "aws-ec2-instance-exposed-to-internet"
TYPES = [
    "aws.ec2.instance",
    "aws.ec2.subnet",
    "aws.ec2.route_table",
    "aws.ec2.internet_gateway",
    "aws.ec2.security_group",
    "aws.ec2.vpc",
    "aws.ec2.network_interface",
]


def test_every_exposure_rule_is_in_the_catalog_with_its_exposed_severity():
    catalog = {rule.id: rule for rule in builtin_catalog().rules}
    for rule_id, (exposed, latent) in SEVERITY_BY_EXPOSURE.items():
        assert rule_id in catalog, rule_id
        assert catalog[rule_id].severity == exposed, f"{rule_id}: the catalog shows the exposed severity"
        assert exposed != latent


def test_severity_for_reads_the_pass_or_keeps_the_rule():
    assert severity_for("high", {}) == "high"
    assert severity_for("high", {"exposure": {"state": "latent", "severity": "low"}}) == "low"
    assert severity_for("medium", {"drift": []}) == "medium"


def test_exposure_on_the_finding_its_page_and_its_history(org, client_for, owner):
    estate = exposed_estate(org)
    synced(estate.conn, {t: [REGION] for t in TYPES})
    lifecycle.evaluate_connection(estate.conn)

    found = Finding.objects.for_org(org).get(rule_id=RULE)
    assert found.severity == "high"
    assert found.detail["exposure"]["ports"] == "tcp 443"
    client = client_for(owner)
    html = client.get(reverse("findings:detail", args=[org.slug, found.pk])).content.decode()
    assert 'data-testid="finding-exposure" data-state="exposed"' in html
    assert "route 0.0.0.0/0 → igw-1" in html
    assert reverse("dashboard:resource", args=[org.slug, estate.igw.pk]) in html

    # The route goes: the instance is latent, the severity drops, the history says why.
    estate.table.config["routes"] = estate.table.config["routes"][:1]
    estate.table.save()
    lifecycle.evaluate_connection(estate.conn)
    found.refresh_from_db()
    assert found.severity == "low" and found.status == Finding.Status.OPEN
    event = FindingEvent.objects.for_org(org).get(finding=found, kind=FindingEvent.Kind.SEVERITY)
    assert event.note == (
        "Severity high → low (latent: route table public-rt of subnet public-a has no route to an internet gateway)."
    )
    html = client.get(reverse("findings:detail", args=[org.slug, found.pk])).content.decode()
    assert 'data-testid="finding-exposure" data-state="latent"' in html
    assert "Missing link:</strong> route table public-rt of subnet public-a has no route" in html
    assert "Severity changed" in html


def test_a_combined_finding_shows_its_chain(org, client_for, owner):
    estate = exposed_estate(org)
    profile = "arn:aws:iam::123456789012:instance-profile/web"
    estate.instance.config["iam_instance_profile_arn"] = profile
    estate.instance.save()
    ResourceFactory(
        connection=estate.conn,
        resource_type="aws.iam.role",
        name="web-admin",
        region="global",
        config={
            "instance_profile_arns": [profile],
            "attached_policy_arns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
        },
    )
    synced(estate.conn, {**{t: [REGION] for t in TYPES}, "aws.iam.role": ["global"]})
    lifecycle.evaluate_connection(estate.conn)

    found = Finding.objects.for_org(org).get(rule_id="aws-ec2-instance-exposed-admin-role")
    assert found.severity == "critical"
    html = client_for(owner).get(reverse("findings:detail", args=[org.slug, found.pk])).content.decode()
    chain = html.split('data-testid="finding-chain"')[1].split("</ol>")[0]
    names = ["Internet", "igw-1", "public-rt", "public-a", "web-sg", "web-1", "web-admin"]
    assert [chain.index(n) for n in names] == sorted(chain.index(n) for n in names)
    assert "AWS managed policy AdministratorAccess allows *:* on *" in chain
