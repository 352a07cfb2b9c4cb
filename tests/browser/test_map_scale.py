"""The architecture map at real size, in a real browser: an account with 38 regions and 40 default VPCs, and
one with 2,000 instances, both open on a readable first view (screenshots); empty networks behind one node;
wheel zoom in steps; the search box finds and centres a resource (inside an aggregate too); the canvas
resizes; the SVG export keeps every node shape and badge."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from inventory.models import Relationship, Resource
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

READY = "() => window.cloustralMap && document.getElementById('map-root').dataset.state === 'ready'"
CY = "window.cloustralMap"
OPEN_SSH = [{"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22, "source": "0.0.0.0/0"}]
REGIONS = [
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
    "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "ap-southeast-8", "eu-west-4", "us-west-3", "me-west-1",
]  # fmt: skip


def _owner_and_org():
    owner = UserFactory(email="olive@example.com", first_name="Olive")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    return owner, org


def _bulk_resources(conn, rows: list[dict]) -> list[Resource]:
    objs = [
        Resource(
            org=conn.org,
            connection=conn,
            provider="aws",
            native_id=f"arn:aws:ec2:{r['region']}:123456789012:{r['type']}/{r['name']}",
            resource_type=r["type"],
            region=r["region"],
            name=r["name"],
            tags={},
            config=r.get("config", {}),
        )
        for r in rows
    ]
    Resource.objects.bulk_create(objs, batch_size=1000)
    by_native = dict(Resource.objects.for_org(conn.org).values_list("native_id", "pk"))
    for obj in objs:
        obj.pk = by_native[obj.native_id]
    return objs


def _bulk_links(conn, pairs: list[tuple[Resource, Resource, str]]) -> None:
    Relationship.objects.bulk_create(
        [Relationship(org=conn.org, connection=conn, source=s, target=t, kind=k) for s, t, k in pairs],
        batch_size=2000,
    )


def _default_vpcs(conn) -> None:
    """A default VPC with three subnets in each of 38 regions, two regions with a second one: 40 empty VPCs."""
    rows, links = [], []
    for i, region in enumerate(REGIONS):
        for n in range(2 if i < 2 else 1):
            vpc = {
                "type": "aws.ec2.vpc",
                "region": region,
                "name": f"default-{region}-{n}",
                "config": {"is_default": True},
            }
            rows.append(vpc)
            for az in "abc":
                rows.append({"type": "aws.ec2.subnet", "region": region, "name": f"default-{region}-{n}-{az}"})
    objs = _bulk_resources(conn, rows)
    vpcs = {}
    for obj in objs:
        if obj.resource_type == "aws.ec2.vpc":
            vpcs[obj.name] = obj
        else:
            links.append((obj, vpcs[obj.name.rsplit("-", 1)[0]], "in_vpc"))
    _bulk_links(conn, links)


def _app_network(conn, region="eu-west-1"):
    """The network that matters: an app VPC with a public bastion (SSH open to the world, a finding)."""
    vpc = ResourceFactory(connection=conn, resource_type="aws.ec2.vpc", name="app-vpc", region=region)
    subnet = ResourceFactory(connection=conn, resource_type="aws.ec2.subnet", name="app-public-a", region=region)
    RelationshipFactory(source=subnet, target=vpc, kind="in_vpc")
    sg = ResourceFactory(connection=conn, resource_type="aws.ec2.security_group", name="ssh", region=region,
                         config={"rules": OPEN_SSH})  # fmt: skip
    bastion = ResourceFactory(connection=conn, resource_type="aws.ec2.instance", name="bastion", region=region,
                              config={"public_ip": "203.0.113.10", "state": "running"})  # fmt: skip
    RelationshipFactory(source=bastion, target=subnet, kind="in_subnet")
    RelationshipFactory(source=bastion, target=sg, kind="uses_security_group")
    FindingFactory(resource=bastion, severity="high")
    return vpc, bastion


def _label_px(page, node_id: str) -> float:
    """The on-screen size of a node's label: font size × zoom."""
    return page.evaluate(f"parseFloat({CY}.$id('{node_id}').style('font-size')) * {CY}.zoom()")


def _on_screen(page, node_id: str) -> bool:
    return page.evaluate(
        f"""() => {{
            const p = {CY}.$id('{node_id}').renderedPosition();
            return p.x > 0 && p.y > 0 && p.x < {CY}.width() && p.y < {CY}.height();
        }}"""
    )


def test_38_regions_with_40_default_vpcs_open_on_the_networks_that_matter(page, shot):
    owner, org = _owner_and_org()
    conn = CloudConnectionFactory(org=org, name="Production", enabled_regions=REGIONS)
    _default_vpcs(conn)
    vpc, bastion = _app_network(conn)
    page.set_viewport_size({"width": 1440, "height": 1000})
    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto(f"/o/acme-cloud/map/?connection={conn.pk}")
    page.wait_for_function(READY)
    # One node stands for the 40 empty default VPCs; only the app's region and network are drawn.
    assert page.evaluate(f"{CY}.$id('empty-networks').data('label')") == "40 empty networks"
    assert page.evaluate(f"{CY}.nodes('[kind = \"network\"]').length") == 1
    assert page.evaluate(f"{CY}.nodes('[kind = \"region\"]').length") == 1
    # Readable on the first view: the bastion and the empty-networks node on screen, labels ≥ 9px.
    assert _on_screen(page, f"r{bastion.pk}") and _on_screen(page, "empty-networks")
    assert _label_px(page, f"r{bastion.pk}") >= 9
    shot("01-first-view")

    # Asked for, the empty networks are drawn (and the toggle says how to hide them again).
    page.get_by_test_id("map-empty-toggle").click()
    page.wait_for_function(READY)
    assert "empty=show" in page.url
    assert page.evaluate(f"{CY}.nodes('[kind = \"network\"]').length") == 41
    assert page.evaluate(f"{CY}.$id('empty-networks').empty()")
    expect(page.get_by_test_id("map-empty-toggle")).to_have_text("Hide empty networks")
    shot("02-empty-networks-shown")


def test_2000_instances_open_readable_and_the_search_centres_one(page, shot):
    owner, org = _owner_and_org()
    conn = CloudConnectionFactory(org=org, name="Scale")
    rows = []
    for v in range(4):
        region = ["eu-west-1", "us-east-1"][v % 2]
        rows.append({"type": "aws.ec2.vpc", "region": region, "name": f"vpc-{v}"})
        for s in range(5):
            rows.append({"type": "aws.ec2.subnet", "region": region, "name": f"vpc-{v}-subnet-{s}"})
            for i in range(100):
                rows.append({"type": "aws.ec2.instance", "region": region, "name": f"web-{v}-{s}-{i:03d}",
                             "config": {"state": "running"}})  # fmt: skip
    objs = _bulk_resources(conn, rows)
    by_name = {o.name: o for o in objs}
    links = []
    for obj in objs:
        if obj.resource_type == "aws.ec2.subnet":
            links.append((obj, by_name[obj.name.split("-subnet-")[0]], "in_vpc"))
        elif obj.resource_type == "aws.ec2.instance":
            _, v, s, _i = obj.name.split("-")
            links.append((obj, by_name[f"vpc-{v}-subnet-{s}"], "in_subnet"))
    _bulk_links(conn, links)
    assert Resource.objects.for_org(org).filter(resource_type="aws.ec2.instance").count() == 2000
    FindingFactory(resource=by_name["web-2-3-042"], severity="critical")

    page.set_viewport_size({"width": 1440, "height": 1000})
    messages = []
    page.on("console", lambda msg: messages.append(msg.text))
    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto(f"/o/acme-cloud/map/?connection={conn.pk}")
    page.wait_for_function(READY)
    expect(page.get_by_test_id("map-status")).to_contain_text("2,000 resources")
    assert page.evaluate(f"{CY}.nodes().length") <= 500
    # Readable first view: zoomed no further out than the readable floor, labels ≥ 9px on screen.
    assert page.evaluate(f"{CY}.zoom()") >= 0.79
    leaf = page.evaluate(f'{CY}.nodes(\'[kind = "aggregate"], [kind = "resource"]\').filter(n => n.visible())[0].id()')
    assert _label_px(page, leaf) >= 9
    shot("01-first-view")

    # Each wheel notch is one step of 1.25×.
    page.mouse.move(700, 600)
    before = page.evaluate(f"{CY}.zoom()")
    page.get_by_test_id("map-canvas").hover()
    page.mouse.wheel(0, -100)
    page.wait_for_function(f"() => {CY}.zoom() > {before} * 1.2")
    assert page.evaluate(f"{CY}.zoom()") == pytest.approx(before * 1.25, rel=0.01)
    page.mouse.wheel(0, 100)
    page.wait_for_function(f"() => Math.abs({CY}.zoom() - {before}) < 0.01")

    # The search box finds a resource inside an aggregate: expands it and centres the resource.
    page.get_by_test_id("map-search").fill("web-1-4-077")
    page.get_by_test_id("map-search").press("Enter")
    page.wait_for_function(f"() => {CY}.nodes('.found').length === 1")
    found = page.evaluate(f"{CY}.nodes('.found')[0].data('name')")
    assert found == "web-1-4-077"
    node_id = page.evaluate(f"{CY}.nodes('.found')[0].id()")
    page.wait_for_timeout(400)  # the centring animation
    position = page.evaluate(f"{CY}.$id('{node_id}').renderedPosition()")
    width, height = page.evaluate(f"[{CY}.width(), {CY}.height()]")
    assert abs(position["x"] - width / 2) < 40 and abs(position["y"] - height / 2) < 40
    expect(page.get_by_test_id("map-details")).to_contain_text("web-1-4-077")
    shot("02-search")

    # The canvas resizes and Cytoscape follows.
    page.evaluate("document.getElementById('map-canvas').style.height = '900px'")
    page.wait_for_function(f"() => {CY}.height() === 900")
    assert not [m for m in messages if "Attempted to apply path command" in m]


def test_the_svg_export_keeps_every_shape_and_badge(page):
    owner, org = _owner_and_org()
    conn = CloudConnectionFactory(org=org, name="Shapes")
    vpc = ResourceFactory(connection=conn, resource_type="aws.ec2.vpc", name="shapes-vpc")
    subnet = ResourceFactory(connection=conn, resource_type="aws.ec2.subnet", name="shapes-a")
    RelationshipFactory(source=subnet, target=vpc, kind="in_vpc")
    kinds = {
        "aws.elbv2.load_balancer": "lb-diamond",
        "aws.lambda.function": "fn-hexagon",
        "aws.ec2.nat_gateway": "nat-octagon",
        "aws.rds.db_instance": "db-barrel",
        "aws.ec2.instance": "vm-rect",
    }
    for rtype, name in kinds.items():
        res = ResourceFactory(connection=conn, resource_type=rtype, name=name)
        RelationshipFactory(source=res, target=subnet, kind="in_subnet")
        FindingFactory(resource=res, severity="medium", rule_id=f"r-{name}")
    messages = []
    page.on("console", lambda msg: messages.append(msg.text))
    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto(f"/o/acme-cloud/map/?connection={conn.pk}")
    page.wait_for_function(READY)
    svg = page.evaluate("window.cloustralMapSvg()").replace("\u200b", "")
    assert not [m for m in messages if "Attempted to apply path command" in m], messages
    for name in kinds.values():
        assert name in svg
    # Every leaf and badge is drawn as a filled shape: one path or ellipse per node at least.
    shapes = len(re.findall(r"<path|<ellipse|<circle|<rect|<polygon", svg))
    nodes = page.evaluate(f"{CY}.nodes().length")
    assert shapes >= nodes, (shapes, nodes)
    # The round shapes are back on the map after the export.
    assert page.evaluate(f"{CY}.nodes('[kind = \"resource\"].balancer')[0].style('shape')") == "round-diamond"


def test_the_whole_organizations_overview_opens_a_region_when_clicked(page, monkeypatch):
    """Past FIRST_VIEW_MAX resources the whole organization's map is an overview of counts per region and
    type; a click on one of its aggregates opens that connection and region, selectors included."""
    from dashboard import map_cache

    monkeypatch.setattr(map_cache, "FIRST_VIEW_MAX", 20)
    owner, org = _owner_and_org()
    prod = CloudConnectionFactory(org=org, name="Production")
    stage = CloudConnectionFactory(org=org, name="Staging")
    _bulk_resources(prod, [{"type": "aws.ec2.instance", "region": r, "name": f"web-{r}-{i}"}
                           for r in ("eu-west-1", "us-east-1") for i in range(15)])  # fmt: skip
    _bulk_resources(stage, [{"type": "aws.ec2.instance", "region": "eu-west-1", "name": f"s-{i}"} for i in range(5)])

    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto("/o/acme-cloud/map/?connection=&region=")
    page.wait_for_function(READY)
    regions = page.evaluate(f"{CY}.nodes('[kind = \"region\"]').map(n => n.id())")
    assert sorted(regions) == sorted(
        [f"region:{prod.pk}:eu-west-1", f"region:{prod.pk}:us-east-1", f"region:{stage.pk}:eu-west-1"]
    )
    assert page.evaluate(f"{CY}.nodes('[kind = \"resource\"]').length") == 0  # counts, not resources
    aggregate = f"agg:region:{prod.pk}:us-east-1:aws.ec2.instance"
    assert page.evaluate(f"{CY}.$id('{aggregate}').data('label')") == "15 × EC2 instances"
    click_map_node(page, aggregate)
    page.wait_for_url(re.compile(rf"connection={prod.pk}&region=us-east-1"))
    page.wait_for_function(READY)
    expect(page.locator("select[name=region]")).to_have_value("us-east-1")
    assert page.evaluate(f"{CY}.nodes('[kind = \"region\"]').map(n => n.data('region'))") == ["us-east-1"]
