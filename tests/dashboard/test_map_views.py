"""The architecture map's page and its data.json: scope selectors, filters, the elements' shape, bad input,
empty states, isolation and bounded queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inventory.models import Relationship, Resource
from tests.factories import CloudConnectionFactory, FindingFactory, RelationshipFactory, ResourceFactory

SSH_WORLD = {"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22, "source": "0.0.0.0/0"}


def map_url(org, **query) -> str:
    return _with_query(reverse("dashboard:map", kwargs={"org_slug": org.slug}), query)


def data_url(org, **query) -> str:
    return _with_query(reverse("dashboard:map_data", kwargs={"org_slug": org.slug}), query)


def _with_query(url: str, query: dict) -> str:
    from urllib.parse import urlencode

    return f"{url}?{urlencode(query, doseq=True)}" if query else url


@pytest.fixture
def estate(org):
    """Production (eu-west-1: a VPC, a subnet, an exposed web server with a finding, a private worker;
    us-east-1: another VPC) and an empty Staging connection."""
    conn = CloudConnectionFactory(org=org, name="Production")
    staging = CloudConnectionFactory(org=org, name="Staging")

    def res(rtype, name, region="eu-west-1", **config):
        return ResourceFactory(connection=conn, resource_type=rtype, name=name, region=region, config=config)

    vpc = res("aws.ec2.vpc", "main-vpc")
    subnet = res("aws.ec2.subnet", "public-a")
    RelationshipFactory(source=subnet, target=vpc, kind="in_vpc")
    sg = res("aws.ec2.security_group", "ssh-open", rules=[SSH_WORLD])
    web = res("aws.ec2.instance", "web-1", public_ip="203.0.113.10")
    worker = res("aws.ec2.instance", "worker-1")
    for inst in (web, worker):
        RelationshipFactory(source=inst, target=subnet, kind="in_subnet")
        RelationshipFactory(source=inst, target=sg, kind="uses_security_group")
    db = res("aws.rds.db_instance", "orders-db")
    RelationshipFactory(source=db, target=subnet, kind="in_subnet")
    FindingFactory(resource=web, severity="high")
    east_vpc = res("aws.ec2.vpc", "east-vpc", region="us-east-1")
    return {"conn": conn, "staging": staging, "vpc": vpc, "subnet": subnet, "web": web, "worker": worker,
            "db": db, "east_vpc": east_vpc}  # fmt: skip


# --- The page ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("member_role", ["viewer"])
def test_the_page_has_scope_selectors_type_filter_legend_and_canvas(client_for, member, org, estate):
    response = client_for(member).get(map_url(org, connection=estate["conn"].pk))
    assert response.status_code == 200
    html = response.content.decode()
    for testid in (
        "map-connection",
        "map-region",
        "map-network",
        "map-types",
        "map-legend",
        "map-canvas",
        "map-fit",
        "map-collapse",
        "map-expand",
        "map-export-png",
        "map-export-svg",
    ):
        assert f'data-testid="{testid}"' in html, testid
    assert f'<option value="{estate["conn"].pk}" selected>Production</option>' in html
    assert f'<option value="{estate["staging"].pk}">Staging</option>' in html
    assert '<option value="eu-west-1">eu-west-1</option>' in html
    assert '<option value="us-east-1">us-east-1</option>' in html
    assert f'<option value="{estate["vpc"].pk}">main-vpc (eu-west-1)</option>' in html
    assert 'value="aws.ec2.instance" checked data-testid="map-type-aws.ec2.instance"' in html
    assert 'value="aws.ec2.security_group" data-testid' in html  # off by default
    assert "azure.compute.vm" not in html  # an AWS connection: AWS types only
    assert f'data-data-url="/o/{org.slug}/map/data.json?connection={estate["conn"].pk}"' in html
    assert 'nonce="' in html and "dashboard/js/map.js" in html and "vendor/cytoscape.min.js" in html
    assert 'id="__________cytoscape_stylesheet"' in html  # Cytoscape's own <style> would break the CSP


def test_the_network_selector_follows_the_region(client_for, owner, org, estate):
    html = client_for(owner).get(map_url(org, region="us-east-1")).content.decode()
    assert f'<option value="{estate["east_vpc"].pk}">east-vpc (us-east-1)</option>' in html
    assert "main-vpc" not in html
    assert '<option value="us-east-1" selected>us-east-1</option>' in html


def test_checked_types_come_from_the_query(client_for, owner, org, estate):
    html = client_for(owner).get(map_url(org, type=["aws.ec2.security_group"])).content.decode()
    assert 'value="aws.ec2.security_group" checked' in html
    assert 'value="aws.ec2.instance" data-testid' in html  # unchecked


def test_no_connection_yet_links_to_connections(client_for, owner, org):
    response = client_for(owner).get(map_url(org))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="map-empty"' in html
    assert reverse("connections:list", kwargs={"org_slug": org.slug}) in html
    assert "cytoscape" not in html.replace("__________cytoscape_stylesheet", "")


def test_no_resources_in_scope_says_so(client_for, owner, org, estate):
    response = client_for(owner).get(map_url(org, connection=estate["staging"].pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="map-no-resources"' in html
    assert "No resources in this scope" in html
    assert 'data-testid="map-canvas"' not in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"connection": "abc"}, "Choose a connection from the list."),
        ({"region": "eu west 1"}, "Unknown region"),
        ({"network": "x"}, "Choose a VPC or VNet from the list."),
        ({"type": "aws.ec2.nope"}, "Unknown resource type for the map: aws.ec2.nope."),
    ],
)
def test_bad_parameters_on_the_page_are_a_clear_400(client_for, owner, org, estate, query, message):
    response = client_for(owner).get(map_url(org, **query))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="map-error"' in html and message in html
    assert 'data-testid="map-connection"' in html  # the selectors stay, to pick a valid scope


def test_a_network_that_is_not_a_vpc_or_of_another_connection(client_for, owner, org, estate):
    client = client_for(owner)
    response = client.get(map_url(org, network=estate["web"].pk))
    assert response.status_code == 400 and "not a VPC or VNet" in response.content.decode()
    response = client.get(map_url(org, network=estate["vpc"].pk, connection=estate["staging"].pk))
    assert response.status_code == 400 and "belongs to another connection" in response.content.decode()
    response = client.get(map_url(org, network=estate["vpc"].pk, region="us-east-1"))
    assert response.status_code == 400 and "in another region" in response.content.decode()


# --- data.json -------------------------------------------------------------------------------------------


def test_data_json_shape(client_for, owner, org, estate):
    response = client_for(owner).get(data_url(org, connection=estate["conn"].pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) >= {"elements", "total", "shown", "truncated", "message", "types", "stats", "empty"}
    assert set(body["elements"]) == {"nodes", "edges"}
    nodes = {n["data"]["id"]: n for n in body["elements"]["nodes"]}
    web = nodes[f"r{estate['web'].pk}"]
    assert web["data"]["url"] == reverse(
        "dashboard:resource", kwargs={"org_slug": org.slug, "resource_id": estate["web"].pk}
    )
    assert web["data"]["parent"] == f"r{estate['subnet'].pk}"
    assert web["data"]["exposed"] is True and web["data"]["ports"] == "22"
    assert (web["data"]["findings"], web["data"]["severity"]) == (1, "high")
    assert set(web["position"]) == {"x", "y"}
    assert "exposed" in web["classes"].split()
    assert nodes[f"r{estate['worker'].pk}"]["data"].get("exposed") is None  # no public address
    assert {"source": "internet", "target": f"r{estate['web'].pk}", "label": "22"}.items() <= next(
        e["data"] for e in body["elements"]["edges"] if e["classes"] == "exposure"
    ).items()
    assert body["total"] == body["shown"] == 3
    assert body["truncated"] is False and body["empty"] is False
    assert {"type": "aws.ec2.instance", "label": "EC2 instances", "family": "compute", "count": 2, "shown": True} in (
        body["types"]
    )


def test_data_json_filters(client_for, owner, org, estate):
    client = client_for(owner)

    def ids(**query) -> set[str]:
        return {n["data"]["id"] for n in client.get(data_url(org, **query)).json()["elements"]["nodes"]}

    assert f"r{estate['east_vpc'].pk}" not in ids(region="eu-west-1")
    # An empty VPC is one "N empty networks" node unless asked for (tests/dashboard/test_map_scale.py).
    assert ids(region="us-east-1") == {"empty-networks"}
    assert f"r{estate['east_vpc'].pk}" in ids(region="us-east-1", empty="show")
    only_db = ids(connection=estate["conn"].pk, type="aws.rds.db_instance")
    assert f"r{estate['db'].pk}" in only_db and f"r{estate['web'].pk}" not in only_db
    in_vpc = ids(network=estate["vpc"].pk)
    assert f"r{estate['web'].pk}" in in_vpc and f"r{estate['east_vpc'].pk}" not in in_vpc


def test_data_json_expands_an_aggregate(client_for, owner, org, estate):
    for i in range(45):
        inst = ResourceFactory(connection=estate["conn"], resource_type="aws.ec2.instance", name=f"batch-{i}")
        RelationshipFactory(source=inst, target=estate["subnet"], kind="in_subnet")
    client = client_for(owner)
    aggregate = f"agg:r{estate['subnet'].pk}:aws.ec2.instance"
    nodes = {n["data"]["id"]: n["data"] for n in client.get(data_url(org)).json()["elements"]["nodes"]}
    assert nodes[aggregate]["label"] == "46 × EC2 instances"  # the exposed web server stays apart
    expanded = client.get(data_url(org, expand=aggregate)).json()["elements"]["nodes"]
    assert aggregate not in {n["data"]["id"] for n in expanded}
    assert (
        sum(1 for n in expanded if n["data"].get("rtype") == "aws.ec2.instance" and n["data"]["kind"] == "resource")
        == 47
    )


def test_data_json_for_an_empty_scope(client_for, owner, org, estate):
    body = client_for(owner).get(data_url(org, connection=estate["staging"].pk)).json()
    assert body["empty"] is True
    assert body["elements"] == {"nodes": [], "edges": []}
    assert "No resources to map in this scope" in body["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"connection": "1; DROP"}, "Choose a connection from the list."),
        ({"region": "../etc"}, "Unknown region"),
        ({"type": "aws.iam.user"}, "Unknown resource type for the map: aws.iam.user."),
        ({"expand": "<script>"}, "Unknown group to expand."),
        ({"network": "-1"}, "Choose a VPC or VNet from the list."),
    ],
)
def test_data_json_bad_parameters_are_a_400_with_an_error(client_for, owner, org, estate, query, message):
    response = client_for(owner).get(data_url(org, **query))
    assert response.status_code == 400
    assert response.json() == {"error": message} or message in response.json()["error"]


# --- Isolation and access --------------------------------------------------------------------------------


def test_outsiders_and_other_orgs_ids_get_404(client_for, outsider, owner, org, estate):
    assert client_for(outsider).get(map_url(org)).status_code == 404
    assert client_for(outsider).get(data_url(org)).status_code == 404
    # The owner of org asking for the outsider's connection or VPC, in org's own map.
    theirs = CloudConnectionFactory(org=outsider.org)
    their_vpc = ResourceFactory(connection=theirs, resource_type="aws.ec2.vpc", name="theirs")
    client = client_for(owner)
    for url in (map_url(org, connection=theirs.pk), data_url(org, connection=theirs.pk)):
        assert client.get(url).status_code == 404
    for url in (map_url(org, network=their_vpc.pk), data_url(org, network=their_vpc.pk)):
        assert client.get(url).status_code == 404
    # And their data never shows on org's map.
    body = client.get(data_url(org)).json()
    assert f"r{their_vpc.pk}" not in {n["data"]["id"] for n in body["elements"]["nodes"]}


def test_anonymous_visitors_are_sent_to_log_in(client, org):
    response = client.get(map_url(org))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(data_url(org)).status_code == 302


# --- Bounded queries ---------------------------------------------------------------------------------------


def test_page_and_data_run_a_bounded_number_of_queries(client_for, owner, org, estate, django_assert_max_num_queries):
    conn = estate["conn"]
    Resource.objects.for_org(org).bulk_create(
        Resource(
            org=org,
            connection=conn,
            provider="aws",
            resource_type=rtype,
            native_id=f"arn:{rtype}:{i}",
            name=f"{rtype}-{i}",
            region=region,
            config={"public_ip": "203.0.113.1"},
        )
        for i in range(300)
        for rtype, region in (
            ("aws.ec2.instance", "eu-west-1"),
            ("aws.ec2.subnet", "eu-west-1"),
            ("aws.ec2.vpc", "us-east-2"),
            ("aws.lambda.function", "ap-south-1"),
        )
    )
    instances = list(Resource.objects.for_org(org).filter(name__startswith="aws.ec2.instance-"))
    Relationship.objects.for_org(org).bulk_create(
        Relationship(org=org, connection=conn, source=inst, target=estate["subnet"], kind="in_subnet")
        for inst in instances
    )
    client = client_for(owner)
    client.get(map_url(org))  # sessions, current org: warm up what is cached per visitor
    with django_assert_max_num_queries(14):
        assert client.get(map_url(org, connection=conn.pk)).status_code == 200
    with django_assert_max_num_queries(10):
        body = client.get(data_url(org, connection=conn.pk)).json()
    assert body["total"] == 603  # 300 instances, 300 functions and the estate's 3 (networks are containers)
    assert body["stats"]["aggregates"] >= 2
