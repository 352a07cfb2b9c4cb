"""The map's data at scale: cached until the inventory or the findings change, trimmed to what the first
view draws (bounded whatever the organization's size), a large organization's first visit opens on one
region, and the page itself never scans every resource."""

from __future__ import annotations

import json

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard import map_cache
from findings import actions
from inventory.models import Resource
from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    RelationshipFactory,
    ResourceFactory,
    SyncRunFactory,
)


def data_url(org, **query) -> str:
    from urllib.parse import urlencode

    url = reverse("dashboard:map_data", kwargs={"org_slug": org.slug})
    return f"{url}?{urlencode(query)}" if query else url


@pytest.fixture
def estate(org):
    conn = CloudConnectionFactory(org=org, name="Production")
    vpc = ResourceFactory(connection=conn, resource_type="aws.ec2.vpc", name="main", region="eu-west-1")
    subnet = ResourceFactory(connection=conn, resource_type="aws.ec2.subnet", name="a", region="eu-west-1")
    RelationshipFactory(source=subnet, target=vpc, kind="in_vpc")
    web = ResourceFactory(connection=conn, resource_type="aws.ec2.instance", name="web-1", region="eu-west-1")
    RelationshipFactory(source=web, target=subnet, kind="in_subnet")
    return {"conn": conn, "subnet": subnet, "web": web}


def crowd(conn, subnet, n: int, prefix: str = "batch") -> None:
    for i in range(n):
        inst = ResourceFactory(connection=conn, resource_type="aws.ec2.instance", name=f"{prefix}-{i:05d}")
        RelationshipFactory(source=inst, target=subnet, kind="in_subnet")


def node(body: dict, node_id: str) -> dict:
    return next(n["data"] for n in body["elements"]["nodes"] if n["data"]["id"] == node_id)


def test_the_data_is_cached_until_a_sync_writes_the_inventory(client_for, owner, org, estate):
    client, web = client_for(owner), estate["web"]
    assert node(client.get(data_url(org)).json(), f"r{web.pk}")["name"] == "web-1"
    Resource.objects.for_org(org).filter(pk=web.pk).update(name="renamed")  # no sync: the inventory stamp holds
    with CaptureQueriesContext(db) as cached:
        body = client.get(data_url(org)).json()
    assert node(body, f"r{web.pk}")["name"] == "web-1"  # served from the cache
    assert not any("inventory_relationship" in q["sql"] for q in cached.captured_queries)
    SyncRunFactory(connection=estate["conn"])  # a sync that wrote the inventory moves the stamp
    assert node(client.get(data_url(org)).json(), f"r{web.pk}")["name"] == "renamed"
    # A sync that adds a resource does too.
    db_node = ResourceFactory(connection=estate["conn"], resource_type="aws.rds.db_instance", region="eu-west-1")
    RelationshipFactory(source=db_node, target=estate["subnet"], kind="in_subnet")
    assert f"r{db_node.pk}" in {n["data"]["id"] for n in client.get(data_url(org)).json()["elements"]["nodes"]}


def test_a_finding_that_changes_status_shows_at_once(client_for, owner, org, estate):
    client, web = client_for(owner), estate["web"]
    finding = FindingFactory(resource=web, severity="high")
    assert node(client.get(data_url(org)).json(), f"r{web.pk}")["findings"] == 1
    actions.do_suppress(finding, user=owner, reason="accepted")  # writes a finding event
    assert "findings" not in node(client.get(data_url(org)).json(), f"r{web.pk}")


def test_the_first_view_payload_is_bounded_whatever_the_size(client_for, owner, org, estate):
    client = client_for(owner)
    crowd(estate["conn"], estate["subnet"], 150)
    small = client.get(data_url(org)).content
    crowd(estate["conn"], estate["subnet"], 1500, prefix="more")
    SyncRunFactory(connection=estate["conn"])
    large = client.get(data_url(org)).content
    body = json.loads(large)
    aggregate = node(body, f"agg:r{estate['subnet'].pk}:aws.ec2.instance")
    assert aggregate["count"] == 1651 and "members" not in aggregate
    assert len(aggregate["names"]) == map_cache.MAX_NAMES and aggregate["names_total"] == 1651
    assert body["total"] == 1651
    assert len(large) < 1.2 * len(small)  # ten times the resources, about the same download


def test_a_large_organizations_first_visit_opens_on_its_largest_region(client_for, owner, org, estate, monkeypatch):
    monkeypatch.setattr(map_cache, "FIRST_VIEW_MAX", 5)
    conn = estate["conn"]
    for i in range(4):
        ResourceFactory(connection=conn, resource_type="aws.lambda.function", name=f"fn-{i}", region="us-east-1")
    client = client_for(owner)
    page = client.get(reverse("dashboard:map", kwargs={"org_slug": org.slug}))
    assert page.context["params"].region == "us-east-1" and page.context["params"].connection == conn
    assert f"connection={conn.pk}" in page.context["data_url"] and "region=us-east-1" in page.context["data_url"]
    assert "opens on its largest region, us-east-1 of Production" in page.content.decode()
    # Choosing "All" is a choice: the whole organization, no default.
    everything = client.get(reverse("dashboard:map", kwargs={"org_slug": org.slug}) + "?connection=&region=")
    assert everything.context["params"].region == "" and everything.context["params"].connection is None
    assert "first_view" not in everything.context
    monkeypatch.setattr(map_cache, "FIRST_VIEW_MAX", 5000)
    assert "first_view" not in client.get(reverse("dashboard:map", kwargs={"org_slug": org.slug})).context


def test_the_page_reads_regions_from_the_cached_counts(client_for, owner, org, estate):
    client = client_for(owner)
    url = reverse("dashboard:map", kwargs={"org_slug": org.slug})
    client.get(url)
    with CaptureQueriesContext(db) as queries:
        page = client.get(url)
    assert page.context["regions"] == ["eu-west-1"]
    assert not any("DISTINCT" in q["sql"] and "inventory_resource" in q["sql"] for q in queries.captured_queries)
    # The cached counts follow the inventory: a sync that adds a region shows it.
    ResourceFactory(connection=estate["conn"], resource_type="aws.ec2.vpc", region="ap-south-1")
    assert client.get(url).context["regions"] == ["ap-south-1", "eu-west-1"]


def test_a_sync_leaves_the_first_view_built(client_for, owner, org, estate):
    from inventory import hooks

    assert map_cache.warm_after_sync in hooks.after_sync
    assert hooks.after_sync.index(map_cache.warm_after_sync) > next(
        i for i, hook in enumerate(hooks.after_sync) if hook.__module__ == "findings.actions"
    )  # after the findings are evaluated: the key carries their stamp
    client = client_for(owner)
    page = client.get(reverse("dashboard:map", kwargs={"org_slug": org.slug}))
    hooks.run_after_sync(SyncRunFactory(connection=estate["conn"]))
    with CaptureQueriesContext(db) as queries:
        body = client.get(page.context["data_url"]).json()
    assert f"r{estate['web'].pk}" in {n["data"]["id"] for n in body["elements"]["nodes"]}
    assert not any("inventory_relationship" in q["sql"] for q in queries.captured_queries)  # built by the hook
