"""The exposure of a resource on its page and for the map: exposed with its path (each step a link to its
resource), latent with the missing link, nothing for a type with no internet path; the map's JSON names
the path as the map's node ids; another organization's resource is a 404; bounded queries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory.models import Resource
from tests.factories import CloudConnectionFactory, RelationshipFactory, ResourceFactory

REGION = "eu-west-1"
OPEN_HTTPS = [
    {"direction": "ingress", "protocol": "tcp", "from_port": 443, "to_port": 443, "source": "0.0.0.0/0"},
]


@dataclass
class Estate:
    conn: object
    vpc: Resource
    subnet: Resource
    table: Resource
    igw: Resource
    sg: Resource
    instance: Resource


def exposed_estate(org, *, route: bool = True, name: str = "Production") -> Estate:
    """A VPC with an attached internet gateway, a subnet routed 0.0.0.0/0 → it (unless ``route`` is
    False), a security group open on 443 and an instance with a public IP in that subnet: the records
    the AWS collectors write (findings/rules/fields.yaml)."""
    conn = CloudConnectionFactory(org=org, name=name)

    def res(rtype: str, res_name: str, config: dict) -> Resource:
        return ResourceFactory(connection=conn, resource_type=rtype, name=res_name, region=REGION, config=config)

    vpc = res("aws.ec2.vpc", "main-vpc", {"vpc_id": "vpc-1"})
    igw = res(
        "aws.ec2.internet_gateway",
        "igw-1",
        {"internet_gateway_id": "igw-1", "attached": True, "attachments": [{"vpc_id": "vpc-1", "state": "available"}]},
    )
    routes = [{"destination": "10.0.0.0/16", "target_type": "local", "target_id": "local", "state": "active"}]
    if route:
        routes.append(
            {"destination": "0.0.0.0/0", "target_type": "internet_gateway", "target_id": "igw-1", "state": "active"}
        )
    table = res(
        "aws.ec2.route_table",
        "public-rt",
        {"route_table_id": "rtb-1", "vpc_id": "vpc-1", "main": False, "routes": routes},
    )
    subnet = res("aws.ec2.subnet", "public-a", {"subnet_id": "subnet-1", "vpc_id": "vpc-1", "route_table_id": "rtb-1"})
    sg = res("aws.ec2.security_group", "web-sg", {"group_id": "sg-1", "rules": OPEN_HTTPS})
    instance = res(
        "aws.ec2.instance", "web-1", {"state": "running", "public_ip": "203.0.113.10", "subnet_id": "subnet-1"}
    )
    RelationshipFactory(source=subnet, target=vpc, kind="in_vpc")
    RelationshipFactory(source=igw, target=vpc, kind="attached_to")
    RelationshipFactory(source=table, target=igw, kind="routes_to")
    RelationshipFactory(source=table, target=subnet, kind="associated_with")
    RelationshipFactory(source=instance, target=subnet, kind="in_subnet")
    RelationshipFactory(source=instance, target=vpc, kind="in_vpc")
    RelationshipFactory(source=instance, target=sg, kind="uses_security_group")
    return Estate(conn, vpc, subnet, table, igw, sg, instance)


def page(client, org, resource) -> str:
    response = client.get(reverse("dashboard:resource", args=[org.slug, resource.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def viewer(org, client_for):
    from orgs.roles import Role
    from tests.factories import MembershipFactory, UserFactory

    person = UserFactory(email="viewer@example.com")
    MembershipFactory(user=person, org=org, role=Role.VIEWER)
    return client_for(person)


def test_resource_page_shows_the_path(org, viewer):
    estate = exposed_estate(org)
    html = page(viewer, org, estate.instance)
    assert 'data-testid="exposure" data-state="exposed"' in html
    assert '<strong data-testid="exposure-ports">tcp 443</strong>' in html
    path = html.split('data-testid="exposure-path"')[1].split("</ol>")[0]
    names = ["Internet", "igw-1", "public-rt", "public-a", "web-sg", "web-1"]
    positions = [path.index(n) for n in names]
    assert positions == sorted(positions), "the steps are in order, from the internet to the resource"
    for step in (estate.igw, estate.table, estate.subnet, estate.sg, estate.instance):
        assert reverse("dashboard:resource", args=[org.slug, step.pk]) in path
    assert "route 0.0.0.0/0 → igw-1" in path
    assert "allows tcp 443 from 0.0.0.0/0" in path
    map_link = f"/o/{org.slug}/map/?connection={estate.conn.pk}&amp;region={REGION}&amp;exposure={estate.instance.pk}"
    assert map_link in html

    # The security group is exposed through the instance: its page shows the same path.
    assert 'data-state="exposed"' in page(viewer, org, estate.sg)


def test_resource_page_names_the_missing_link(org, viewer):
    estate = exposed_estate(org, route=False)
    html = page(viewer, org, estate.instance)
    assert 'data-testid="exposure" data-state="latent"' in html
    assert (
        '<span data-testid="exposure-missing">route table public-rt of subnet public-a has no route to an internet '
        "gateway</span>"
    ) in html
    assert "exposure-map-link" not in html


def test_no_panel_for_types_without_an_internet_path(org, viewer):
    estate = exposed_estate(org)
    assert 'data-testid="exposure"' not in page(viewer, org, estate.vpc)


def test_map_json_names_the_path_as_map_nodes(org, viewer):
    estate = exposed_estate(org)
    response = viewer.get(reverse("dashboard:resource_exposure", args=[org.slug, estate.instance.pk]))
    assert response.status_code == 200
    data = response.json()
    assert data["state"] == "exposed"
    assert data["resource"] == f"r{estate.instance.pk}"
    assert data["nodes"] == [
        "internet",
        *(f"r{r.pk}" for r in (estate.igw, estate.table, estate.subnet, estate.sg, estate.instance)),
    ]
    assert data["edges"] == [f"exp:r{estate.instance.pk}"]

    latent = exposed_estate(org, route=False, name="Staging")
    data = viewer.get(reverse("dashboard:resource_exposure", args=[org.slug, latent.instance.pk])).json()
    assert data["state"] == "latent" and data["nodes"] == [] and data["edges"] == []
    assert data["summary"].startswith("latent: route table public-rt")


def test_another_organizations_resource_is_a_404(org, viewer, outsider):
    theirs = exposed_estate(outsider.org)
    for name in ("resource", "resource_exposure"):
        assert viewer.get(reverse(f"dashboard:{name}", args=[org.slug, theirs.instance.pk])).status_code == 404


def test_queries_do_not_grow_with_the_estate(org, viewer):
    estate = exposed_estate(org)
    url = reverse("dashboard:resource_exposure", args=[org.slug, estate.instance.pk])
    viewer.get(url)  # warm the session

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert viewer.get(url).json()["state"] == "exposed"
        return len(captured)

    before = queries()
    for i in range(30):  # more instances using the same subnet and group
        extra = ResourceFactory(
            connection=estate.conn,
            resource_type="aws.ec2.instance",
            name=f"w{i}",
            region=REGION,
            config={"state": "running", "public_ip": f"203.0.113.{i + 20}"},
        )
        RelationshipFactory(source=extra, target=estate.subnet, kind="in_subnet")
        RelationshipFactory(source=extra, target=estate.sg, kind="uses_security_group")
    assert queries() == before <= 7
