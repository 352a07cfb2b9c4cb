"""The resource page: header, tags, readable configuration with the raw JSON one click away (and
raw.json), relationships both ways (bounded), findings (open first), the change timeline (field-level
diffs, newest first, 20 per page, htmx partial), the baseline panel, the user's timezone, isolation and
a bounded query count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from dashboard import explorer as ex
from findings.models import Baseline, Finding
from inventory.models import Relationship, Resource, ResourceChange
from orgs.roles import Role
from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    RelationshipFactory,
    ResourceFactory,
    SyncRunFactory,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

CONFIG = {
    "instance_type": "t3.micro",
    "monitoring": False,
    "cpu": {"cores": 2, "threads_per_core": 1},
    "security_groups": ["sg-1", "sg-2"],
    "block_devices": [{"device": f"/dev/xvd{chr(97 + i)}", "volume_id": f"vol-{i}"} for i in range(25)],
    "user_data": None,
}


def url(name: str, org, resource_id: int) -> str:
    return reverse(f"dashboard:{name}", args=[org.slug, resource_id])


@pytest.fixture
def conn(org):
    return CloudConnectionFactory(org=org, name="Prod")


@pytest.fixture
def resource(conn):
    return ResourceFactory(
        connection=conn,
        name="web-1",
        native_id="arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc",
        resource_type="aws.ec2.instance",
        region="eu-west-1",
        tags={"env": "prod", "owner": "ada", "empty": ""},
        config=CONFIG,
        first_seen=T0 - timedelta(days=3),
        last_seen=T0,
        updated_at=T0,
    )


def add_change(resource, run, when, diff, kind=ResourceChange.Kind.MODIFIED):
    return ResourceChange.objects.create(
        org=resource.org,
        connection=resource.connection,
        sync_run=run,
        resource=resource,
        resource_type=resource.resource_type,
        native_id=resource.native_id,
        name=resource.name,
        kind=kind,
        diff=diff,
        created_at=when,
    )


def test_the_page_shows_header_tags_and_readable_configuration(client_for, member, org, resource):
    page = client_for(member).get(url("resource", org, resource.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="resource-name">web-1<' in html
    assert '<code id="native-id">arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc</code>' in html
    assert 'data-copy="#native-id"' in html
    assert reverse("connections:detail", args=[org.slug, resource.connection_id]) in html
    # Tags: a table, each one a link to the explorer filtered by it.
    assert 'data-testid="tags"' in html and "?tag=owner%3Dada" in html and "(empty)" in html
    # The configuration, readable: nested keys indented, short lists as chips, long lists cut.
    assert 'data-testid="config-tree"' in html
    assert 'class="cfg-key cfg-d1">cores<' in html and 'class="cfg-num-val">2<' in html
    assert 'class="cfg-bool-val">false<' in html and 'class="cfg-null-val">null<' in html
    assert '<span class="cfg-chip">sg-1</span><span class="cfg-chip">sg-2</span>' in html
    assert "Show all: 20 more items" in html and "vol-24" in html  # 5 of 25 objects shown first
    # The raw JSON one click away, inline and as a file.
    assert 'data-testid="raw-json"' in html and "&quot;instance_type&quot;: &quot;t3.micro&quot;" in html
    assert url("resource_json", org, resource.pk) in html


def test_times_are_in_the_users_timezone(client_for, member, org, resource):
    member.timezone = "Asia/Tokyo"
    member.save()
    run = SyncRunFactory(connection=resource.connection)
    add_change(resource, run, T0, {"config.monitoring": {"old": True, "new": False}})
    html = client_for(member).get(url("resource", org, resource.pk)).content.decode()
    # 12:00 UTC is 21:00 in Tokyo (last seen, and the change's time).
    assert 'data-testid="last-seen">2024-05-01 21:00 JST<' in html
    assert html.count("2024-05-01 21:00 JST") >= 2


def test_raw_json_returns_the_record(client_for, member, org, resource):
    response = client_for(member).get(url("resource_json", org, resource.pk))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data["config"] == CONFIG and data["tags"]["owner"] == "ada"
    assert data["native_id"] == resource.native_id and data["connection"] == {
        "id": resource.connection_id,
        "name": "Prod",
    }
    assert data["last_seen"] == T0.isoformat()


def test_relationships_in_both_directions_are_links(client_for, member, org, resource, conn):
    subnet = ResourceFactory(connection=conn, name="subnet-a", resource_type="aws.ec2.subnet")
    volume = ResourceFactory(connection=conn, name="", native_id="vol-no-name", resource_type="aws.ec2.volume")
    RelationshipFactory(source=resource, target=subnet, kind="in_subnet")
    RelationshipFactory(source=volume, target=resource, kind="attached_to")
    html = client_for(member).get(url("resource", org, resource.pk)).content.decode()
    outgoing = html.split('data-testid="outgoing"')[1].split("</ul>")[0]
    incoming = html.split('data-testid="incoming"')[1].split("</ul>")[0]
    assert "in_subnet" in outgoing and url("resource", org, subnet.pk) in outgoing and "subnet-a" in outgoing
    assert "attached_to" in incoming and url("resource", org, volume.pk) in incoming and "vol-no-name" in incoming


def test_relationships_are_bounded_with_a_count_of_the_rest(client_for, member, org, resource, conn, monkeypatch):
    from findings import resource_search

    monkeypatch.setattr(resource_search, "RELATIONSHIP_LIMIT", 10)
    targets = Resource.objects.bulk_create(
        [
            Resource(org=org, connection=conn, provider="aws", resource_type="aws.ec2.volume", native_id=f"v-{i}")
            for i in range(13)
        ]
    )
    Relationship.objects.bulk_create(
        [Relationship(org=org, connection=conn, source=resource, target=t, kind="attached_to") for t in targets]
    )
    page = client_for(member).get(url("resource", org, resource.pk))
    assert len(page.context["outgoing"]) == 10 and page.context["outgoing_total"] == 13
    assert 'data-testid="outgoing-hidden">and 3 more.' in page.content.decode()


def test_findings_open_first_with_links(client_for, member, org, resource):
    resolved = FindingFactory(resource=resource, rule_id="r-resolved", title="Was bad", status="resolved")
    low = FindingFactory(resource=resource, rule_id="r-low", title="Minor thing", severity="low")
    critical = FindingFactory(resource=resource, rule_id="r-crit", title="Wide open", severity="critical")
    html = client_for(member).get(url("resource", org, resource.pk)).content.decode()
    section = html.split('data-testid="findings"')[1].split("</ul>")[0]
    positions = [section.index(t) for t in ("Wide open", "Minor thing", "Was bad")]
    assert positions == sorted(positions)
    for f in (resolved, low, critical):
        assert f'href="/o/{org.slug}/findings/{f.pk}/"' in section
    assert "2 open finding" in html and "(resolved)" in section


def test_change_timeline_newest_first_with_field_diffs(client_for, member, org, resource):
    run1 = SyncRunFactory(connection=resource.connection)
    run2 = SyncRunFactory(connection=resource.connection)
    add_change(resource, run1, T0 - timedelta(days=2), {}, kind=ResourceChange.Kind.CREATED)
    add_change(
        resource,
        run2,
        T0,
        {
            "config.instance_type": {"old": "t3.nano", "new": "t3.micro"},
            "tags.owner": {"old": None, "new": "ada"},
            "config.cpu": {"old": {"cores": 1}, "new": {"cores": 2}},
        },
    )
    html = client_for(member).get(url("resource", org, resource.pk)).content.decode()
    timeline = html.split('data-testid="timeline"')[1]
    assert timeline.index("Modified") < timeline.index("Created")
    assert "<code>config.instance_type</code>" in timeline
    assert "<code>&quot;t3.nano&quot;</code>" in timeline and "<code>&quot;t3.micro&quot;</code>" in timeline
    assert 'class="diff-absent">absent<' in timeline  # the tag did not exist before
    assert "<pre>{\n  &quot;cores&quot;: 1\n}</pre>" in timeline  # structures pretty-printed
    assert reverse("inventory:run_detail", args=[org.slug, run2.pk]) in timeline
    assert "First seen by this scan" in timeline


def test_change_timeline_pages_by_20_and_serves_htmx(client_for, member, org, resource):
    run = SyncRunFactory(connection=resource.connection)
    for i in range(45):
        add_change(resource, run, T0 + timedelta(minutes=i), {"config.n": {"old": i, "new": i + 1}})
    c = client_for(member)
    first = c.get(url("resource", org, resource.pk))
    assert first.content.decode().count('data-testid="change"') == 20
    assert "<code>44</code>" in first.content.decode()  # newest first
    assert 'data-testid="older-changes"' in first.content.decode()
    partial = c.get(
        url("resource", org, resource.pk) + "?changes=3", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="change-timeline"
    )
    html = partial.content.decode()
    assert "<html" not in html and html.lstrip().startswith('<section class="panel" id="change-timeline"')
    assert html.count('data-testid="change"') == 5 and "Page 3 of 3" in html
    # A page number that is not one: the first page, not an error.
    assert c.get(url("resource", org, resource.pk) + "?changes=abc").status_code == 200


def test_long_diffs_fold_the_rest(client_for, member, org, resource):
    run = SyncRunFactory(connection=resource.connection)
    add_change(resource, run, T0, {f"config.k{i:02d}": {"old": i, "new": None} for i in range(30)})
    html = client_for(member).get(url("resource", org, resource.pk)).content.decode()
    assert "Show 5 more fields" in html and "config.k29" in html


def test_empty_states(client_for, member, org, conn):
    bare = ResourceFactory(connection=conn, name="", tags={}, config={})
    html = client_for(member).get(url("resource", org, bare.pk)).content.decode()
    assert f'data-testid="resource-name">{bare.native_id}<' in html
    assert "No tags." in html and "No configuration was recorded" in html
    assert "No findings" in html and 'data-testid="no-changes"' in html
    assert html.count('<p class="empty">None.</p>') == 2  # relationships, both ways


def test_baseline_panel_is_included(client_for, member, org, resource):
    Baseline.objects.create(
        org=org, connection=resource.connection, resource=resource, approved={"config": CONFIG, "tags": resource.tags}
    )
    html = client_for(member).get(url("resource", org, resource.pk)).content.decode()
    assert 'data-testid="baseline-panel"' in html


@pytest.mark.parametrize("member_role", [Role.VIEWER])
def test_a_viewer_reads_the_page(client_for, member, org, resource):
    assert client_for(member).get(url("resource", org, resource.pk)).status_code == 200
    assert client_for(member).get(url("resource_json", org, resource.pk)).status_code == 200


def test_outsiders_get_404(client_for, outsider, org, resource):
    c = client_for(outsider)
    for name in ("resource", "resource_json"):
        assert c.get(url(name, org, resource.pk)).status_code == 404
        # Their own organization's URL with our resource id: 404 as well.
        assert c.get(url(name, outsider.org, resource.pk)).status_code == 404
    assert c.get(url("resource", outsider.org, 999999)).status_code == 404


def test_query_count_is_bounded(client_for, member, org, resource, conn, django_assert_max_num_queries):
    others = Resource.objects.bulk_create(
        [
            Resource(
                org=org,
                connection=conn,
                provider="aws",
                resource_type="aws.ec2.volume",
                native_id=f"vol-{i}",
                name=f"vol-{i}",
                config={"size": i},
            )
            for i in range(100)
        ]
    )
    Relationship.objects.bulk_create(
        [Relationship(org=org, connection=conn, source=resource, target=t, kind="attached_to") for t in others[:50]]
        + [Relationship(org=org, connection=conn, source=t, target=resource, kind="uses") for t in others[50:]]
    )
    run = SyncRunFactory(connection=conn)
    for i in range(50):
        add_change(resource, run, T0 + timedelta(minutes=i), {"config.n": {"old": i, "new": i + 1}})
    Finding.objects.bulk_create(
        [
            Finding(
                org=org,
                connection=conn,
                resource=resource,
                rule_id=f"rule-{i}",
                title=f"Finding {i}",
                severity=["critical", "high", "medium", "low"][i % 4],
                category="security",
                status="open" if i % 3 else "resolved",
                resource_type=resource.resource_type,
                native_id=resource.native_id,
            )
            for i in range(20)
        ]
    )
    Baseline.objects.create(org=org, connection=conn, resource=resource, approved={"config": {}, "tags": {}})
    c = client_for(member)
    c.get(url("resource", org, resource.pk))  # warm the session
    with django_assert_max_num_queries(16):  # 2 of them: the exposure panel (records, relationships)
        page = c.get(url("resource", org, resource.pk))
    html = page.content.decode()
    assert html.count('<span class="rs-kind">attached_to</span>') == 50
    assert html.count('<span class="rs-kind">uses</span>') == 50
    assert html.count('data-testid="change"') == 20 and html.count("/findings/") >= 20


# --- the helpers --------------------------------------------------------------------------------------


def test_config_rows_bounds_and_shapes():
    tree = ex.config_rows({"b": [1, 2], "a": {"x": [{"y": 1}] * 30}}, list_preview=3, max_rows=20)
    labels = [(r.depth, r.label, r.kind) for r in tree.rows]
    assert labels[:3] == [(0, "a", "dict"), (1, "x", "list"), (2, "1", "dict")]
    more = [r for r in tree.rows if r.kind == "more"]
    assert len(more) == 1 and more[0].count == 27
    assert tree.truncated > 0  # the row budget ran out: the rest is in the raw JSON
    assert ex.config_rows({}).rows == [] and ex.config_rows("text").rows[0].value == "text"


def test_diff_lines_pretty_print():
    shown, rest = ex.diff_lines({"b": {"old": [1], "new": None}, "a": {"old": "x", "new": 2}}, limit=1)
    assert shown == [ex.DiffLine("a", '"x"', "2", False)]
    assert rest == [ex.DiffLine("b", "[\n  1\n]", None, True)]
    assert ex.diff_lines("not a dict") == ([], [])
