"""Rows are prepared once in Python (a resource page's URL, times in the user's time zone, a trend's days)
rather than through per-row template tags, and say the same as before."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CloudConnectionFactory, ResourceFactory


def test_rows_show_their_link_and_times_in_the_users_time_zone(client_for, owner, org):
    owner.timezone = "Europe/Paris"
    owner.save()
    conn = CloudConnectionFactory(org=org)
    res = ResourceFactory(
        connection=conn,
        name="web-1",
        first_seen=datetime(2026, 1, 5, 23, 30, tzinfo=UTC),
        last_seen=datetime(2026, 7, 1, 10, 30, 15, tzinfo=UTC),
    )
    body = client_for(owner).get(reverse("dashboard:explorer", kwargs={"org_slug": org.slug})).content.decode()
    url = reverse("dashboard:resource", kwargs={"org_slug": org.slug, "resource_id": res.pk})
    assert f'<a href="{url}">web-1</a>' in body
    assert (
        '<time datetime="2026-07-01T12:30:15+02:00" title="Last seen 2026-07-01 12:30:15 CEST">2026-07-01 12:30</time>'
        in body
    )
    # 23:30 UTC on January 5th is already the 6th in Paris.
    assert (
        '<time datetime="2026-01-06T00:30:00+01:00" title="First seen 2026-01-06 00:30:00 CET">2026-01-06</time>'
        in (body)
    )


def test_a_page_of_rows_costs_no_query_per_row(client_for, owner, org):
    conn = CloudConnectionFactory(org=org)
    for i in range(60):
        ResourceFactory(connection=conn, name=f"r-{i:03d}")
    client = client_for(owner)
    url = reverse("dashboard:explorer", kwargs={"org_slug": org.slug})
    client.get(url)
    with CaptureQueriesContext(db) as few:
        client.get(url)
    for i in range(60, 90):
        ResourceFactory(connection=conn, name=f"r-{i:03d}")
    with CaptureQueriesContext(db) as more:
        client.get(url)
    assert len(more.captured_queries) <= len(few.captured_queries) + 1  # the count, once past a page


def test_trend_tables_format_each_day_once():
    from datetime import date

    from dashboard.overview import Trend

    trend = Trend(days=[date(2026, 3, 4), date(2026, 3, 5)], series={"a": [1, 2], "b": [3, 4]}, labels={})
    assert trend.table() == [
        ("2026-03-05", "Mar 5", '<td class="num">2</td><td class="num">4</td>'),
        ("2026-03-04", "Mar 4", '<td class="num">1</td><td class="num">3</td>'),
    ]
