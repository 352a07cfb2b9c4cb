"""CIS AWS Foundations Benchmark v3.0.0 in the compliance view: every control of the benchmark is listed;
an automatable control is pass / fail / not evaluated through the rules mapped to it (not evaluated when
no rule judges it or no verdict exists); a manual control is "manual" and never shown as passed."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from findings import compliance
from findings.benchmarks import BENCHMARKS, CIS_AWS_3_0
from findings.compliance import FAIL, MANUAL, NO_RULE, NOT_EVALUATED, PASS
from findings.models import RuleStatus
from findings.rules.catalog import builtin_catalog
from tests.factories import CloudConnectionFactory

pytestmark = pytest.mark.django_db
FW = "cis-aws-3.0"
CONTROLS = {c.id: c for c in CIS_AWS_3_0.controls}
MAPPED = builtin_catalog().controls(FW)


def _key(control_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in control_id.split("."))


def _row(report, control_id: str):
    return next(r for r in report.controls if r.control == control_id)


def _status(conn, rule_id: str, verdict: str) -> None:
    RuleStatus.objects.create(org=conn.org, connection=conn, rule_id=rule_id, verdict=verdict)


def _pass_everything(conn) -> None:
    rule_ids = {r for ids in MAPPED.values() for r in ids}
    RuleStatus.objects.bulk_create(
        RuleStatus(org=conn.org, connection=conn, rule_id=r, verdict=PASS) for r in sorted(rule_ids)
    )


# --- The control list ----------------------------------------------------------------------------


def test_the_benchmark_lists_every_control_once_in_order():
    ids = [c.id for c in CIS_AWS_3_0.controls]
    assert len(ids) == len(set(ids)) == 62
    assert ids == sorted(ids, key=_key)
    assert {i.split(".")[0] for i in ids} == {"1", "2", "3", "4", "5"}
    assert all(c.title and c.section for c in CIS_AWS_3_0.controls)
    assert BENCHMARKS[FW] is CIS_AWS_3_0 and CIS_AWS_3_0.provider == "aws"
    # The monitoring controls (metric filters and alarms) are manual in v3.0.0; Security Hub is not.
    assert [c.automated for c in CIS_AWS_3_0.controls if c.id.startswith("4.")] == [False] * 15 + [True]
    assert CONTROLS["3.1"].automated and not CONTROLS["1.1"].automated


def test_every_control_a_rule_maps_to_is_in_the_benchmark():
    """A typo in a rule's mapping ("3.10", "2.1.5" from v1.5) would otherwise be a control of its own."""
    assert sorted(set(MAPPED) - set(CONTROLS), key=_key) == []


def test_control_rows_follow_the_benchmark_then_stray_mappings():
    specs = compliance._control_specs(FW, {"3.1": ["aws-x"], "9.9": ["aws-y"]})
    assert [s.id for s in specs][:3] == ["1.1", "1.2", "1.3"]
    assert len(specs) == 63
    stray = specs[-1]
    assert (stray.id, stray.rule_ids, stray.in_benchmark) == ("9.9", ["aws-y"], False)
    assert next(s for s in specs if s.id == "3.1").rule_ids == ["aws-x"]
    # Frameworks without a full list keep showing the controls rules map to.
    assert [s.id for s in compliance._control_specs("cis-aws-1.5", {"3.1": ["aws-x"]})] == ["3.1"]


# --- Verdicts ------------------------------------------------------------------------------------


def test_a_manual_control_is_never_shown_as_passed(org):
    conn = CloudConnectionFactory(org=org)
    _pass_everything(conn)
    report = compliance.framework_report(org, FW)
    manual = [r for r in report.controls if not r.automated]
    assert manual and {r.verdict for r in manual} == {MANUAL}
    # Including manual controls whose mapped rules all passed (1.2: the security contact is registered).
    contact = _row(report, "1.2")
    assert contact.rules and all(c.verdict == MANUAL for c in contact.cells) and contact.verdict == MANUAL
    assert report.tally.manual == len(manual) and report.tally.passed == sum(
        1 for r in report.controls if r.automated and r.rules
    )


def test_a_manual_control_fails_on_what_its_rules_found(org):
    conn = CloudConnectionFactory(org=org)
    _pass_everything(conn)
    RuleStatus.objects.for_org(org).filter(connection=conn, rule_id="aws-account-security-contact-missing").update(
        verdict=FAIL
    )
    row = _row(compliance.framework_report(org, FW), "1.2")
    assert row.verdict == FAIL and row.cells[0].failing_rule_ids == ["aws-account-security-contact-missing"]


def test_an_automatable_control_without_evaluated_data_is_not_evaluated(org):
    never = CloudConnectionFactory(org=org)
    report = compliance.framework_report(org, FW)
    trail = _row(report, "3.1")
    assert trail.automated and trail.rules
    assert trail.verdict == NOT_EVALUATED and trail.cells[0].reasons == ["no evaluation yet"]
    # One rule of the control denied on a connection where the others passed: still not evaluated.
    rule_ids = MAPPED["3.1"]
    for rule_id in rule_ids[1:]:
        _status(never, rule_id, PASS)
    RuleStatus.objects.create(
        org=org,
        connection=never,
        rule_id=rule_ids[0],
        verdict=NOT_EVALUATED,
        not_evaluated=[{"type": "aws.region.settings", "region": "eu-west-1", "reason": "denied"}],
        not_evaluated_count=1,
    )
    trail = _row(compliance.framework_report(org, FW), "3.1")
    assert trail.verdict == NOT_EVALUATED and trail.cells[0].reasons == ["denied"]


def test_an_automatable_control_no_rule_judges_is_not_evaluated(org):
    conn = CloudConnectionFactory(org=org)
    _pass_everything(conn)
    report = compliance.framework_report(org, FW)
    unjudged = [r for r in report.controls if r.automated and not r.rules]
    assert unjudged, "the list has automatable controls Cloustral cannot judge yet (e.g. 5.1, network ACLs)"
    for row in unjudged:
        assert row.verdict == NOT_EVALUATED and row.cells[0].reasons == [NO_RULE]
    assert report.tally.not_evaluated == len(unjudged)
    assert report.tally.total == 62


def test_with_no_connection_nothing_passes(org):
    report = compliance.framework_report(org, FW)
    assert report.connections == [] and report.tally.passed == report.tally.failed == 0
    assert report.tally.manual == sum(1 for c in CIS_AWS_3_0.controls if not c.automated)
    assert report.tally.not_evaluated == sum(1 for c in CIS_AWS_3_0.controls if c.automated)


# --- Pages ---------------------------------------------------------------------------------------


def test_the_framework_page_lists_every_control_with_its_verdict(owner, client_for, org, django_assert_max_num_queries):
    conn = CloudConnectionFactory(org=org, name="Prod")
    _pass_everything(conn)
    url = reverse("findings:compliance_framework", kwargs={"org_slug": org.slug, "framework": FW})
    client = client_for(owner)
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    for control in CIS_AWS_3_0.controls:
        assert f'data-testid="control-{control.id}"' in body
        label = re.search(rf'data-testid="verdict-{re.escape(control.id)}">([^<]+)<', body).group(1)
        if not control.automated:
            assert label == "Manual", control.id
        elif control.id in MAPPED:
            assert label == "Pass", control.id
        else:
            assert label == "Not evaluated", control.id
    assert "Ensure AWS Security Hub is enabled" in body and "5 Networking" in body
    assert "No Cloustral rule judges this control yet." in body and "Manual control: audit it by hand." in body


def test_the_overview_counts_manual_controls_apart(owner, client_for, org):
    response = client_for(owner).get(reverse("findings:compliance", kwargs={"org_slug": org.slug}))
    assert response.status_code == 200
    cis = next(r for r in response.context["reports"] if r.slug == FW)
    manual = sum(1 for c in CIS_AWS_3_0.controls if not c.automated)
    assert cis.tally.manual == manual and f"{manual} manual" in response.content.decode()


@pytest.mark.parametrize("member_role", ["viewer"])
def test_viewer_reads_it_and_an_outsider_gets_404(member, outsider, client_for, org):
    url = reverse("findings:compliance_framework", kwargs={"org_slug": org.slug, "framework": FW})
    assert client_for(member).get(url).status_code == 200
    assert client_for(outsider).get(url).status_code == 404
