"""dashboard.topology.build_topology: containment from the relationships the collectors emit, exposure
(public AND open to the world), findings on nodes, aggregation, the node limit, bounded queries; and the
same on the real shapes: the demo AWS account synced from moto and the fake Azure's demo estate."""

from __future__ import annotations

import pytest

from dashboard.topology import (
    AGGREGATE_OVER,
    INTERNET_ID,
    TopologyError,
    build_topology,
    format_ports,
)
from demo import aws as demo
from inventory import ratelimit
from inventory.models import Relationship, Resource
from tests.factories import CloudConnectionFactory, FindingFactory, RelationshipFactory, ResourceFactory
from tests.inventory import sync_helpers as helpers

aws, azure = helpers.aws, helpers.azure

REGION = "eu-west-1"
SSH_WORLD = {"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22, "source": "0.0.0.0/0"}
SSH_OFFICE = {"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22, "source": "10.0.0.0/8"}
EGRESS_ALL = {"direction": "egress", "protocol": "all", "from_port": None, "to_port": None, "source": "0.0.0.0/0"}


class Estate:
    """Factory resources in one connection and region, wired like the collectors wire them."""

    def __init__(self, org, provider: str = "aws", region: str = REGION) -> None:
        self.conn = CloudConnectionFactory(org=org, provider=provider)
        self.region = region

    def add(self, rtype: str, name: str, config: dict | None = None, region: str | None = None) -> Resource:
        return ResourceFactory(
            connection=self.conn, resource_type=rtype, name=name, region=region or self.region, config=config or {}
        )

    def rel(self, source: Resource, kind: str, *targets: Resource) -> None:
        for target in targets:
            RelationshipFactory(source=source, target=target, kind=kind)

    def vpc(self, name: str = "main") -> tuple[Resource, Resource]:
        vpc = self.add("aws.ec2.vpc", name)
        subnet = self.add("aws.ec2.subnet", f"{name}-a", {"availability_zone": f"{self.region}a"})
        self.rel(subnet, "in_vpc", vpc)
        return vpc, subnet

    def sg(self, name: str, *rules: dict) -> Resource:
        return self.add("aws.ec2.security_group", name, {"rules": [*rules, EGRESS_ALL]})

    def instance(self, name: str, subnet: Resource, vpc: Resource | None = None, *groups: Resource, **config):
        inst = self.add("aws.ec2.instance", name, {"state": "running", **config})
        self.rel(inst, "in_subnet", subnet)
        if vpc is not None:
            self.rel(inst, "in_vpc", vpc)
        self.rel(inst, "uses_security_group", *groups)
        return inst


def node(topology, resource_or_id) -> dict:
    nid = resource_or_id if isinstance(resource_or_id, str) else f"r{resource_or_id.pk}"
    found = [n["data"] for n in topology.nodes if n["data"]["id"] == nid]
    assert found, f"no node {nid}"
    return found[0]


def edges(topology, classes: str) -> dict[str, dict]:
    return {e["data"]["target"]: e["data"] for e in topology.edges if e["classes"] == classes}


# --- Containment -------------------------------------------------------------------------------------


def test_region_vpc_subnet_instance_containment_from_the_collectors_relationships(org):
    estate = Estate(org)
    vpc, subnet = estate.vpc()
    web = estate.instance("web-1", subnet, vpc)
    nat = estate.add("aws.ec2.nat_gateway", "nat")
    estate.rel(nat, "in_subnet", subnet)
    igw = estate.add("aws.ec2.internet_gateway", "igw")
    estate.rel(igw, "attached_to", vpc)
    fn = estate.add("aws.lambda.function", "no-vpc-fn")  # no network placement
    estate.add("aws.iam.role", "global-role", region="global")  # global services are not on the map
    estate.add("aws.ec2.volume", "vol")  # not a map type

    topology = build_topology(org, connection=estate.conn)

    region_id = f"region:{estate.conn.pk}:{REGION}"
    assert node(topology, region_id)["kind"] == "region"
    assert node(topology, vpc)["parent"] == region_id
    assert node(topology, vpc)["label"] == "VPC main"
    assert node(topology, subnet)["parent"] == f"r{vpc.pk}"
    assert node(topology, web)["parent"] == f"r{subnet.pk}"
    assert node(topology, nat)["parent"] == f"r{subnet.pk}"
    assert node(topology, igw)["parent"] == f"r{vpc.pk}"
    services = f"svc:{estate.conn.pk}:{REGION}"
    assert node(topology, fn)["parent"] == services
    assert node(topology, services)["label"] == "Regional services"
    assert node(topology, services)["parent"] == region_id
    drawn = {n["data"].get("resource_id") for n in topology.nodes} - {None}
    assert drawn == {vpc.pk, subnet.pk, web.pk, nat.pk, igw.pk, fn.pk}
    # Leaves carry preset positions and their resource page's URL; groups are sized by Cytoscape.
    web_node = next(n for n in topology.nodes if n["data"]["id"] == f"r{web.pk}")
    assert set(web_node["position"]) == {"x", "y"}
    assert web_node["data"]["url"] == f"/o/{org.slug}/resources/{web.pk}/"
    assert "position" not in next(n for n in topology.nodes if n["data"]["id"] == f"r{vpc.pk}")
    assert topology.total == topology.shown == 4  # instance, NAT, IGW, function


def test_multi_subnet_resources_sit_in_their_vpc_and_an_rds_instance_in_its_zones_subnet(org):
    estate = Estate(org)
    vpc, subnet_a = estate.vpc()
    subnet_b = estate.add("aws.ec2.subnet", "main-b", {"availability_zone": f"{REGION}b"})
    estate.rel(subnet_b, "in_vpc", vpc)
    alb = estate.add("aws.elbv2.load_balancer", "alb", {"scheme": "internal", "type": "application"})
    estate.rel(alb, "in_subnet", subnet_a, subnet_b)
    estate.rel(alb, "in_vpc", vpc)
    db = estate.add("aws.rds.db_instance", "db", {"availability_zone": f"{REGION}b"})
    estate.rel(db, "in_subnet", subnet_a, subnet_b)  # the DB subnet group's subnets
    cluster = estate.add("aws.rds.db_cluster", "aurora")
    estate.rel(db, "member_of", cluster)
    fn = estate.add("aws.lambda.function", "vpc-fn")
    estate.rel(fn, "in_subnet", subnet_a, subnet_b)

    topology = build_topology(org, connection=estate.conn)

    assert node(topology, alb)["parent"] == f"r{vpc.pk}"
    assert node(topology, alb)["label"] == "alb\nALB"
    assert node(topology, db)["parent"] == f"r{subnet_b.pk}"
    assert node(topology, cluster)["parent"] == f"r{vpc.pk}"
    assert node(topology, fn)["parent"] == f"r{vpc.pk}"


def test_azure_vm_sits_in_its_nics_subnet_in_its_vnet(org):
    estate = Estate(org, provider="azure", region="westeurope")
    vnet = estate.add("azure.network.vnet", "vnet-prod")
    subnet = estate.add("azure.network.subnet", "web")
    estate.rel(subnet, "in_vnet", vnet)
    vm = estate.add("azure.compute.vm", "vm-web", {"power_state": "deallocated"})
    nic = estate.add("azure.network.network_interface", "nic-web")
    estate.rel(nic, "attached_to", vm)
    estate.rel(nic, "in_subnet", subnet)
    sql = estate.add("azure.sql.server", "sql-prod", {"public_network_access": "Disabled"})

    topology = build_topology(org, connection=estate.conn)

    assert node(topology, vm)["parent"] == f"r{subnet.pk}"
    assert node(topology, subnet)["parent"] == f"r{vnet.pk}"
    assert node(topology, vnet)["label"] == "VNet vnet-prod"
    assert node(topology, vnet)["parent"] == f"region:{estate.conn.pk}:westeurope"
    assert node(topology, sql)["parent"] == f"svc:{estate.conn.pk}:westeurope"
    assert "stopped" in next(n["classes"] for n in topology.nodes if n["data"]["id"] == f"r{vm.pk}")
    assert f"r{nic.pk}" not in {n["data"]["id"] for n in topology.nodes}  # NICs place VMs, not drawn


# --- Exposure -----------------------------------------------------------------------------------------


def test_exposed_only_when_public_and_a_security_group_is_open_to_the_world(org):
    estate = Estate(org)
    vpc, subnet = estate.vpc()
    world = estate.sg("ssh-world", SSH_WORLD)
    office = estate.sg("ssh-office", SSH_OFFICE)
    exposed = estate.instance("exposed", subnet, vpc, world, public_ip="203.0.113.5")
    restricted = estate.instance("restricted", subnet, vpc, office, public_ip="203.0.113.6")
    private = estate.instance("private", subnet, vpc, world, public_ip=None)
    # A secondary interface with its own public address exposes its instance too.
    eni_host = estate.instance("eni-host", subnet, vpc, world)
    eni = estate.add("aws.ec2.network_interface", "eni", {"public_ip": "203.0.113.7"})
    estate.rel(eni, "attached_to", eni_host)
    estate.add("aws.ec2.network_interface", "eni-private", {"public_ip": None})

    topology = build_topology(org, connection=estate.conn)

    exposure = edges(topology, "exposure")
    assert set(exposure) == {f"r{exposed.pk}", f"r{eni_host.pk}"}
    assert exposure[f"r{exposed.pk}"] == {
        "id": f"exp:r{exposed.pk}",
        "source": INTERNET_ID,
        "target": f"r{exposed.pk}",
        "label": "22",
    }
    assert node(topology, exposed)["exposed"] is True
    assert node(topology, exposed)["ports"] == "22"
    assert "exposed" in next(n["classes"] for n in topology.nodes if n["data"]["id"] == f"r{exposed.pk}")
    for safe in (restricted, private):
        assert "exposed" not in node(topology, safe)
    assert node(topology, INTERNET_ID)["kind"] == "internet"
    assert topology.stats["exposed"] == 2


def test_no_internet_node_when_nothing_is_exposed(org):
    estate = Estate(org)
    vpc, subnet = estate.vpc()
    estate.instance("restricted", subnet, vpc, estate.sg("office", SSH_OFFICE), public_ip="203.0.113.6")
    topology = build_topology(org, connection=estate.conn)
    assert not edges(topology, "exposure")
    assert INTERNET_ID not in {n["data"]["id"] for n in topology.nodes}


def test_databases_and_load_balancers_exposure(org):
    estate = Estate(org)
    vpc, subnet = estate.vpc()
    web = estate.sg("web", *[{**SSH_WORLD, "from_port": p, "to_port": p} for p in (80, 443, 5432)])
    public_db = estate.add(
        "aws.rds.db_instance", "public-db", {"publicly_accessible": True, "endpoint": {"port": 5432}}
    )
    private_db = estate.add("aws.rds.db_instance", "private-db", {"publicly_accessible": False})
    alb = estate.add(
        "aws.elbv2.load_balancer",
        "alb",
        {"scheme": "internet-facing", "type": "application", "listeners": [{"port": 443, "protocol": "HTTPS"}]},
    )
    internal = estate.add("aws.elbv2.load_balancer", "internal", {"scheme": "internal", "type": "application"})
    nlb = estate.add(
        "aws.elbv2.load_balancer",
        "nlb",
        {"scheme": "internet-facing", "type": "network", "listeners": [{"port": 8883, "protocol": "TLS"}]},
    )
    for resource in (public_db, private_db, alb, internal, nlb):
        estate.rel(resource, "in_subnet", subnet)
    for resource in (public_db, private_db, alb, internal):
        estate.rel(resource, "uses_security_group", web)

    exposure = edges(build_topology(org, connection=estate.conn), "exposure")

    assert exposure[f"r{public_db.pk}"]["label"] == "5432"  # the database's port, not every open one
    assert exposure[f"r{alb.pk}"]["label"] == "443"  # its listener's
    assert exposure[f"r{nlb.pk}"]["label"] == "8883"  # no security group: the listener is the exposure
    assert f"r{private_db.pk}" not in exposure and f"r{internal.pk}" not in exposure


def azure_vm_behind(estate: Estate, nic_rules: list[dict] | None, subnet_rules: list[dict] | None, sku="Standard"):
    vnet = estate.add("azure.network.vnet", "vnet")
    subnet = estate.add("azure.network.subnet", "web")
    estate.rel(subnet, "in_vnet", vnet)
    vm = estate.add("azure.compute.vm", "vm")
    nic = estate.add("azure.network.network_interface", "nic")
    estate.rel(nic, "attached_to", vm)
    estate.rel(nic, "in_subnet", subnet)
    estate.rel(nic, "uses_public_ip", estate.add("azure.network.public_ip", "pip", {"sku": sku}))
    if nic_rules is not None:
        estate.rel(nic, "uses_nsg", estate.add("azure.network.nsg", "nsg-nic", {"rules": nic_rules}))
    if subnet_rules is not None:
        estate.rel(subnet, "uses_nsg", estate.add("azure.network.nsg", "nsg-subnet", {"rules": subnet_rules}))
    return vm


def nsg_rule(port: int | None, source: str = "*", access: str = "allow", priority: int = 100) -> dict:
    return {
        "name": f"r{port}",
        "direction": "ingress",
        "access": access,
        "priority": priority,
        "protocol": "tcp",
        "from_port": port,
        "to_port": port,
        "source": source,
    }


@pytest.mark.parametrize(
    ("nic_rules", "subnet_rules", "sku", "ports"),
    [
        ([nsg_rule(22)], None, "Standard", "22"),
        ([nsg_rule(22, source="Internet")], [nsg_rule(22), nsg_rule(443)], "Standard", "22"),  # both layers
        ([nsg_rule(22)], [nsg_rule(443)], "Standard", None),  # the subnet's NSG blocks what the NIC's allows
        ([nsg_rule(22, source="10.0.0.0/8")], None, "Standard", None),
        ([nsg_rule(22, priority=200), nsg_rule(None, access="deny", priority=100)], None, "Standard", None),
        (None, None, "Basic", "all ports"),  # Basic public IPs are open without an NSG
        (None, None, "Standard", None),  # Standard ones are closed
    ],
)
def test_azure_vm_exposure_through_its_nic_and_subnet_nsgs(org, nic_rules, subnet_rules, sku, ports):
    estate = Estate(org, provider="azure", region="westeurope")
    vm = azure_vm_behind(estate, nic_rules, subnet_rules, sku)
    assert node(build_topology(org), vm).get("ports") == ports


def test_format_ports():
    assert format_ports([("tcp", 443, 443), ("tcp", 22, 22), ("tcp", 22, 22)]) == "22, 443"
    assert format_ports([("udp", 53, 53), ("tcp", 8000, 8080)]) == "53/udp, 8000-8080"
    assert format_ports([("tcp", None, None)]) == "all tcp"
    assert format_ports([("all", None, None), ("tcp", 22, 22)]) == "all ports"
    assert format_ports([("icmp", None, None)]) == "icmp"


# --- Findings --------------------------------------------------------------------------------------------


def test_nodes_carry_their_open_findings_count_and_highest_severity(org):
    estate = Estate(org)
    vpc, subnet = estate.vpc()
    web = estate.instance("web", subnet, vpc)
    clean = estate.instance("clean", subnet, vpc)
    FindingFactory(resource=web, severity="medium", rule_id="a")
    FindingFactory(resource=web, severity="critical", rule_id="b")
    FindingFactory(resource=web, severity="high", rule_id="c")
    FindingFactory(resource=web, severity="critical", rule_id="d", status="resolved")
    FindingFactory(resource=clean, severity="critical", rule_id="e", status="suppressed")
    FindingFactory(resource=vpc, severity="low", rule_id="f")

    topology = build_topology(org, connection=estate.conn)

    assert (node(topology, web)["findings"], node(topology, web)["severity"]) == (3, "critical")
    assert "findings" not in node(topology, clean)
    assert (node(topology, vpc)["findings"], node(topology, vpc)["severity"]) == (1, "low")
    badge = node(topology, f"badge:r{web.pk}")
    assert (badge["label"], badge["severity"], badge["owner"], badge["parent"]) == (
        "3",
        "critical",
        f"r{web.pk}",
        f"r{subnet.pk}",
    )
    assert f"badge:r{clean.pk}" not in {n["data"]["id"] for n in topology.nodes}


# --- Scale -------------------------------------------------------------------------------------------------


def test_a_crowded_subnet_becomes_one_aggregate_node_that_can_be_expanded(org):
    estate = Estate(org)
    vpc, subnet = estate.vpc()
    world = estate.sg("world", SSH_WORLD)
    instances = [estate.instance(f"worker-{i:03d}", subnet, vpc) for i in range(100)]
    exposed = estate.instance("zz-exposed", subnet, vpc, world, public_ip="203.0.113.9")
    FindingFactory(resource=instances[0], severity="high", rule_id="x")

    topology = build_topology(org, connection=estate.conn)

    aggregate_id = f"agg:r{subnet.pk}:aws.ec2.instance"
    aggregate = node(topology, aggregate_id)
    assert aggregate["label"] == "100 × EC2 instances"
    assert aggregate["kind"] == "aggregate"
    assert aggregate["parent"] == f"r{subnet.pk}"
    assert sorted(aggregate["members"]) == sorted(i.pk for i in instances)
    assert (aggregate["findings"], aggregate["severity"]) == (1, "high")
    assert node(topology, exposed)["exposed"] is True  # exposed ones stay on their own
    instance_nodes = [n["data"]["kind"] for n in topology.nodes if n["data"].get("rtype") == "aws.ec2.instance"]
    assert sorted(instance_nodes) == ["aggregate", "badge", "resource"]  # the aggregate has a findings badge
    assert topology.shown == topology.total == 101
    assert topology.stats["nodes_before_aggregation"] > topology.stats["nodes"]

    expanded = build_topology(org, connection=estate.conn, expand=[aggregate_id])
    assert aggregate_id not in {n["data"]["id"] for n in expanded.nodes}
    assert {f"r{i.pk}" for i in instances} <= {n["data"]["id"] for n in expanded.nodes}


def test_aggregation_threshold(org):
    estate = Estate(org)
    vpc, subnet = estate.vpc()
    for i in range(AGGREGATE_OVER):
        estate.instance(f"i-{i}", subnet, vpc)
    topology = build_topology(org, connection=estate.conn)
    assert topology.stats["aggregates"] == 0  # exactly the threshold: still one by one


def test_the_node_limit_cuts_the_map_with_a_message(org):
    estate = Estate(org)
    vpc = estate.add("aws.ec2.vpc", "main")
    for s in range(10):
        subnet = estate.add("aws.ec2.subnet", f"subnet-{s}")
        estate.rel(subnet, "in_vpc", vpc)
        for i in range(3):
            estate.instance(f"i-{s}-{i}", subnet, vpc)

    topology = build_topology(org, connection=estate.conn, limit=12)

    assert topology.truncated
    assert topology.total == 30
    assert 0 < topology.shown < 30
    assert topology.message == (
        f"Showing {topology.shown} of 30 resources: narrow the map by connection, region or VPC/VNet."
    )
    assert topology.stats["nodes"] <= 12
    ids = {n["data"]["id"] for n in topology.nodes}
    for n in topology.nodes:  # every parent of a shown node is shown
        assert n["data"].get("parent") in ids | {None}

    assert not build_topology(org, connection=estate.conn).truncated


def test_bounded_queries_on_2000_resources(org, django_assert_max_num_queries):
    estate = Estate(org)
    conn = estate.conn
    make = Resource.objects.for_org(org)

    def bulk(rtype: str, names: list[str], config=None) -> list[Resource]:
        make.bulk_create(
            Resource(
                org=org,
                connection=conn,
                provider="aws",
                resource_type=rtype,
                native_id=f"arn:{rtype}:{name}",
                name=name,
                region=REGION,
                config=config or {},
            )
            for name in names
        )
        return list(make.filter(resource_type=rtype).order_by("id"))

    vpcs = bulk("aws.ec2.vpc", [f"vpc-{v}" for v in range(4)])
    subnets = bulk("aws.ec2.subnet", [f"subnet-{s}" for s in range(40)])
    sgs = bulk("aws.ec2.security_group", [f"sg-{g}" for g in range(20)], {"rules": [SSH_WORLD]})
    instances = bulk("aws.ec2.instance", [f"i-{i}" for i in range(1936)], {"public_ip": "203.0.113.1"})
    rels = [
        Relationship(org=org, connection=conn, source=s, target=vpcs[i % 4], kind="in_vpc")
        for i, s in enumerate(subnets)
    ]
    for i, inst in enumerate(instances):
        rels.append(Relationship(org=org, connection=conn, source=inst, target=subnets[i % 40], kind="in_subnet"))
        rels.append(Relationship(org=org, connection=conn, source=inst, target=vpcs[i % 40 % 4], kind="in_vpc"))
        if i % 7 == 0:
            rels.append(
                Relationship(org=org, connection=conn, source=inst, target=sgs[i % 20], kind="uses_security_group")
            )
    Relationship.objects.for_org(org).bulk_create(rels)
    for inst in instances[:50]:
        FindingFactory(resource=inst, severity="medium")

    with django_assert_max_num_queries(4):
        topology = build_topology(org, connection=conn)

    assert topology.total == 1936
    assert topology.stats["nodes"] < 400  # 40 subnets of ~48 instances: aggregated
    assert topology.stats["exposed"] == len(range(0, 1936, 7))
    assert topology.stats["aggregates"] == 40


# --- Scope and parameters ---------------------------------------------------------------------------------


def test_network_and_type_filters(org):
    estate = Estate(org)
    vpc_a, subnet_a = estate.vpc("a")
    vpc_b, subnet_b = estate.vpc("b")
    in_a = estate.instance("in-a", subnet_a, vpc_a)
    in_b = estate.instance("in-b", subnet_b, vpc_b)
    db_a = estate.add("aws.rds.db_instance", "db-a")
    estate.rel(db_a, "in_subnet", subnet_a)
    other = Estate(org, region="us-east-1")
    other_vpc, other_subnet = other.vpc("far")

    only_a = build_topology(org, network=vpc_a.pk)
    ids = {n["data"]["id"] for n in only_a.nodes}
    assert {f"r{vpc_a.pk}", f"r{subnet_a.pk}", f"r{in_a.pk}", f"r{db_a.pk}"} <= ids
    assert not {f"r{vpc_b.pk}", f"r{in_b.pk}", f"r{other_vpc.pk}"} & ids

    databases = build_topology(org, connection=estate.conn, types=["aws.rds.db_instance"])
    ids = {n["data"]["id"] for n in databases.nodes}
    assert f"r{db_a.pk}" in ids and f"r{in_a.pk}" not in ids
    assert databases.total == 1
    counts = {t["type"]: (t["count"], t["shown"]) for t in databases.types}
    assert counts["aws.ec2.instance"] == (2, False)
    assert counts["aws.rds.db_instance"] == (1, True)

    by_region = build_topology(org, region="us-east-1")
    assert {n["data"]["id"] for n in by_region.nodes} >= {f"r{other_vpc.pk}", f"r{other_subnet.pk}"}
    assert f"r{vpc_a.pk}" not in {n["data"]["id"] for n in by_region.nodes}
    # Two connections on one map: regions say whose they are.
    both = build_topology(org)
    labels = {n["data"]["label"] for n in both.nodes if n["data"]["kind"] == "region"}
    assert labels == {f"{REGION} · {estate.conn.name}", f"us-east-1 · {other.conn.name}"}


def test_parameters_it_cannot_use(org, outsider):
    estate = Estate(org)
    vpc, _ = estate.vpc()
    with pytest.raises(TopologyError, match="Unknown resource type"):
        build_topology(org, types=["aws.ec2.nope"])
    with pytest.raises(TopologyError, match="Unknown region"):
        build_topology(org, region="Robert'); DROP TABLE")
    with pytest.raises(TopologyError, match="No such VPC"):
        build_topology(org, network=estate.add("aws.ec2.instance", "i").pk)
    foreign = Estate(outsider.org).add("aws.ec2.vpc", "theirs")
    with pytest.raises(TopologyError, match="No such VPC"):
        build_topology(org, network=foreign.pk)
    with pytest.raises(TopologyError, match="another region"):
        build_topology(org, network=vpc.pk, region="us-east-1")
    assert build_topology(org, connection=CloudConnectionFactory(org=org)).nodes == []


# --- The real shapes -----------------------------------------------------------------------------------------


@pytest.fixture
def _full_speed(settings, monkeypatch):
    settings.SYNC_RATE_FRACTION = 1.0
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})


def by_label(topology) -> dict[str, dict]:
    return {n["data"]["label"].split("\n")[0]: n["data"] for n in topology.nodes}


@pytest.mark.usefixtures("_full_speed")
def test_the_demo_aws_account_synced_from_moto(org, owner, aws):
    demo.seed_aws_account(allow_real_endpoint=True)
    connection = demo.ensure_demo_connection(org, owner)
    demo.sync_demo_connection(connection)

    topology = build_topology(org, connection=connection, region="us-east-1")
    nodes = by_label(topology)
    vpc, public_a, private_a = nodes["VPC demo-vpc"], nodes["Subnet demo-public-a"], nodes["Subnet demo-private-a"]
    assert public_a["parent"] == private_a["parent"] == vpc["id"]
    assert nodes["demo-bastion"]["parent"] == public_a["id"]
    assert nodes["demo-nat"]["parent"] == public_a["id"]
    assert nodes["demo-app-1"]["parent"] == private_a["id"]
    assert nodes["demo-postgres"]["parent"] in (private_a["id"], nodes["Subnet demo-private-b"]["id"])
    assert nodes["demo-alb"]["parent"] == vpc["id"]  # spans the public subnets
    assert nodes["demo-thumbnailer"]["parent"] == vpc["id"]  # a Lambda in two private subnets
    assert nodes["demo-igw"]["parent"] == vpc["id"]
    exposure = {nodes_id: e["label"] for nodes_id, e in edges(topology, "exposure").items()}
    assert exposure[nodes["demo-bastion"]["id"]] == "22"
    assert exposure[nodes["demo-web-1"]["id"]] == "80, 443"
    assert exposure[nodes["demo-alb"]["id"]] == "80"
    assert nodes["demo-app-1"]["id"] not in exposure  # private subnet, no public address
    assert nodes["demo-postgres"]["id"] not in exposure
    traffic = {(e["data"]["source"], e["data"]["target"]) for e in topology.edges if e["classes"] == "traffic"}
    assert (nodes["demo-alb"]["id"], nodes["demo-web-1"]["id"]) in traffic


@pytest.mark.usefixtures("_full_speed")
def test_the_azure_demo_estate(org, azure):
    connection = helpers.make_azure_connection(org)
    helpers.sync_now(connection)

    topology = build_topology(org, connection=connection)
    nodes = by_label(topology)
    vm, lb = nodes["vm-web-prod"], nodes["lb-web-prod"]
    vnet = nodes["VNet vnet-prod"]
    subnet = next(n for n in topology.nodes if n["data"]["kind"] == "subnet" and n["data"]["parent"] == vnet["id"])
    assert vm["parent"] == subnet["data"]["id"]
    assert lb["parent"] == vnet["id"]  # a public load balancer, placed by its backend pool's NIC
    exposure = {target: e["label"] for target, e in edges(topology, "exposure").items()}
    assert exposure[vm["id"]] == "22, 443"  # NSG on the NIC and on its subnet, SSH open to "*"
    assert exposure[lb["id"]] == "443"
    assert nodes["stcontosoprod"]["parent"].startswith("svc:")
