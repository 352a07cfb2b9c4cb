"""The compliance view: a control passes only if every rule of it passed, fails if any failed,
otherwise (not evaluated somewhere, or never evaluated) is "not evaluated" — never a pass."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from findings import compliance, lifecycle
from findings.compliance import FAIL, NOT_EVALUATED, PASS, control_verdict
from findings.models import RuleStatus
from findings.rules.catalog import builtin_catalog
from findings.rules.language import FRAMEWORKS
from tests.factories import CloudConnectionFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db
FW = "cis-aws-1.5"


def two_rule_control(framework: str = FW) -> tuple[str, list[str]]:
    """A control of the framework mapped to two rules (1.8: password policy missing / too short)."""
    return next((c, r) for c, r in builtin_catalog().controls(framework).items() if len(r) >= 2)


def status(conn, rule_id, verdict, **extra):
    return RuleStatus.objects.create(org=conn.org, connection=conn, rule_id=rule_id, verdict=verdict, **extra)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([PASS, PASS], PASS),
        ([PASS, FAIL], FAIL),
        ([NOT_EVALUATED, FAIL], FAIL),
        ([PASS, NOT_EVALUATED], NOT_EVALUATED),
        ([PASS, None], NOT_EVALUATED),  # a rule with no verdict is not a pass
        ([None, None], NOT_EVALUATED),  # a connection never evaluated
        ([], NOT_EVALUATED),
    ],
)
def test_control_verdict(verdicts, expected):
    assert control_verdict(verdicts) == expected


@pytest.fixture
def conns(org):
    return {
        "passing": CloudConnectionFactory(org=org, name="A passing"),
        "failing": CloudConnectionFactory(org=org, name="B failing"),
        "partial": CloudConnectionFactory(org=org, name="C partial"),
        "never": CloudConnectionFactory(org=org, name="D never scanned"),
    }


@pytest.fixture
def verdicts(conns):
    control, (r1, r2, *_) = two_rule_control()
    status(conns["passing"], r1, PASS)
    status(conns["passing"], r2, PASS)
    status(conns["failing"], r1, PASS)
    status(conns["failing"], r2, FAIL, matched=3)
    status(conns["partial"], r1, PASS)
    status(
        conns["partial"],
        r2,
        NOT_EVALUATED,
        not_evaluated=[{"type": "aws.iam.account", "region": "global", "reason": "denied"}],
        not_evaluated_count=1,
    )
    return control, r1, r2


def test_framework_report_per_connection(org, conns, verdicts):
    control, r1, r2 = verdicts
    report = compliance.framework_report(org, FW)
    row = next(r for r in report.controls if r.control == control)
    cells = {c.connection_id: c for c in row.cells}
    assert cells[conns["passing"].pk].verdict == PASS
    failing = cells[conns["failing"].pk]
    assert failing.verdict == FAIL and failing.failing_rule_ids == [r2] and failing.open_findings == 3
    assert (failing.tally.passed, failing.tally.failed, failing.tally.not_evaluated) == (1, 1, 0)
    partial = cells[conns["partial"].pk]
    assert partial.verdict == NOT_EVALUATED and partial.reasons == ["denied"]
    never = cells[conns["never"].pk]
    assert never.verdict == NOT_EVALUATED and never.reasons == ["no evaluation yet"]
    assert row.verdict == FAIL  # failing on one connection fails the control for the organization
    assert [r.id for r in row.rules] == builtin_catalog().controls(FW)[control]
    assert all(r.title and r.title != r.id for r in row.rules)


def test_org_verdict_passes_only_when_every_connection_passes(org):
    conn = CloudConnectionFactory(org=org)
    control, rule_ids = two_rule_control()
    for rule_id in rule_ids:
        status(conn, rule_id, PASS)
    row = next(r for r in compliance.framework_report(org, FW).controls if r.control == control)
    assert row.verdict == PASS
    CloudConnectionFactory(org=org)  # a second account, never scanned
    row = next(r for r in compliance.framework_report(org, FW).controls if r.control == control)
    assert row.verdict == NOT_EVALUATED


def test_no_connection_means_nothing_passes(org):
    report = compliance.framework_report(org, FW)
    assert report.tally.passed == 0 and report.tally.not_evaluated == report.tally.total > 0


def test_only_connections_of_the_frameworks_provider(org):
    aws = CloudConnectionFactory(org=org)
    azure = CloudConnectionFactory(org=org, provider="azure")
    assert [c.pk for c in compliance.framework_report(org, FW).connections] == [aws.pk]
    assert [c.pk for c in compliance.framework_report(org, "cis-azure-2.0").connections] == [azure.pk]


def test_verdicts_written_by_an_evaluation_feed_the_view(org):
    """End to end: a scan that collected only volumes leaves IAM controls not evaluated."""
    conn = CloudConnectionFactory(org=org)
    synced(conn, {"aws.ec2.volume": ["eu-west-1"]})
    ResourceFactory(connection=conn, resource_type="aws.ec2.volume", config={"state": "in-use", "encrypted": True})
    lifecycle.evaluate_connection(conn)
    report = compliance.framework_report(org, FW)
    iam = next(r for r in report.controls if r.control == "1.4")
    assert iam.cells[0].verdict == NOT_EVALUATED
    assert "not collected by any sync" in iam.cells[0].reasons


def test_overview_page(owner, client_for, org, conns, verdicts):
    response = client_for(owner).get(reverse("findings:compliance", kwargs={"org_slug": org.slug}))
    assert response.status_code == 200
    body = response.content.decode()
    for slug, name in FRAMEWORKS.items():
        assert name in body
        assert reverse("findings:compliance_framework", kwargs={"org_slug": org.slug, "framework": slug}) in body
    aws = next(r for r in response.context["reports"] if r.slug == FW)
    assert aws.tally.failed == 1 and aws.tally.passed == 0
    assert aws.tally.total == len(builtin_catalog().controls(FW))
    assert "1 fail" in body


def test_framework_page_links_failing_cells_to_their_findings(owner, client_for, org, conns, verdicts):
    control, r1, r2 = verdicts
    url = reverse("findings:compliance_framework", kwargs={"org_slug": org.slug, "framework": FW})
    response = client_for(owner).get(url)
    assert response.status_code == 200
    row = next(r for r in response.context["report"].controls if r.control == control)
    failing = next(c for c in row.cells if c.connection_id == conns["failing"].pk)
    link = urlparse(failing.findings_url)
    assert link.path == reverse("findings:list", kwargs={"org_slug": org.slug})
    assert parse_qs(link.query) == {"connection": [str(conns["failing"].pk)], "rule": [r2]}
    assert all(not c.findings_url for c in row.cells if c.verdict != FAIL)
    body = response.content.decode()
    assert failing.findings_url.replace("&", "&amp;") in body
    assert "D never scanned" in body and "never evaluated" in body and "denied" in body
    # The link leads to a list filtered as promised.
    listed = client_for(owner).get(failing.findings_url)
    assert listed.status_code == 200 and not listed.context["filters"].errors
    assert listed.context["filters"].rule_ids == [r2] and listed.context["filters"].connection_id == conns["failing"].pk


def test_framework_page_query_count(owner, client_for, org, django_assert_max_num_queries):
    rule_ids = {r for ids in builtin_catalog().controls(FW).values() for r in ids}
    for i in range(5):
        conn = CloudConnectionFactory(org=org)
        RuleStatus.objects.bulk_create(
            RuleStatus(org=org, connection=conn, rule_id=r, verdict=[PASS, FAIL][i % 2]) for r in rule_ids
        )
    url = reverse("findings:compliance_framework", kwargs={"org_slug": org.slug, "framework": FW})
    client = client_for(owner)
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("findings:compliance", kwargs={"org_slug": org.slug})).status_code == 200


def test_unknown_framework_is_404(owner, client_for, org):
    url = reverse("findings:compliance_framework", kwargs={"org_slug": org.slug, "framework": "iso-27001"})
    assert client_for(owner).get(url).status_code == 404


@pytest.mark.parametrize("member_role", ["viewer"])
def test_viewer_may_read(member, client_for, org):
    client = client_for(member)
    assert client.get(reverse("findings:compliance", kwargs={"org_slug": org.slug})).status_code == 200
    url = reverse("findings:compliance_framework", kwargs={"org_slug": org.slug, "framework": "cis-azure-2.0"})
    response = client.get(url)
    assert response.status_code == 200 and "No Azure connection" in response.content.decode()


def test_outsider_gets_404(outsider, client_for, org, conns, verdicts):
    client = client_for(outsider)
    assert client.get(reverse("findings:compliance", kwargs={"org_slug": org.slug})).status_code == 404
    url = reverse("findings:compliance_framework", kwargs={"org_slug": org.slug, "framework": FW})
    assert client.get(url).status_code == 404
    # Their own view never shows this organization's verdicts or connections.
    own = client.get(reverse("findings:compliance_framework", kwargs={"org_slug": outsider.org.slug, "framework": FW}))
    assert own.status_code == 200 and "B failing" not in own.content.decode()
    assert own.context["report"].tally.failed == 0
