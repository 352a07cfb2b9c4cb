"""The architecture map in a real browser: a connection with a VPC, subnets, instances (one exposed to the
internet, 45 behind one aggregate node), rendered by Cytoscape; type filter, group collapse, aggregate
expansion, PNG and SVG exports, and a click on a node that opens the resource's page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orgs.roles import Role
from tests.browser.conftest import click_map_node, submit_login
from tests.conftest import PASSWORD
from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    MembershipFactory,
    OrganizationFactory,
    RelationshipFactory,
    ResourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

OPEN_SSH = [
    {"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22, "source": "0.0.0.0/0"},
]
READY = "() => window.cloustralMap && document.getElementById('map-root').dataset.state === 'ready'"


def estate(org):
    conn = CloudConnectionFactory(org=org, name="Production")

    def res(rtype: str, name: str, config: dict | None = None):
        return ResourceFactory(connection=conn, resource_type=rtype, name=name, region="eu-west-1", config=config or {})

    vpc = res("aws.ec2.vpc", "main-vpc")
    public = res("aws.ec2.subnet", "public-a")
    app = res("aws.ec2.subnet", "app-a")
    sg = res("aws.ec2.security_group", "ssh-open", {"rules": OPEN_SSH})
    for subnet in (public, app):
        RelationshipFactory(source=subnet, target=vpc, kind="in_vpc")
    bastion = res("aws.ec2.instance", "bastion", {"public_ip": "203.0.113.10", "state": "running"})
    RelationshipFactory(source=bastion, target=public, kind="in_subnet")
    RelationshipFactory(source=bastion, target=sg, kind="uses_security_group")
    FindingFactory(resource=bastion, severity="high")
    workers = []
    for i in range(45):
        worker = res("aws.ec2.instance", f"worker-{i:02d}", {"state": "running"})
        RelationshipFactory(source=worker, target=app, kind="in_subnet")
        workers.append(worker)
    # An internal load balancer in another VPC forwarding to the bastion: an edge between two groups.
    edge_vpc = res("aws.ec2.vpc", "edge-vpc")
    edge_subnet = res("aws.ec2.subnet", "edge-a")
    RelationshipFactory(source=edge_subnet, target=edge_vpc, kind="in_vpc")
    lb = res("aws.elbv2.load_balancer", "internal-lb", {"scheme": "internal", "type": "network"})
    RelationshipFactory(source=lb, target=edge_subnet, kind="in_subnet")
    target_group = res("aws.elbv2.target_group", "bastions")
    RelationshipFactory(source=lb, target=target_group, kind="forwards_to")
    RelationshipFactory(source=target_group, target=bastion, kind="targets")
    return conn, vpc, bastion, workers


def test_the_map_renders_filters_exports_and_opens_a_resource(page, shot):
    owner = UserFactory(email="olive@example.com", first_name="Olive")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    conn, vpc, bastion, workers = estate(org)

    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto(f"/o/acme-cloud/map/?connection={conn.pk}")
    page.wait_for_function(READY)
    cy = "window.cloustralMap"
    # Region, 2 VPCs, 3 subnets, the bastion with its finding badge, one aggregate of 45, the load
    # balancer, the Internet.
    assert page.evaluate(f"{cy}.nodes().length") == 11
    assert page.evaluate(f"{cy}.edges('.traffic').length") == 1
    assert page.evaluate(f"{cy}.$id('r{bastion.pk}').hasClass('exposed')")
    assert page.evaluate(f"{cy}.$id('exp:r{bastion.pk}').data('label')") == "22"
    assert page.evaluate(f"{cy}.$id('badge:r{bastion.pk}').data('label')") == "1"
    expect(page.get_by_test_id("map-status")).to_contain_text("1 exposed to the internet")
    shot("01-map")

    # The aggregate expands in place when clicked: 45 workers, one by one (with the bastion and the LB: 47).
    aggregate = page.evaluate(f"{cy}.nodes('[kind = \"aggregate\"]').map(n => n.id())")
    assert len(aggregate) == 1
    assert page.evaluate(f"{cy}.$id('{aggregate[0]}').data('label')") == "45 × EC2 instances"
    page.evaluate(f"() => {{ {cy}.$id('{aggregate[0]}').emit('tap'); }}")
    page.wait_for_function(f"() => {cy}.nodes('[kind = \"resource\"]').length === 47")
    assert page.evaluate(f"{cy}.$id('r{workers[0].pk}').nonempty()")
    shot("02-expanded")

    # The type filter hides instances without reloading, and shows them again.
    # (The filter applies on the change event: wait for it rather than read at once.)
    page.get_by_test_id("map-type-aws.ec2.instance").uncheck()
    page.wait_for_function(f"() => !{cy}.$id('r{bastion.pk}').visible()")
    assert "type=" in page.url
    page.get_by_test_id("map-type-aws.ec2.instance").check()
    page.wait_for_function(f"() => {cy}.$id('r{bastion.pk}').visible()")

    # Groups collapse into one box and come back, with the edges between them.
    counts = f"[{cy}.nodes().length, {cy}.edges().length]"
    before = page.evaluate(counts)
    page.get_by_test_id("map-collapse").click()
    assert page.evaluate(f"{cy}.$id('r{vpc.pk}').hasClass('collapsed')")
    assert page.evaluate(f"{cy}.$id('r{bastion.pk}').empty()")
    assert page.evaluate(f"{cy}.$id('collapsed:r{vpc.pk}').data('label')") == "1 exposed"
    shot("03-collapsed")
    page.get_by_test_id("map-expand").click()
    assert page.evaluate(counts) == before
    assert page.evaluate(f"{cy}.$id('r{bastion.pk}').nonempty()")
    assert not page.evaluate(f"{cy}.$id('r{vpc.pk}').hasClass('collapsed')")
    page.get_by_test_id("map-fit").click()

    with page.expect_download() as png:
        page.get_by_test_id("map-export-png").click()
    assert png.value.suggested_filename.endswith(".png")
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as svg:
        page.get_by_test_id("map-export-svg").click()
    assert svg.value.suggested_filename.endswith(".svg")
    content = open(svg.value.path(), encoding="utf-8").read().replace("\u200b", "")  # wrap points in labels
    assert "<svg" in content and "bastion" in content

    # A real click on the bastion opens its resource page.
    click_map_node(page, f"r{bastion.pk}")
    page.wait_for_url(re.compile(rf"/o/acme-cloud/resources/{bastion.pk}/$"))
