"""Findings, rules, custom rules and compliance through the API: the findings list's filters with keyset
pages, why a finding matched, suppress / unsuppress, custom rules with the editor's validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from api.models import ApiKey
from findings.models import CustomRule, Finding, RuleStatus
from findings.rules.language import MAX_RULE_BYTES
from tests.api.test_inventory_endpoints import follow
from tests.factories import CloudConnectionFactory, FindingFactory, ResourceFactory

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
RULE = """id: volume-unencrypted
title: Unencrypted volume
severity: high
category: security
resource_types: [aws.ec2.volume]
condition: {path: config.encrypted, op: equals, value: false}
"""


@pytest.fixture
def world(org):
    aws = CloudConnectionFactory(org=org, name="AWS")
    azure = CloudConnectionFactory(org=org, name="Azure", provider="azure", auth_method="azure_sp")
    vol = ResourceFactory(connection=aws, name="data-vol", resource_type="aws.ec2.volume", config={"encrypted": False})
    vm = ResourceFactory(connection=azure, name="vm-1", resource_type="azure.compute.vm", region="westeurope")
    f = {
        "crit": FindingFactory(resource=vol, severity="critical", category="security", rule_id="r-a", last_seen=T0),
        "cost": FindingFactory(
            resource=vol, severity="low", category="cost", rule_id="r-b", title="Idle volume", last_seen=T0
        ),
        "hyg": FindingFactory(resource=vm, severity="medium", category="hygiene", rule_id="r-c", last_seen=T0),
        "closed": FindingFactory(resource=vm, severity="high", rule_id="r-d", status="resolved", last_seen=T0),
    }
    return {"aws": aws, "azure": azure, "vol": vol, "vm": vm, **f}


def ids(client, query: str = "") -> list[int]:
    response = client.get(f"/api/v1/findings/?{query}")
    assert response.status_code == 200, response.content
    return [f["id"] for f in response.json()["results"]]


def test_findings_filters(org, reader, world):
    w = world
    assert ids(reader) == [w["crit"].pk, w["hyg"].pk, w["cost"].pk]  # open, most severe first
    assert set(ids(reader, "status=any")) == {w["crit"].pk, w["hyg"].pk, w["cost"].pk, w["closed"].pk}
    assert ids(reader, "status=resolved") == [w["closed"].pk]
    assert ids(reader, "severity=critical&severity=low") == [w["crit"].pk, w["cost"].pk]
    assert ids(reader, "category=cost") == [w["cost"].pk]
    assert ids(reader, f"connection={w['azure'].pk}") == [w["hyg"].pk]
    assert ids(reader, "provider=aws") == [w["crit"].pk, w["cost"].pk]
    assert ids(reader, "rule=r-b") == [w["cost"].pk]
    assert ids(reader, "q=idle") == [w["cost"].pk]
    assert ids(reader, "sort=-severity") == [w["cost"].pk, w["hyg"].pk, w["crit"].pk]
    first = reader.get("/api/v1/findings/?q=vm-1&status=any").json()["results"]
    assert {f["resource"]["name"] for f in first} == {"vm-1"}
    assert first[0]["connection"] == {"id": w["azure"].pk, "name": "Azure", "provider": "azure"}


@pytest.mark.parametrize("query", ["severity=urgent", "status=gone", "connection=999999", "sort=random", "rule=BAD ID"])
def test_invalid_finding_filters_are_400(org, reader, world, query):
    response = reader.get(f"/api/v1/findings/?{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"


@pytest.mark.parametrize("sort", ["severity", "-severity", "-last_seen", "last_seen"])
def test_finding_keyset_pages_cover_every_row_once(org, reader, sort):
    conn = CloudConnectionFactory(org=org)
    severities = ["critical", "high", "medium", "low", "info"]
    made = []
    for i in range(13):
        resource = ResourceFactory(connection=conn, name=f"r{i}")
        # Ties on purpose: several findings share a severity and a last-seen time.
        made.append(
            FindingFactory(resource=resource, severity=severities[i % 5], last_seen=T0 + timedelta(hours=i % 3))
        )
    rows = follow(reader, f"/api/v1/findings/?sort={sort}&limit=4")
    assert sorted(r["id"] for r in rows) == sorted(f.pk for f in made)
    assert len(rows) == 13
    one_page = reader.get(f"/api/v1/findings/?sort={sort}&limit=200").json()["results"]
    assert [r["id"] for r in rows] == [r["id"] for r in one_page]


def test_a_cursor_of_another_sort_is_400(org, reader, world):
    page = reader.get("/api/v1/findings/?sort=severity&limit=1").json()
    cursor = page["next"].split("cursor=")[1]
    response = reader.get(f"/api/v1/findings/?sort=-last_seen&cursor={cursor}")
    assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"


def test_one_finding_with_its_explanation(org, reader, world):
    finding = FindingFactory(
        resource=world["vol"],
        rule_id="aws-ec2-volume-unencrypted",
        title="EBS volume is not encrypted",
        severity="medium",
    )
    body = reader.get(f"/api/v1/findings/{finding.pk}/").json()
    assert body["rule_id"] == "aws-ec2-volume-unencrypted"
    explanation = body["explanation"]
    assert explanation["rule"]["id"] == "aws-ec2-volume-unencrypted" and explanation["rule"]["remediation"]
    assert explanation["tree"]["result"] is True
    assert body["events"] == [] and isinstance(body["compliance"], list)
    unknown_rule = reader.get(f"/api/v1/findings/{world['crit'].pk}/").json()
    assert unknown_rule["explanation"]["tree"] is None and unknown_rule["explanation"]["problem"]


def test_suppress_with_reason_and_expiry_then_unsuppress(org, writer, world):
    finding = world["crit"]
    until = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    response = writer.post(
        f"/api/v1/findings/{finding.pk}/suppress/", {"reason": "Accepted", "until": until.isoformat()}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "suppressed" and body["suppression"]["reason"] == "Accepted"
    assert datetime.fromisoformat(body["suppression"]["until"]) == until
    finding.refresh_from_db()
    assert finding.status == Finding.Status.SUPPRESSED and finding.suppressed_until == until
    again = writer.post(f"/api/v1/findings/{finding.pk}/unsuppress/")
    assert again.status_code == 200 and again.json()["status"] == "open"
    twice = writer.post(f"/api/v1/findings/{finding.pk}/unsuppress/")
    assert twice.status_code == 409 and twice.json()["code"] == "not_suppressed"
    assert AuditEvent.objects.filter(action__in=["finding_suppressed", "finding_unsuppressed"]).count() == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"reason": ""}, 400),
        ({"reason": "   "}, 400),
        ({"reason": "x", "until": "2001-01-01T00:00:00Z"}, 400),
        ({"reason": "x", "until": "not a date"}, 400),
        ({"reason": "x", "until": "9999-12-31T23:59:59-14:00"}, 400),
        ({"reason": "x" * 2001}, 400),
        (["reason"], 400),
    ],
)
def test_bad_suppressions_are_400_and_change_nothing(org, writer, world, body, status):
    finding = world["crit"]
    response = writer.post(f"/api/v1/findings/{finding.pk}/suppress/", body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == "invalid_request"
    finding.refresh_from_db()
    assert finding.status == Finding.Status.OPEN


def test_a_resolved_finding_cannot_be_suppressed(org, writer, world):
    response = writer.post(f"/api/v1/findings/{world['closed'].pk}/suppress/", {"reason": "x"})
    assert response.status_code == 409 and response.json()["code"] == "suppression_refused"


def test_malformed_json_is_400(org, writer, world):
    response = writer.client.post(
        f"/api/v1/findings/{world['crit'].pk}/suppress/",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {writer.token}",
    )
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    form = writer.client.post(
        f"/api/v1/findings/{world['crit'].pk}/suppress/", {"reason": "x"}, HTTP_AUTHORIZATION=f"Bearer {writer.token}"
    )
    assert form.status_code == 415 and form.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize("member_role", ["viewer"])
def test_a_viewer_cannot_suppress(org, member, api_for, world):
    client = api_for(org, user=member, scope=ApiKey.Scope.READ_WRITE)
    response = client.post(f"/api/v1/findings/{world['crit'].pk}/suppress/", {"reason": "x"})
    assert response.status_code == 403


def test_another_orgs_findings_are_404(org, outsider, api_for, world):
    foreign = api_for(outsider.org, user=outsider)
    assert foreign.get(f"/api/v1/findings/{world['crit'].pk}/").status_code == 404
    assert foreign.post(f"/api/v1/findings/{world['crit'].pk}/suppress/", {"reason": "x"}).status_code == 404
    assert foreign.post(f"/api/v1/findings/{world['crit'].pk}/unsuppress/").status_code == 404
    assert foreign.get("/api/v1/findings/?status=any").json()["results"] == []


# --- rules and custom rules -------------------------------------------------------------------------


def test_rules_list_filters_and_pages(org, reader):
    everything = follow(reader, "/api/v1/rules/?limit=200")
    assert len(everything) > 20 and all(r["source"] == "builtin" for r in everything)
    cost = reader.get("/api/v1/rules/?category=cost&limit=200").json()["results"]
    assert cost and {r["category"] for r in cost} == {"cost"}
    cis = reader.get("/api/v1/rules/?framework=cis-aws-1.5&provider=aws&limit=200").json()["results"]
    assert cis and all("cis-aws-1.5" in r["compliance"] for r in cis)
    paged = follow(reader, "/api/v1/rules/?limit=7")
    assert [r["id"] for r in paged] == [r["id"] for r in everything]
    assert reader.get("/api/v1/rules/?category=nope").status_code == 400
    assert reader.get("/api/v1/rules/?cursor=-1").status_code == 400


def test_rule_detail_builtin_and_unknown(org, reader):
    rule = reader.get("/api/v1/rules/aws-ec2-volume-unencrypted/").json()
    assert rule["source"] == "builtin" and rule["document"]["id"] == "aws-ec2-volume-unencrypted"
    assert rule["remediation"] and rule["text"] is None
    missing = reader.get("/api/v1/rules/no-such-rule/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_create_and_update_a_custom_rule(org, writer, reader, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = writer.post("/api/v1/custom-rules/", {"source": RULE, "format": "yaml"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["rule_id"] == "custom-volume-unencrypted" and body["enabled"] is True and body["connections"] == []
    assert callbacks, "a re-evaluation of the organization is queued"
    custom = CustomRule.objects.for_org(org).get(pk=body["id"])
    assert AuditEvent.objects.get(action="rule_created").metadata["target"] == custom.rule_id

    listed = reader.get("/api/v1/rules/?source=custom").json()["results"]
    assert [r["id"] for r in listed] == ["custom-volume-unencrypted"] and listed[0]["custom_rule_id"] == custom.pk
    detail = reader.get("/api/v1/rules/custom-volume-unencrypted/").json()
    assert detail["source"] == "custom" and detail["text"] == RULE
    assert reader.get("/api/v1/custom-rules/").json()["results"][0]["id"] == custom.pk

    updated = writer.put(
        f"/api/v1/custom-rules/{custom.pk}/",
        {"source": RULE.replace("severity: high", "severity: low"), "connections": [world["aws"].pk], "enabled": False},
    )
    assert updated.status_code == 200, updated.content
    assert updated.json()["severity"] == "low" and updated.json()["connections"] == [world["aws"].pk]
    assert updated.json()["enabled"] is False
    assert reader.get(f"/api/v1/custom-rules/{custom.pk}/").json()["severity"] == "low"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"source": "id: x\ntitle: [unclosed"}, "invalid_rule"),
        ({"source": RULE.replace("config.encrypted", "config.no_such_field")}, "invalid_rule"),
        ({"source": RULE + "\n---\n" + RULE}, "invalid_rule"),
        ({"source": "x" * (MAX_RULE_BYTES + 1)}, "invalid_rule"),
        ({"source": RULE, "format": "json"}, "invalid_rule"),
        ({"source": RULE, "format": "toml"}, "invalid_request"),
        ({"source": RULE, "connections": ["abc"]}, "invalid_request"),
        ({"source": RULE, "connections": [999999]}, "invalid_rule"),
        ({}, "invalid_request"),
    ],
)
def test_invalid_custom_rules_are_400_like_the_editor(org, writer, world, body, code):
    response = writer.post("/api/v1/custom-rules/", body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not CustomRule.objects.for_org(org).exists()


def test_custom_rule_errors_list_every_problem_with_its_path(org, writer):
    response = writer.post("/api/v1/custom-rules/", {"source": RULE.replace("op: equals", "op: resembles")})
    problems = response.json()["errors"]["rule"]
    assert problems and problems[0]["path"] and "resembles" in str(problems)


def test_a_duplicate_custom_rule_id_is_refused(org, writer):
    assert writer.post("/api/v1/custom-rules/", {"source": RULE}).status_code == 201
    again = writer.post("/api/v1/custom-rules/", {"source": RULE})
    assert again.status_code == 400 and "already exists" in str(again.json()["errors"])


def test_a_connection_of_another_provider_is_refused(org, writer, world):
    response = writer.post("/api/v1/custom-rules/", {"source": RULE, "connections": [world["azure"].pk]})
    assert response.status_code == 400 and "connections" in response.json()["errors"]["fields"]


@pytest.mark.parametrize("member_role", ["viewer"])
def test_custom_rule_writes_need_manage_rules(org, member, api_for, reader):
    viewer = api_for(org, user=member, scope=ApiKey.Scope.READ_WRITE)
    assert viewer.post("/api/v1/custom-rules/", {"source": RULE}).status_code == 403
    assert reader.post("/api/v1/custom-rules/", {"source": RULE}).json()["code"] == "insufficient_scope"


def test_another_orgs_custom_rule_is_404(org, outsider, api_for, writer):
    custom_id = writer.post("/api/v1/custom-rules/", {"source": RULE}).json()["id"]
    foreign = api_for(outsider.org, user=outsider)
    assert foreign.get(f"/api/v1/custom-rules/{custom_id}/").status_code == 404
    assert foreign.put(f"/api/v1/custom-rules/{custom_id}/", {"source": RULE}).status_code == 404
    assert foreign.get("/api/v1/rules/custom-volume-unencrypted/").status_code == 404


# --- compliance -------------------------------------------------------------------------------------


def test_compliance_overview_and_a_framework(org, reader, world):
    RuleStatus.objects.create(
        org=org, connection=world["aws"], rule_id="aws-cloudtrail-not-logging", verdict="fail", matched=1
    )
    overview = reader.get("/api/v1/compliance/").json()["results"]
    cis = next(f for f in overview if f["framework"] == "cis-aws-1.5")
    assert cis["providers"] == ["aws"] and cis["connections"] == 1 and cis["controls"]["failed"] >= 1
    report = reader.get("/api/v1/compliance/cis-aws-1.5/").json()
    control = next(c for c in report["control_results"] if "aws-cloudtrail-not-logging" in c["rules"])
    assert control["verdict"] == "fail"
    assert control["connections"][0]["failing_rules"] == ["aws-cloudtrail-not-logging"]
    assert report["connection_names"] == {str(world["aws"].pk): "AWS"}
    missing = reader.get("/api/v1/compliance/cis-gcp-9/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
