"""Findings in OCSF: each finding becomes a Compliance Finding (2003) when its rule maps to a framework,
else a Detection Finding (2004); every event validates against tests/api/ocsf_findings.schema.json
(written from the public OCSF 1.5.0 spec), through the API endpoint and the export alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from django.urls import reverse

from api import ocsf
from findings.models import CustomRule
from tests.factories import CloudConnectionFactory, FindingFactory, ResourceFactory

SCHEMA = json.loads((Path(__file__).parent / "ocsf_findings.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def valid(event: dict) -> dict:
    errors = sorted(VALIDATOR.iter_errors(event), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
    return event


def test_the_schema_itself_is_valid_and_strict():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert not VALIDATOR.is_valid({"class_uid": 2004})
    assert not VALIDATOR.is_valid([])


@pytest.fixture
def aws(org):
    return CloudConnectionFactory(org=org, name="Prod", aws_account_id="123456789012")


def one(org, finding) -> dict:
    return valid(next(ocsf.events([finding], org, org.slug)))


def test_a_compliance_mapped_rule_is_a_compliance_finding(org, aws):
    trail = ResourceFactory(connection=aws, resource_type="aws.cloudtrail.trail", name="main", tags={"env": "prod"})
    finding = FindingFactory(
        resource=trail,
        rule_id="aws-cloudtrail-not-logging",
        title="CloudTrail trail is not logging",
        severity="high",
        first_seen=T0,
        last_seen=T0 + timedelta(hours=2),
    )
    event = one(org, finding)
    assert event["class_uid"] == 2003 and event["category_uid"] == 2 and event["type_uid"] == 200301
    assert event["severity_id"] == 4 and event["status_id"] == 1 and event["status"] == "New"
    assert event["time"] == int((T0 + timedelta(hours=2)).timestamp() * 1000)
    assert event["finding_info"]["created_time"] == int(T0.timestamp() * 1000)
    assert event["finding_info"]["analytic"] == {
        "uid": "aws-cloudtrail-not-logging",
        "name": "CloudTrail trail is not logging",
        "type_id": 1,
        "type": "Rule",
    }
    assert "CIS Amazon Web Services Foundations Benchmark v1.5.0" in event["compliance"]["standards"]
    assert "cis-aws-1.5 3.1" in event["compliance"]["requirements"]
    assert event["compliance"]["status"] == "Fail"
    assert event["remediation"]["desc"].startswith("Start logging") and event["remediation"]["references"]
    assert event["cloud"] == {
        "provider": "AWS",
        "region": "eu-west-1",
        "account": {"uid": "123456789012", "type_id": 10, "type": "AWS Account", "name": "Prod"},
    }
    resource = event["resources"][0]
    assert resource["uid"] == trail.native_id and resource["type"] == "aws.cloudtrail.trail"
    assert resource["tags"] == [{"name": "env", "value": "prod"}]
    assert event["metadata"]["version"] == "1.5.0" and event["metadata"]["product"]["name"] == "Cloustral"
    assert event["finding_info"]["src_url"].endswith(f"/o/{org.slug}/findings/{finding.pk}/")


def test_resolved_and_suppressed_findings(org, aws):
    trail = ResourceFactory(connection=aws, resource_type="aws.cloudtrail.trail")
    resolved = FindingFactory(
        resource=trail, rule_id="aws-cloudtrail-not-logging", status="resolved", resolved_at=T0, last_seen=T0
    )
    event = one(org, resolved)
    assert (event["activity_id"], event["status_id"], event["compliance"]["status_id"]) == (3, 4, 1)
    volume = ResourceFactory(connection=aws, resource_type="aws.ec2.volume")
    suppressed = FindingFactory(
        resource=volume,
        rule_id="aws-ec2-volume-unattached",
        category="cost",
        severity="low",
        status="suppressed",
        suppressed_reason="scratch",
        suppressed_at=T0,
        monthly_usd=Decimal("8.00"),
    )
    event = one(org, suppressed)
    assert event["class_uid"] == 2004 and event["type_uid"] == 200402 and event["status"] == "Suppressed"
    assert event["unmapped"]["cloustral"]["monthly_usd"] == 8.0
    assert event["unmapped"]["cloustral"]["suppressed_reason"] == "scratch"


def test_azure_policy_and_custom_rule_findings(org):
    azure = CloudConnectionFactory(org=org, provider="azure", auth_method="azure_sp", aws_account_id="")
    vm = ResourceFactory(
        connection=azure,
        resource_type="azure.compute.vm",
        region="westeurope",
        native_id="/subscriptions/1111-2222/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
    )
    policy = FindingFactory(resource=vm, rule_id="policy-4", rule_source="policy", category="drift", severity="info")
    event = one(org, policy)
    assert event["class_uid"] == 2004 and "remediation" not in event and event["severity_id"] == 1
    assert event["cloud"]["provider"] == "Azure" and event["cloud"]["account"]["uid"] == "1111-2222"
    assert event["cloud"]["account"]["type_id"] == 13

    CustomRule.objects.create(
        org=org,
        rule_id="custom-vm-tagged",
        source="...",
        document={
            "id": "vm-tagged",
            "description": "VMs carry an owner.",
            "remediation": ["Tag it."],
            "compliance": {"internal-2026": ["T-1"]},
        },
        title="VM without owner",
        severity="medium",
        category="hygiene",
    )
    custom = FindingFactory(resource=vm, rule_id="custom-vm-tagged", rule_source="custom", severity="medium")
    event = one(org, custom)
    assert event["class_uid"] == 2003 and event["compliance"]["standards"] == ["internal-2026"]
    assert event["finding_info"]["desc"] == "VMs carry an owner." and event["remediation"]["desc"] == "Tag it."


def test_a_finding_whose_resource_is_gone_still_validates(org, aws):
    resource = ResourceFactory(connection=aws, resource_type="aws.ec2.volume", name="")
    finding = FindingFactory(resource=resource, rule_id="aws-ec2-volume-unattached", resource_name="")
    resource.delete()
    finding.refresh_from_db()
    event = one(org, finding)
    assert event["resources"][0]["name"] == finding.native_id and event["resources"][0]["tags"] == []


def test_the_api_endpoint_filters_pages_and_validates(org, reader, aws):
    made = []
    for i in range(5):
        resource = ResourceFactory(connection=aws, resource_type="aws.cloudtrail.trail", name=f"t{i}")
        made.append(FindingFactory(resource=resource, rule_id="aws-cloudtrail-not-logging", severity="high"))
    FindingFactory(resource=ResourceFactory(connection=aws), severity="low", rule_id="x-low")
    page = reader.get("/api/v1/findings/ocsf/?severity=high&limit=3").json()
    assert len(page["results"]) == 3 and page["next"]
    rest = reader.get(page["next"]).json()
    events = [valid(e) for e in page["results"] + rest["results"]]
    assert sorted(e["finding_info"]["uid"] for e in events) == sorted(f"cloustral-finding-{f.pk}" for f in made)
    assert reader.get("/api/v1/findings/ocsf/?severity=awful").status_code == 400


def test_the_export_streams_every_filtered_finding(org, client_for, owner, outsider, aws):
    for i in range(3):
        FindingFactory(resource=ResourceFactory(connection=aws, name=f"r{i}"), severity="critical")
    FindingFactory(resource=ResourceFactory(connection=aws), severity="low")
    url = reverse("api:ocsf_export", kwargs={"org_slug": org.slug})
    response = client_for(owner).get(url + "?severity=critical")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert ".ocsf.json" in response["Content-Disposition"] and response["Cache-Control"] == "no-store"
    events = json.loads(b"".join(response.streaming_content))
    assert len(events) == 3 and all(valid(e)["severity_id"] == 5 for e in events)
    assert client_for(owner).get(url + "?severity=awful").status_code == 400
    assert client_for(outsider).get(url).status_code == 404


def test_the_findings_page_links_to_the_export(org, client_for, owner):
    html = client_for(owner).get(reverse("findings:list", kwargs={"org_slug": org.slug})).content.decode()
    assert reverse("api:ocsf_export", kwargs={"org_slug": org.slug}) in html
