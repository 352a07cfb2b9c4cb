"""The findings list at scale: the severity rank is a stored column the database computes (so an index
serves the default sort), the flat list's count comes from the open tallies or a capped count (never a
COUNT(*) of every row), and its times are formatted once per row in the user's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Min
from django.urls import reverse

from findings import queries
from findings.models import SEVERITY_ORDER, Finding
from tests.factories import CloudConnectionFactory, FindingFactory, ResourceFactory


@pytest.fixture
def conn(org):
    return CloudConnectionFactory(org=org, name="Production")


def list_url(org, **params) -> str:
    url = reverse("findings:list", kwargs={"org_slug": org.slug})
    return f"{url}?{urlencode({'view': 'flat', **params}, doseq=True)}"


def findings(conn, n: int, **fields) -> list[Finding]:
    return [FindingFactory(resource=ResourceFactory(connection=conn), rule_id=f"rule-{i}", **fields) for i in range(n)]


def test_the_severity_rank_is_computed_by_the_database_on_every_write(conn):
    (f,) = findings(conn, 1, severity="low")
    f.refresh_from_db()
    assert f.severity_rank == SEVERITY_ORDER["low"] == 3
    Finding.objects.for_org(conn.org).filter(pk=f.pk).update(severity="critical")  # a bulk write sets no rank
    f.refresh_from_db()
    assert f.severity_rank == 0
    assert Finding.objects.for_org(conn.org).aggregate(r=Min("severity_rank"))["r"] == 0


def test_the_list_sorts_on_the_stored_rank(client_for, owner, org, conn):
    low, info, crit = (findings(conn, 1, severity=s)[0] for s in ("low", "info", "critical"))
    response = client_for(owner).get(list_url(org))
    assert [f.pk for f in response.context["page"].object_list] == [crit.pk, low.pk, info.pk]
    sql = str(response.context["page"].paginator.object_list.query)
    assert "CASE" not in sql and '"severity_rank" ASC' in sql


def count_queries(captured) -> list[str]:
    return [q["sql"] for q in captured if "COUNT(" in q["sql"].upper() and "findings_finding" in q["sql"]]


def test_open_findings_are_counted_from_the_headline_numbers(
    client_for, owner, org, conn, django_assert_max_num_queries
):
    findings(conn, 7, severity="high")
    findings(conn, 3, severity="low", category="cost")
    other = CloudConnectionFactory(org=org, name="Staging")
    findings(other, 2, severity="high")
    client = client_for(owner)
    client.get(list_url(org))  # sessions, current org: what is cached per visitor
    with django_assert_max_num_queries(12) as captured:
        response = client.get(list_url(org, severity="high"))
    assert response.context["total"] == 9 and "9 findings" in response.content.decode()
    # The headline numbers and the list's count come from the open tallies: no count of the findings.
    assert count_queries(captured.captured_queries) == []
    assert any("findings_openfindingcount" in q["sql"] for q in captured.captured_queries)
    assert client.get(list_url(org, severity="high", connection=other.pk)).context["total"] == 2
    assert client.get(list_url(org, category="cost", severity=["low", "high"])).context["total"] == 3
    assert client.get(list_url(org)).context["total"] == 12


def test_other_lists_are_counted_up_to_a_cap(client_for, owner, org, conn, monkeypatch):
    findings(conn, 8, severity="medium", title="Open bucket")
    monkeypatch.setattr(queries, "COUNT_CAP", 5)
    response = client_for(owner).get(list_url(org, q="bucket"))
    assert response.context["total"] == 5 and response.context["total_label"] == "5+"
    assert "5+ findings match these filters" in response.content.decode()
    assert len(response.context["page"].object_list) == 5  # pages stop at the cap
    monkeypatch.setattr(queries, "COUNT_CAP", 50)
    assert client_for(owner).get(list_url(org, q="bucket")).context["total_label"] == "8"


def test_times_are_formatted_in_the_users_time_zone(client_for, owner, org, conn):
    owner.timezone = "Europe/Paris"
    owner.save()
    seen = datetime(2026, 7, 1, 10, 30, tzinfo=UTC)
    (f,) = findings(conn, 1, last_seen=seen)
    body = client_for(owner).get(list_url(org)).content.decode()
    local = seen.astimezone(ZoneInfo("Europe/Paris"))
    assert f'<time datetime="{local.isoformat()}">2026-07-01 12:30 CEST</time>' in body
    rows = client_for(owner).get(reverse("findings:group_rows", kwargs={"org_slug": org.slug}) + f"?rule={f.rule_id}")
    assert "2026-07-01 12:30 CEST" in rows.content.decode()


def test_the_grouped_view_ranks_rules_by_their_most_severe_finding(client_for, owner, org, conn):
    FindingFactory(resource=ResourceFactory(connection=conn), rule_id="a-rule", severity="low")
    FindingFactory(resource=ResourceFactory(connection=conn), rule_id="z-rule", severity="critical")
    response = client_for(owner).get(reverse("findings:list", kwargs={"org_slug": org.slug}))
    groups = list(response.context["page"].object_list)
    assert [(g.rule_id, g.severity) for g in groups] == [("z-rule", "critical"), ("a-rule", "low")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's (CI)")
def test_the_text_search_has_trigram_indexes_on_the_expressions_it_compiles_to(org):
    qs, _ = queries.filter_findings(org, {"q": "bucket"})
    sql = str(qs.query)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'findings_finding'")
        indexes = dict(cursor.fetchall())
    for column in ("resource_name", "native_id", "title"):
        assert f'UPPER("findings_finding"."{column}"::text) LIKE UPPER(' in sql
        definition = indexes[f"findings_finding_{column}_trgm"]
        assert f"gin (upper(({column})::text) gin_trgm_ops)" in definition


def test_rows_escape_every_value_they_show(client_for, owner, org, conn):
    """Rows are built in Python (findings/views/findings.py: row_html): titles, names and ids that come
    from cloud accounts or custom rules are escaped as the templates escape them."""
    evil = '<script>alert("x")</script>'
    (f,) = findings(conn, 1, title=evil, resource_name=evil, native_id=f"id-{evil}", region="eu-west-1")
    Finding.objects.for_org(org).filter(pk=f.pk).update(monthly_usd="1234.5", category="cost")
    body = client_for(owner).get(list_url(org)).content.decode()
    assert evil not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "$1,234.50" in body
