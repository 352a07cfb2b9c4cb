"""A first evaluation writes thousands of findings and their "opened" events: as value rows
(``lifecycle.insert_rows``), not one model instance each, and exactly what bulk_create would write."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.db.models.signals import post_init

from findings import lifecycle
from findings.models import Finding, FindingEvent, RuleStatus
from tests.factories import CloudConnectionFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db
VOLUME = "aws.ec2.volume"
UNATTACHED = "aws-ec2-volume-unattached"
UNENCRYPTED = "aws-ec2-volume-unencrypted"


@pytest.fixture
def conn(org):
    connection = CloudConnectionFactory(org=org)
    synced(connection, {VOLUME: ["eu-west-1", "us-east-1"]})
    return connection


def volumes(conn, count: int, start: int = 0) -> list:
    config = {"size_gb": 100, "volume_type": "gp3", "encrypted": False, "state": "available"}
    return [
        ResourceFactory(
            connection=conn,
            resource_type=VOLUME,
            name=f"vol-{i}",
            region=("eu-west-1", "us-east-1")[i % 2],
            config={**config, "volume_id": f"vol-{i}"},
        )
        for i in range(start, start + count)
    ]


def instances_built(conn) -> int:
    """Finding and FindingEvent instances built by a first evaluation of ``conn``."""
    built = []

    def count(sender, **kwargs):
        built.append(sender)

    for model in (Finding, FindingEvent):
        post_init.connect(count, sender=model, weak=False)
    try:
        lifecycle.evaluate_connection(conn)
    finally:
        for model in (Finding, FindingEvent):
            post_init.disconnect(count, sender=model)
    return len(built)


def test_first_evaluation_builds_no_instance_per_finding(org):
    small, large = CloudConnectionFactory(org=org), CloudConnectionFactory(org=org)
    for conn, count in ((small, 2), (large, 40)):
        synced(conn, {VOLUME: ["eu-west-1", "us-east-1"]})
        volumes(conn, count)
    assert instances_built(small) == instances_built(large)
    assert Finding.objects.for_org(org).filter(connection=large).count() >= 80  # unattached and unencrypted


def test_first_evaluation_opens_each_finding_with_one_event(conn):
    vols = volumes(conn, 30)
    now = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    summary = lifecycle.evaluate_connection(conn, now=now)
    findings = Finding.objects.for_org(conn.org).filter(connection=conn)
    assert summary.opened == findings.count() == summary.open_total
    assert set(findings.filter(rule_id=UNATTACHED).values_list("resource_id", flat=True)) == {v.pk for v in vols}
    for f in findings.filter(rule_id=UNATTACHED):
        assert (f.status, f.first_seen, f.last_seen, f.reopened_count) == ("open", now, now, 0)
        assert f.native_id == f.resource.native_id and f.resource_name == f.resource.name
        assert f.region == f.resource.region and f.monthly_usd and f.monthly_usd > 0
        assert (f.suppressed_reason, f.suppressed_at, f.resolved_at) == ("", None, None)
    events = FindingEvent.objects.for_org(conn.org).filter(finding__connection=conn)
    assert sorted(events.values_list("finding_id", flat=True)) == sorted(findings.values_list("pk", flat=True))
    assert set(events.values_list("kind", "at", "note", "actor")) == {("opened", now, "", None)}
    # The statuses count what was written.
    status = RuleStatus.objects.for_org(conn.org).get(connection=conn, rule_id=UNATTACHED)
    assert (status.verdict, status.matched) == ("fail", 30)


def test_events_of_a_later_evaluation_point_at_their_findings(conn):
    """New findings (value rows) and changed ones (instances) in one evaluation: each event on its own."""
    first = volumes(conn, 3)
    lifecycle.evaluate_connection(conn)
    fixed = first[0]
    fixed.config = {**fixed.config, "state": "in-use"}
    fixed.save()
    added = volumes(conn, 2, start=3)
    lifecycle.evaluate_connection(conn)
    findings = Finding.objects.for_org(conn.org).filter(connection=conn, rule_id=UNATTACHED)
    events = FindingEvent.objects.for_org(conn.org)
    kinds = {
        f.resource_id: list(events.filter(finding=f).order_by("at", "id").values_list("kind", flat=True))
        for f in findings
    }
    assert kinds[fixed.pk] == ["opened", "resolved"]
    assert all(kinds[v.pk] == ["opened"] for v in [*first[1:], *added])


def raw_rows(native_ids: list[str]) -> list[tuple]:
    """The stored columns as the database holds them (a date's text on SQLite, not the ORM's reading)."""
    table = Finding._meta.db_table
    columns = [f.column for f in Finding._meta.concrete_fields if f.column not in ("id", "native_id")]
    placeholders = ", ".join(["%s"] * len(native_ids))
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT native_id, {', '.join(columns)} FROM {table} WHERE native_id IN ({placeholders})",  # noqa: S608
            native_ids,
        )
        return sorted((row[0].split(":", 1)[1], *row[1:]) for row in cursor.fetchall())


def test_insert_rows_writes_what_bulk_create_writes(conn):
    now = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    resource = volumes(conn, 1)[0]
    values = [
        {"resource_id": resource.pk, "monthly_usd": Decimal("12.30"), "detail": {}},
        {"resource_id": None, "monthly_usd": None, "detail": {"changed": [{"field": "é", "from": 1, "to": None}]}},
        {"resource_id": resource.pk, "monthly_usd": Decimal("0.07"), "detail": {"a": [1.5, True, "x"]}},
    ]
    rows, models = [], []
    for i, extra in enumerate(values):
        common = {
            "org_id": conn.org_id,
            "connection_id": conn.pk,
            "rule_id": f"rule-{i}",
            "first_seen": now,
            "last_seen": now,
            "title": "A title ✓",
            "severity": "high",
            "category": "security",
            "rule_source": "builtin",
            "resource_type": VOLUME,
            "resource_name": "vol",
            "region": "eu-west-1",
            **extra,
        }
        models.append(Finding(native_id=f"orm:{i}", **common))
        row = {name: getattr(models[-1], Finding._meta.get_field(name).attname) for name in lifecycle._NEW_FIELDS}
        rows.append(tuple({**row, "native_id": f"raw:{i}"}.values()))
    Finding.objects.bulk_create(models)
    pks = lifecycle.insert_rows(Finding, lifecycle._NEW_FIELDS, rows, returning=True)
    assert raw_rows([f"raw:{i}" for i in range(3)]) == raw_rows([f"orm:{i}" for i in range(3)])
    stored = dict(Finding.objects.for_org(conn.org).filter(pk__in=pks).values_list("pk", "native_id"))
    assert [stored[pk] for pk in pks] == ["raw:0", "raw:1", "raw:2"]  # the new keys, in row order


def test_insert_rows_splits_what_one_statement_cannot_take(conn, monkeypatch):
    from inventory import sync

    monkeypatch.setattr(sync, "BATCH_SIZE", 7)  # rows per INSERT where there is no COPY
    volumes(conn, 20)
    lifecycle.evaluate_connection(conn)
    findings = Finding.objects.for_org(conn.org).filter(connection=conn)
    assert findings.count() == 40
    events = FindingEvent.objects.for_org(conn.org).filter(finding__connection=conn)
    assert sorted(events.values_list("finding_id", flat=True)) == sorted(findings.values_list("pk", flat=True))


@pytest.mark.skipif(db_connection.vendor != "postgresql", reason="the planner's statistics are PostgreSQL's (CI)")
def test_a_large_first_evaluation_refreshes_the_planners_statistics(conn, monkeypatch):
    """Until the planner knows the findings a large first evaluation wrote, the pages' queries over them
    are planned for an empty table (a sort of every open finding to badge 50 resources)."""
    from inventory import sync

    statements: list[str] = []

    def spy(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    monkeypatch.setattr(sync, "ANALYZE_AFTER_ROWS", 10)
    volumes(conn, 20)
    with db_connection.execute_wrapper(spy):
        lifecycle.evaluate_connection(conn)
    (analyze,) = [s for s in statements if s.startswith("ANALYZE")]
    assert '"findings_finding" ("org_id", "status"' in analyze and '"findings_findingevent"' in analyze
    statements.clear()
    monkeypatch.setattr(sync, "ANALYZE_AFTER_ROWS", 1000)  # a small change: autovacuum's business
    volumes(conn, 1, start=100)
    with db_connection.execute_wrapper(spy):
        lifecycle.evaluate_connection(conn)
    assert not [s for s in statements if s.startswith("ANALYZE")]
