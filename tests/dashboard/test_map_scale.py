"""The whole organization's map at scale (issue #22): past FIRST_VIEW_MAX resources to map, a scope with
no region is an overview aggregated in SQL (a group per connection and region, an aggregate per type),
built with the same few queries whatever the size; clicking one of its aggregates draws that region."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard import map_cache
from inventory.models import Resource
from tests.factories import CloudConnectionFactory, FindingFactory, RelationshipFactory, ResourceFactory

FIRST_VIEW_MAX = 20


def data_url(org, *pairs: tuple[str, object]) -> str:
    url = reverse("dashboard:map_data", kwargs={"org_slug": org.slug})
    return f"{url}?{urlencode(pairs)}" if pairs else url


def nodes(body: dict) -> dict[str, dict]:
    return {n["data"]["id"]: n["data"] for n in body["elements"]["nodes"]}


def add(conn, rtype: str, region: str, n: int, start: int = 0) -> list[Resource]:
    return Resource.objects.for_org(conn.org).bulk_create(
        Resource(
            org=conn.org,
            connection=conn,
            provider="aws",
            resource_type=rtype,
            native_id=f"arn:{rtype}:{region}:{i}",
            name=f"{rtype.rsplit('.', 1)[1]}-{region}-{i}",
            region=region,
            config={"public_ip": "203.0.113.1"},
        )
        for i in range(start, start + n)
    )


@pytest.fixture
def large(org, monkeypatch):
    """Two connections, three regions, more resources to map than the (lowered) first-view bound."""
    monkeypatch.setattr(map_cache, "FIRST_VIEW_MAX", FIRST_VIEW_MAX)
    prod = CloudConnectionFactory(org=org, name="Production")
    stage = CloudConnectionFactory(org=org, name="Staging")
    vpc = ResourceFactory(connection=prod, resource_type="aws.ec2.vpc", name="main", region="eu-west-1")
    subnet = ResourceFactory(connection=prod, resource_type="aws.ec2.subnet", name="a", region="eu-west-1")
    RelationshipFactory(source=subnet, target=vpc, kind="in_vpc")
    web = add(prod, "aws.ec2.instance", "eu-west-1", 15)
    for inst in web:
        RelationshipFactory(source=inst, target=subnet, kind="in_subnet")
    add(prod, "aws.lambda.function", "eu-west-1", 4)
    add(prod, "aws.ec2.instance", "us-east-1", 6)
    add(stage, "aws.rds.db_instance", "eu-west-1", 3)
    add(stage, "aws.s3.bucket", "global", 5)  # global services are not on the map
    FindingFactory(resource=web[0], severity="medium")
    FindingFactory(resource=web[1], severity="critical")
    return {"prod": prod, "stage": stage, "subnet": subnet, "web": web}


def test_a_large_organizations_whole_map_is_an_overview_of_aggregated_groups(client_for, owner, org, large):
    body = client_for(owner).get(data_url(org)).json()

    found = nodes(body)
    prod, stage = large["prod"].pk, large["stage"].pk
    assert {i for i, d in found.items() if d["kind"] == "region"} == {
        f"region:{prod}:eu-west-1",
        f"region:{prod}:us-east-1",
        f"region:{stage}:eu-west-1",
    }
    assert all(d["kind"] in ("region", "aggregate") for d in found.values())  # no resource one by one
    instances = found[f"agg:region:{prod}:eu-west-1:aws.ec2.instance"]
    assert instances["count"] == 15 and instances["label"] == "15 × EC2 instances"
    assert instances["parent"] == f"region:{prod}:eu-west-1"
    assert instances["findings"] == 2 and instances["severity"] == "critical"
    assert instances["names"] == [] and instances["names_total"] == 15  # the search says to expand
    assert instances["scope"] == {"connection": str(prod), "region": "eu-west-1"}  # what a click opens
    assert found[f"agg:region:{stage}:eu-west-1:aws.rds.db_instance"]["count"] == 3
    assert found[f"region:{stage}:eu-west-1"]["label"] == "eu-west-1 · Staging"  # several connections
    assert body["total"] == body["shown"] == 28 and body["truncated"] is False
    assert body["message"].startswith("Overview of 28 resources in 2 regions")
    assert {t["type"]: t["count"] for t in body["types"]}["aws.ec2.instance"] == 21
    assert all("position" in n for n in body["elements"]["nodes"] if n["data"]["kind"] == "aggregate")


def test_the_overview_reads_no_resource_row_whatever_the_size(client_for, owner, org, large):
    client = client_for(owner)
    client.get(data_url(org, ("region", "eu-west-1")))  # sessions, current org: warmed up

    def queries() -> list[str]:
        with CaptureQueriesContext(db) as captured:
            map_cache.cache.clear()
            assert client.get(data_url(org)).status_code == 200
        return [q["sql"] for q in captured.captured_queries]

    small = queries()
    add(large["prod"], "aws.ec2.instance", "eu-west-1", 400, start=100)
    grown = queries()
    assert len(grown) == len(small)
    resource_reads = [q for q in grown if 'FROM "inventory_resource"' in q and "GROUP BY" not in q]
    assert not [q for q in resource_reads if '"inventory_resource"."config"' in q or "->" in q]
    assert not any("inventory_relationship" in q for q in grown)
    body = client.get(data_url(org)).json()
    assert nodes(body)[f"agg:region:{large['prod'].pk}:eu-west-1:aws.ec2.instance"]["count"] == 415


def test_clicking_an_overview_aggregate_draws_its_region(client_for, owner, org, large):
    prod = large["prod"].pk
    agg = f"agg:region:{prod}:eu-west-1:aws.ec2.instance"
    body = client_for(owner).get(data_url(org, ("expand", agg))).json()

    found = nodes(body)
    assert f"r{large['subnet'].pk}" in found  # the region's networks, resources and aggregates
    assert {d.get("region") for d in found.values() if d.get("region")} == {"eu-west-1"}
    assert f"region:{prod}:eu-west-1" in found  # the group the page zooms to after expanding
    assert not any(d["kind"] == "region" and d["id"] != f"region:{prod}:eu-west-1" for d in found.values())
    assert body["total"] == 19  # 15 instances and 4 functions of Production in eu-west-1


def test_the_type_filter_and_a_connection_narrow_the_overview(client_for, owner, org, large):
    client = client_for(owner)
    body = client.get(data_url(org, ("type", "aws.lambda.function"))).json()
    assert [d["id"] for d in nodes(body).values() if d["kind"] == "aggregate"] == [
        f"agg:region:{large['prod'].pk}:eu-west-1:aws.lambda.function"
    ]
    assert body["total"] == 4
    # One connection with more than the bound: its regions, not the other connection's.
    body = client.get(data_url(org, ("connection", large["prod"].pk))).json()
    assert {d["id"] for d in nodes(body).values() if d["kind"] == "region"} == {
        f"region:{large['prod'].pk}:eu-west-1",
        f"region:{large['prod'].pk}:us-east-1",
    }
    # A connection under the bound keeps the full map.
    body = client.get(data_url(org, ("connection", large["stage"].pk))).json()
    assert any(d["kind"] == "resource" for d in nodes(body).values())


def test_below_the_bound_the_whole_organization_is_drawn_resource_by_resource(
    client_for, owner, org, large, monkeypatch
):
    monkeypatch.setattr(map_cache, "FIRST_VIEW_MAX", 5000)
    body = client_for(owner).get(data_url(org)).json()
    found = nodes(body)
    assert f"r{large['web'][0].pk}" in found and "overview" not in body["stats"]
