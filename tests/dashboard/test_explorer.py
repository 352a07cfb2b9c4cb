"""The inventory explorer: every filter alone and combined, sorting, keyset pagination (ties, three pages,
backwards, damaged cursors), bounded counts, facets, the CSV/JSON export of the filtered set, the page
itself (htmx partial, warnings, empty states, the user's timezone), isolation and query counts."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cloustral.csvsafe import neutralize_cell
from dashboard.explorer import EXPORT_COLUMNS
from findings import resource_search as ex
from findings.models import Finding
from inventory.models import Resource
from orgs.roles import Role
from tests.factories import CloudConnectionFactory, FindingFactory, ResourceFactory

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def explorer_url(org, query: str = "") -> str:
    url = reverse("dashboard:explorer", args=[org.slug])
    return f"{url}?{query}" if query else url


def export_url(org, fmt: str, query: str = "") -> str:
    url = reverse("dashboard:explorer_export", args=[org.slug, fmt])
    return f"{url}?{query}" if query else url


def make_resources(conn, n: int, **fields) -> list[Resource]:
    """``n`` resources in bulk; a callable field value gets the index."""
    rows = []
    for i in range(n):
        values = {k: (v(i) if callable(v) else v) for k, v in fields.items()}
        values.setdefault("resource_type", "aws.ec2.volume")
        values.setdefault("region", "eu-west-1")
        values.setdefault("name", f"bulk-{conn.pk}-{i:04d}")
        values.setdefault("native_id", f"arn:aws:ec2:{values['region']}:1:{values['resource_type']}/{conn.pk}-{i}")
        values.setdefault("provider", values["resource_type"].split(".", 1)[0])
        values.setdefault("first_seen", T0)
        values.setdefault("last_seen", T0)
        rows.append(Resource(org=conn.org, connection=conn, **values))
    return Resource.objects.bulk_create(rows)


def ids(rows) -> list[int]:
    return [r.pk for r in rows]


def query(org, **params) -> list[int]:
    qd = QueryDict(mutable=True)
    for key, value in params.items():
        qd.setlist(key, value if isinstance(value, list) else [value])
    filters = ex.parse_filters(qd)
    assert not filters.warnings, filters.warnings
    return sorted(ex.filtered_resources(org, filters).values_list("pk", flat=True))


@pytest.fixture
def world(org):
    """Two connections (AWS, Azure) with resources to tell every filter apart."""
    prod = CloudConnectionFactory(org=org, name="Prod")
    azure = CloudConnectionFactory(org=org, name="Azure Sub", provider="azure", auth_method="azure_sp")
    r = {
        "web": ResourceFactory(
            connection=prod,
            name="web-1",
            resource_type="aws.ec2.instance",
            region="eu-west-1",
            tags={"env": "prod", "team": "web"},
        ),
        "db": ResourceFactory(
            connection=prod,
            name="orders-db",
            resource_type="aws.rds.instance",
            region="us-east-1",
            tags={"env": "staging"},
            native_id="arn:aws:rds:us-east-1:123:db/SPECIAL-Needle",
        ),
        "bucket": ResourceFactory(
            connection=prod, name="logs", resource_type="aws.s3.bucket", region="global", tags={"2024": "yes"}
        ),
        "vm": ResourceFactory(
            connection=azure,
            name="web-vm",
            resource_type="azure.compute.vm",
            region="westeurope",
            tags={"env": "prod", "cost.center": "42"},
        ),
    }
    FindingFactory(resource=r["web"], severity="high")
    FindingFactory(resource=r["web"], rule_id="other-rule", severity="critical")
    FindingFactory(resource=r["db"], status=Finding.Status.RESOLVED)  # not open: does not count
    return {"prod": prod, "azure": azure, **r}


# --- filters ---------------------------------------------------------------------------------------


def test_each_filter_alone(org, world):
    w = world
    assert query(org) == sorted(ids([w["web"], w["db"], w["bucket"], w["vm"]]))
    assert query(org, connection=str(w["azure"].pk)) == [w["vm"].pk]
    assert query(org, provider="azure") == [w["vm"].pk]
    assert query(org, type=["aws.ec2.instance", "aws.s3.bucket"]) == sorted(ids([w["web"], w["bucket"]]))
    assert query(org, region=["us-east-1", "westeurope"]) == sorted(ids([w["db"], w["vm"]]))
    assert query(org, tag="env") == sorted(ids([w["web"], w["db"], w["vm"]]))
    assert query(org, tag="env=prod") == sorted(ids([w["web"], w["vm"]]))
    # Keys that are digits or contain dots are keys, not paths.
    assert query(org, tag="2024") == [w["bucket"].pk]
    assert query(org, tag="cost.center=42") == [w["vm"].pk]
    assert query(org, tag="env=nope") == []
    assert query(org, findings="yes") == [w["web"].pk]
    assert query(org, findings="no") == sorted(ids([w["db"], w["bucket"], w["vm"]]))
    assert query(org, q="WEB") == sorted(ids([w["web"], w["vm"]]))  # name, case-insensitive
    assert query(org, q="special-needle") == [w["db"].pk]  # native id


def test_filters_combine(org, world):
    w = world
    assert query(org, tag="env=prod", provider="aws") == [w["web"].pk]
    assert query(org, q="web", findings="no") == [w["vm"].pk]
    assert query(org, tag=["env", "team=web"]) == [w["web"].pk]
    assert query(org, connection=[str(w["prod"].pk)], region="us-east-1", type="aws.rds.instance") == [w["db"].pk]
    assert query(org, connection=str(w["azure"].pk), findings="yes") == []


def test_filters_never_see_another_org(org, world, outsider):
    theirs = CloudConnectionFactory(org=outsider.org)
    ResourceFactory(connection=theirs, name="web-theirs", tags={"env": "prod"})
    assert query(org, q="web") == sorted(ids([world["web"], world["vm"]]))
    assert query(org, connection=str(theirs.pk)) == []


def test_bad_filter_values_become_warnings():
    qd = QueryDict(
        "connection=abc&connection=7&provider=gcp&type=Not A Type&region=eu west 1&tag==x"
        "&findings=maybe&sort=colour&cursor=%%%&q=" + "x" * 300
    )
    f = ex.parse_filters(qd)
    assert f.connections == [7]
    assert (f.provider, f.types, f.regions, f.tags, f.has_findings) == ("", [], [], [], None)
    assert f.sort == ex.DEFAULT_SORT and f.cursor == "" and len(f.q) == ex.MAX_Q
    text = " ".join(f.warnings)
    for fragment in ("connection", "provider", "resource type", "region", "tag", "findings", "sort", "page link"):
        assert fragment in text, fragment
    # Control characters (PostgreSQL refuses NUL in text) are stripped, never a 500.
    assert ex.parse_filters(QueryDict("q=we%00b")).q == "web"


def test_filters_round_trip_through_the_url():
    qd = QueryDict("q=web&connection=3&provider=aws&type=aws.ec2.instance&region=eu-west-1&tag=env%3Dprod&tag=team")
    qd = qd.copy()
    qd.update({"findings": "yes", "sort": "-last_seen"})
    f = ex.parse_filters(qd)
    again = ex.parse_filters(QueryDict(f.query()))
    assert again == f
    assert again.tags == [("env", "prod"), ("team", None)]
    # Removing one value keeps the others.
    assert "tag=team" in f.without("tag", "env=prod") and "env%3Dprod" not in f.without("tag", "env=prod")


# --- sorting and keyset pagination -------------------------------------------------------------------


@pytest.mark.parametrize("sort", sorted(ex.SORTS))
@pytest.mark.parametrize("descending", [False, True])
def test_sorting_both_directions(org, sort, descending):
    a = CloudConnectionFactory(org=org, name="Alpha")
    b = CloudConnectionFactory(org=org, name="Beta")
    rows = make_resources(
        a,
        6,
        name=lambda i: f"n{(i * 7) % 5}",
        region=lambda i: ["eu-west-1", "us-east-1", "ap-south-1"][i % 3],
        resource_type=lambda i: ["aws.s3.bucket", "aws.ec2.volume"][i % 2],
        last_seen=lambda i: T0 + timedelta(minutes=(i * 3) % 4),
        first_seen=lambda i: T0 - timedelta(days=i % 3),
    )
    rows += make_resources(b, 4, name=lambda i: f"n{i}", last_seen=T0, first_seen=T0)
    key = f"-{sort}" if descending else sort
    page, _, _ = ex.page_after(ex.filtered_resources(org, ex.ExplorerFilters()).select_related("connection"), key, None)

    def value(r):
        return {
            "name": r.name,
            "type": r.resource_type,
            "region": r.region,
            "connection": r.connection.name,
            "last_seen": r.last_seen,
            "first_seen": r.first_seen,
        }[sort]

    fresh = Resource.objects.for_org(org).select_related("connection")
    expected = sorted(fresh, key=lambda r: (value(r), r.pk), reverse=descending)
    assert ids(page) == ids(expected)


def walk(qs, sort: str, size: int) -> tuple[list[list[int]], list[str | None]]:
    pages, cursors, cursor = [], [], None
    while True:
        rows, nxt, _ = ex.page_after(qs, sort, cursor, size=size)
        pages.append(ids(rows))
        cursors.append(cursor)
        if nxt is None:
            return pages, cursors
        cursor = nxt


@pytest.mark.parametrize("sort", ["name", "-name", "-last_seen", "connection", "first_seen"])
def test_keyset_pages_with_ties_skip_and_repeat_nothing(org, sort):
    a = CloudConnectionFactory(org=org, name="Same")
    b = CloudConnectionFactory(org=org, name="Other")  # 30 rows per connection: ties in that sort too
    # 7 distinct names over 60 rows and identical times: most rows tie on the sort value.
    make_resources(a, 30, name=lambda i: f"name-{i % 7}")
    make_resources(b, 30, name=lambda i: f"name-{i % 7}")
    qs = ex.filtered_resources(org, ex.ExplorerFilters())
    pages, cursors = walk(qs, sort, size=25)
    assert [len(p) for p in pages] == [25, 25, 10]
    seen = [pk for p in pages for pk in p]
    assert len(seen) == len(set(seen)) == 60
    full, _, _ = ex.page_after(qs, sort, None, size=100)
    assert seen == ids(full)

    # Backwards from the third page: the second page, then the first, exactly.
    _, _, prev = ex.page_after(qs, sort, cursors[2], size=25)
    back, _, prev2 = ex.page_after(qs, sort, prev, size=25)
    assert ids(back) == pages[1]
    first, _, no_prev = ex.page_after(qs, sort, prev2, size=25)
    assert ids(first) == pages[0] and no_prev is None


def test_previous_onto_a_shrunk_start_fills_the_first_page(org):
    conn = CloudConnectionFactory(org=org)
    rows = make_resources(conn, 12)
    qs = ex.filtered_resources(org, ex.ExplorerFilters())
    _, nxt, _ = ex.page_after(qs, "name", None, size=5)
    second, _, prev = ex.page_after(qs, "name", nxt, size=5)
    # Three of the first page's resources are gone since: Previous shows a full first page anyway.
    Resource.objects.for_org(org).filter(pk__in=ids(rows[:3])).delete()
    first, _, prev_of_first = ex.page_after(qs, "name", prev, size=5)
    assert ids(first) == ids(rows[3:8]) and prev_of_first is None
    # Next from a cursor whose rows have all gone: an empty page that can still go back.
    _, last_cursor, _ = ex.page_after(qs, "name", nxt, size=5)
    Resource.objects.for_org(org).filter(pk__in=ids(rows[10:])).delete()
    empty, none_after, back = ex.page_after(qs, "name", last_cursor, size=5)
    assert empty == [] and none_after is None
    assert ids(ex.page_after(qs, "name", back, size=5)[0]) == ids(rows[5:10])


def test_a_deep_page_costs_one_query_like_the_first(org):
    conn = CloudConnectionFactory(org=org)
    make_resources(conn, 300)
    qs = ex.filtered_resources(org, ex.ExplorerFilters())
    _, cursors = walk(qs, "name", size=50)
    deep = cursors[-1]
    assert deep is not None
    with CaptureQueriesContext(db_connection) as first:
        ex.page_after(qs, "name", None)
    with CaptureQueriesContext(db_connection) as last:
        rows, _, _ = ex.page_after(qs, "name", deep)
    assert len(first) == len(last) == 1 and len(rows) == 50
    sql = last.captured_queries[0]["sql"].upper()
    assert "OFFSET" not in sql and "LIMIT 51" in sql


def test_tampered_cursors_give_the_first_page(org):
    conn = CloudConnectionFactory(org=org)
    make_resources(conn, 8)
    qs = ex.filtered_resources(org, ex.ExplorerFilters())
    first, nxt, _ = ex.page_after(qs, "name", None, size=3)
    good = ex.decode_cursor(nxt, "name")
    assert good is not None and good.pk == first[-1].pk
    forged = [
        "garbage!!",
        nxt[:-3],
        ex.encode_cursor("name", 12, 5),  # a number where a name belongs
        ex.encode_cursor("last_seen", "not-a-date", 5),
        ex.encode_cursor("last_seen", "2024-05-01T12:00:00", 5),  # naive time
        ex.encode_cursor("name", "x", -1),
        "eyJzIjoibmFtZSJ9",  # {"s":"name"}
    ]
    for token in forged:
        sort = "last_seen" if "bGFzdF9zZWVu" in token else "name"
        assert ex.decode_cursor(token, sort) is None, token
        rows, _, prev = ex.page_after(qs, sort, token, size=3)
        assert len(rows) == 3 and prev is None
    # A cursor made for another sort order is no cursor.
    assert ex.decode_cursor(nxt, "-name") is None
    f = ex.parse_filters(QueryDict(f"sort=-name&cursor={nxt}"))
    assert f.cursor == "" and "first page" in f.warnings[0]


def test_bounded_count(org):
    conn = CloudConnectionFactory(org=org)
    make_resources(conn, 8)
    qs = ex.filtered_resources(org, ex.ExplorerFilters())
    assert ex.bounded_count(qs, limit=5) == (5, True)
    assert ex.bounded_count(qs, limit=8) == (8, False)
    assert ex.bounded_count(qs) == (8, False)


def test_facets_and_badges(org, world):
    facets = ex.explorer_facets(org)
    assert [(c.name, c.count) for c in facets.connections] == [("Azure Sub", 1), ("Prod", 3)]
    assert facets.providers == [("aws", "AWS", 3), ("azure", "Azure", 1)]
    assert dict(facets.types)["aws.ec2.instance"] == 1 and facets.total == 4
    assert dict(facets.regions) == {"eu-west-1": 1, "us-east-1": 1, "global": 1, "westeurope": 1}
    badges = ex.open_findings_by_resource(org, [world["web"].pk, world["db"].pk])
    assert list(badges) == [world["web"].pk]
    badge = badges[world["web"].pk]
    assert (badge.total, badge.worst, badge.title) == (2, "critical", "1 critical, 1 high")


# --- the page -----------------------------------------------------------------------------------------


def test_the_explorer_lists_resources_with_facts(client_for, member, org, world):
    member.timezone = "Asia/Tokyo"
    member.save()
    Resource.objects.for_org(org).filter(pk=world["web"].pk).update(last_seen=T0)
    page = client_for(member).get(explorer_url(org))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="resource-row"') == 4
    assert reverse("dashboard:resource", args=[org.slug, world["web"].pk]) in html
    assert 'data-testid="result-count">4<' in html
    # 12:00 UTC is 21:00 in Tokyo.
    assert "2024-05-01 21:00" in html and "Asia/Tokyo" in html
    # Open findings per row, the worst severity first; tags shown.
    assert 'ex-sev-critical" title="1 critical, 1 high" data-testid="findings-badge">2<' in html
    assert html.count('data-testid="findings-badge"') == 1
    assert 'class="ex-tag-k">team<' in html and 'class="ex-tag-v">web<' in html
    # Facets with counts, export links, the search box.
    assert "aws.rds.instance" in html and 'name="q"' in html
    assert reverse("dashboard:explorer_export", args=[org.slug, "csv"]) in html


def test_filters_in_the_url_are_shown_and_shareable(client_for, member, org, world):
    query = f"tag=env%3Dprod&provider=aws&connection={world['prod'].pk}&sort=-name"
    html = client_for(member).get(explorer_url(org, query)).content.decode()
    assert html.count('data-testid="resource-row"') == 1 and "web-1" in html
    assert 'value="aws" selected' in html
    assert f'value="{world["prod"].pk}" checked' in html
    assert 'value="env=prod"' in html  # the tag input keeps its value
    assert 'name="sort" value="-name"' in html
    assert "Tag: env=prod" in html and 'data-testid="clear-filters"' in html
    assert 'aria-sort="descending"' in html
    # The export links carry the same filters.
    shared = f"connection={world['prod'].pk}&provider=aws&tag=env%3Dprod&sort=-name"
    assert f'href="{export_url(org, "csv", shared)}"' in html.replace("&amp;", "&")


def test_htmx_requests_get_the_results_region_only(client_for, member, org, world):
    c = client_for(member)
    page = c.get(explorer_url(org, "q=web"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="explorer-results")
    html = page.content.decode()
    assert page.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<section id="explorer-results"')
    assert html.count('data-testid="resource-row"') == 2
    assert "HX-Request" in page["Vary"]
    # A history restore asks for the whole page.
    full = c.get(explorer_url(org, "q=web"), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in full.content.decode()


def test_bad_filter_input_shows_warnings_not_errors(client_for, member, org, world):
    page = client_for(member).get(explorer_url(org, "provider=gcp&sort=bogus&cursor=abc&connection=99999&findings=x"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="filter-warnings"' in html
    assert "Ignored the provider filter" in html and "Unknown sort" in html
    assert "out of date or damaged" in html and "no such connection" in html
    assert html.count('data-testid="resource-row"') == 4


def test_pager_links_walk_the_whole_list(client_for, member, org):
    conn = CloudConnectionFactory(org=org)
    make_resources(conn, 120, name=lambda i: f"r{i % 3}")  # heavy ties
    c = client_for(member)
    seen, url, pages = [], explorer_url(org, "sort=name"), 0
    while url:
        page = c.get(url)
        rows = page.context["rows"]
        seen += ids(rows)
        pages += 1
        nxt = page.context["next_query"]
        url = explorer_url(org, nxt) if nxt else None
        if pages > 1:
            assert 'data-testid="prev-page"' in page.content.decode()
            assert 'data-testid="first-page"' in page.content.decode()
            assert page.context["count_label"] == "120"
    assert pages == 3 and len(seen) == len(set(seen)) == 120


def test_a_page_link_past_the_end_offers_the_way_back(client_for, member, org):
    conn = CloudConnectionFactory(org=org)
    rows = make_resources(conn, 60)
    c = client_for(member)
    nxt = c.get(explorer_url(org)).context["next_query"]
    Resource.objects.for_org(org).filter(pk__in=ids(rows[50:])).delete()  # gone since
    page = c.get(explorer_url(org, nxt))
    assert page.status_code == 200 and 'data-testid="empty-page"' in page.content.decode()
    assert page.context["rows"] == [] and page.context["next_query"] is None


def test_count_beyond_the_limit_says_plus(client_for, member, org, monkeypatch):
    monkeypatch.setattr(ex, "COUNT_LIMIT", 60)
    conn = CloudConnectionFactory(org=org)
    make_resources(conn, 70)
    client = client_for(member)
    html = client.get(explorer_url(org, "q=bulk")).content.decode()  # a text filter: counted, later
    assert 'data-testid="count-pending"' in html and 'data-testid="result-count"' not in html
    count_url = reverse("dashboard:explorer_count", kwargs={"org_slug": org.slug}) + "?q=bulk"
    assert f'hx-get="{count_url}' in html
    assert 'data-testid="result-count">60+<' in client.get(count_url).content.decode()


def test_the_rows_never_wait_for_a_count(client_for, member, org):
    """A filter the cached group counts cannot answer (a tag) shows its rows at once; the count of the
    matches comes in its own request, within the same filters."""
    conn = CloudConnectionFactory(org=org)
    make_resources(conn, 120, tags=lambda i: {"env": "prod" if i % 3 else "dev"})
    client = client_for(member)
    with CaptureQueriesContext(db_connection) as queries:
        page = client.get(explorer_url(org, "tag=env%3Dprod"))
    assert len(page.context["rows"]) == 50 and page.context["count_later"]
    assert not any("COUNT(*)" in q["sql"] and "inventory_resource" in q["sql"] for q in queries.captured_queries)
    count = client.get(reverse("dashboard:explorer_count", kwargs={"org_slug": org.slug}) + "?tag=env%3Dprod")
    assert count.status_code == 200
    assert 'data-testid="result-count">80</strong> resources match' in count.content.decode()
    small = client.get(explorer_url(org, "tag=env%3Ddev&sort=name"))  # 40: one page, counted by its rows
    assert not small.context["count_later"] and 'data-testid="result-count">40<' in small.content.decode()


def test_menu_filters_are_counted_from_the_cached_group_counts(client_for, member, org, monkeypatch):
    monkeypatch.setattr(ex, "COUNT_LIMIT", 60)
    conn = CloudConnectionFactory(org=org)
    make_resources(conn, 70)
    make_resources(conn, 130, resource_type="aws.ec2.instance", region="us-east-1")
    client = client_for(member)
    client.get(explorer_url(org))
    with CaptureQueriesContext(db_connection) as queries:
        html = client.get(explorer_url(org)).content.decode()
    assert 'data-testid="result-count">200<' in html  # exact, past the limit of a counted list
    assert not any("COUNT(*)" in q["sql"] and "inventory_resource" in q["sql"] for q in queries.captured_queries)
    html = client.get(explorer_url(org, "type=aws.ec2.instance&region=us-east-1")).content.decode()
    assert 'data-testid="result-count">130<' in html
    html = client.get(explorer_url(org, "type=aws.ec2.volume&region=us-east-1")).content.decode()
    assert 'data-testid="result-count">0<' in html


def test_empty_state_without_a_connection(client_for, member, org):
    html = client_for(member).get(explorer_url(org)).content.decode()
    assert 'data-testid="empty-no-connection"' in html
    assert reverse("connections:list", args=[org.slug]) in html
    assert 'id="explorer-form"' not in html


def test_empty_state_before_the_first_scan(client_for, member, org):
    CloudConnectionFactory(org=org)
    html = client_for(member).get(explorer_url(org)).content.decode()
    assert 'data-testid="empty-no-resources"' in html and "first scan" in html


def test_empty_state_when_filters_match_nothing(client_for, member, org, world):
    html = client_for(member).get(explorer_url(org, "q=nothing-like-this")).content.decode()
    assert 'data-testid="empty-no-match"' in html and "Clear filters" in html
    assert f'href="{explorer_url(org)}"' in html


@pytest.mark.parametrize("member_role", [Role.VIEWER])
def test_a_viewer_explores_and_exports(client_for, member, org, world):
    c = client_for(member)
    assert c.get(explorer_url(org)).status_code == 200
    assert c.get(export_url(org, "csv")).status_code == 200


def test_outsiders_get_404(client_for, outsider, org, world):
    c = client_for(outsider)
    for url in (explorer_url(org), export_url(org, "csv"), export_url(org, "json")):
        assert c.get(url).status_code == 404
    # In their own organization they see only their own (empty) inventory.
    page = c.get(explorer_url(outsider.org, f"connection={world['prod'].pk}"))
    assert page.status_code == 200 and "web-1" not in page.content.decode()
    body = b"".join(c.get(export_url(outsider.org, "json")).streaming_content)
    assert json.loads(body) == []


# --- export -------------------------------------------------------------------------------------------


def _csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_csv_export_of_the_filtered_set(client_for, member, org, world):
    ResourceFactory(
        connection=world["prod"],
        name='=HYPERLINK("http://evil")',
        native_id="+cmd|' /C calc'!A0",
        tags={"env": "prod", "x": "=1+1"},
        region="eu-west-1",
    )
    response = client_for(member).get(export_url(org, "csv", "tag=env%3Dprod&provider=aws&sort=name"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and ".csv" in response["Content-Disposition"]
    rows = _csv(response)
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://evil")', "web-1"]
    evil, web = rows
    assert evil["native_id"] == "'+cmd|' /C calc'!A0"
    assert json.loads(evil["tags"]) == {"env": "prod", "x": "=1+1"}
    assert web["open_findings"] == "2" and evil["open_findings"] == "0"
    assert web["connection"] == "Prod" and web["resource_type"] == "aws.ec2.instance"
    assert web["last_seen"].startswith(world["web"].last_seen.astimezone(UTC).date().isoformat())


def test_json_export_of_the_filtered_set(client_for, member, org, world):
    response = client_for(member).get(export_url(org, "json", "findings=no&sort=-name"))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = json.loads(b"".join(response.streaming_content))
    assert [d["name"] for d in data] == ["web-vm", "orders-db", "logs"]
    assert data[0]["tags"] == {"env": "prod", "cost.center": "42"} and data[0]["open_findings"] == 0
    assert set(data[0]) == set(EXPORT_COLUMNS)


def test_export_of_another_format_is_404(client_for, member, org):
    assert client_for(member).get(export_url(org, "xlsx")).status_code == 404


def test_neutralize_cell():
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralize_cell(dangerous) == "'" + dangerous
    assert neutralize_cell("safe") == "safe" and neutralize_cell(3) == 3


# --- query counts -------------------------------------------------------------------------------------


@pytest.fixture
def big_inventory(org):
    a = CloudConnectionFactory(org=org, name="A")
    b = CloudConnectionFactory(org=org, name="B")
    rows = make_resources(
        a, 250, name=lambda i: f"a-{i % 40}", tags=lambda i: {"env": "prod" if i % 2 else "dev", "n": str(i)}
    )
    rows += make_resources(b, 250, name=lambda i: f"b-{i % 40}", region="us-east-1", resource_type="aws.s3.bucket")
    Finding.objects.bulk_create(
        [
            Finding(
                org=org,
                connection=r.connection,
                resource=r,
                rule_id=f"rule-{k}",
                title="t",
                severity=["critical", "high", "low"][k],
                category="security",
                resource_type=r.resource_type,
                native_id=r.native_id,
            )
            for r in rows[::3]
            for k in range(2)
        ]
    )
    return rows


MAX_EXPLORER_QUERIES = 12


def test_query_count_is_bounded_on_the_first_and_a_deep_page(
    client_for, member, org, big_inventory, django_assert_max_num_queries
):
    c = client_for(member)
    c.get(explorer_url(org))  # warm the session
    with django_assert_max_num_queries(MAX_EXPLORER_QUERIES):
        first = c.get(explorer_url(org, "sort=name"))
    assert len(first.context["rows"]) == 50 and first.context["count_label"] == "500"
    # Walk to the 8th page, then measure it (and a filtered deep page).
    url = explorer_url(org, "sort=name")
    for _ in range(7):
        url = explorer_url(org, c.get(url).context["next_query"])
    with django_assert_max_num_queries(MAX_EXPLORER_QUERIES):
        deep = c.get(url)
    assert len(deep.context["rows"]) == 50
    assert 'data-testid="findings-badge"' in deep.content.decode()

    with CaptureQueriesContext(db_connection) as q_first:
        c.get(explorer_url(org, "sort=name"))
    with CaptureQueriesContext(db_connection) as q_deep:
        c.get(url)
    assert len(q_first) == len(q_deep)

    with django_assert_max_num_queries(MAX_EXPLORER_QUERIES):
        filtered = c.get(explorer_url(org, "findings=yes&tag=env&q=a-&sort=-last_seen"))
    assert filtered.status_code == 200 and filtered.context["rows"]


def test_export_query_count_does_not_grow_with_rows(client_for, member, org, big_inventory):
    c = client_for(member)
    c.get(explorer_url(org))  # warm the session
    with CaptureQueriesContext(db_connection) as everything:
        body = b"".join(c.get(export_url(org, "csv")).streaming_content)
    assert body.count(b"\n") == 501
    with CaptureQueriesContext(db_connection) as one:
        body = b"".join(c.get(export_url(org, "csv", "tag=n%3D7")).streaming_content)
    assert body.count(b"\n") == 2
    assert len(everything) == len(one) <= 6


def test_rows_escape_every_value_they_show(client_for, member, org):
    """Rows are built in Python (dashboard/explorer.py: row_html): names, ids, tags and regions a cloud
    account controls are escaped as the templates escape them."""
    conn = CloudConnectionFactory(org=org, name='prod <b>"x"</b>')
    evil = '<img src=x onerror="alert(1)">'
    ResourceFactory(
        connection=conn, name=evil, native_id=f"arn:{evil}", region="eu-west-1", tags={evil: evil, "ok": "'q'"}
    )
    html = client_for(member).get(explorer_url(org)).content.decode()
    assert evil not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "prod &lt;b&gt;&quot;x&quot;&lt;/b&gt;" in html and "&#x27;q&#x27;" in html
