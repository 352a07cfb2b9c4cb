"""What keeps the pages' plans sane after a large write (PostgreSQL, which CI runs): the planner's
statistics are refreshed for every table the write grew, change history included, and "the newest
changes" are read straight from an index even when a whole sync's changes share one timestamp."""

from __future__ import annotations

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from inventory import sync
from inventory.models import ResourceChange
from tests.factories import ResourceFactory, SyncRunFactory
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import populate, sync_now

aws, cloud, connection = helpers.aws, helpers.cloud, helpers.connection
pytestmark = pytest.mark.skipif(db_connection.vendor != "postgresql", reason="PostgreSQL's planner (CI)")


def test_a_large_write_refreshes_the_statistics_of_resources_relationships_and_changes(cloud, connection, monkeypatch):
    populate(cloud)
    monkeypatch.setattr(sync, "ANALYZE_AFTER_ROWS", 5)
    statements: list[str] = []

    def spy(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with db_connection.execute_wrapper(spy):
        sync_now(connection)
    (analyze,) = [s for s in statements if s.startswith("ANALYZE")]
    for table in ("inventory_resource", "inventory_relationship", "inventory_resourcechange"):
        assert f'"{table}" (' in analyze


@pytest.mark.django_db
def test_the_newest_changes_come_from_an_index_without_sorting_a_sync_of_ties(org):
    resource = ResourceFactory(org=org)
    run = SyncRunFactory(connection=resource.connection)
    at = timezone.now()  # one sync's changes: one timestamp
    ResourceChange.objects.bulk_create(
        ResourceChange(
            org=org, connection=resource.connection, sync_run=run, resource=resource, resource_type="t",
            native_id=f"n{i}", kind="created", created_at=at,
        )
        for i in range(200)
    )  # fmt: skip
    newest = ResourceChange.objects.for_org(org).order_by("-created_at", "-id")[:15]
    sql, params = newest.query.sql_with_params()
    with db_connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_resourcechange")  # the plan for these rows, not for an empty table
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show its options
        cursor.execute("SET LOCAL enable_sort = off")  # an index that serves the order is then chosen
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "change_org_created_id" in plan and "Sort" not in plan
