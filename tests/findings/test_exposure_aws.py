"""Severity by real exposure against moto: an EC2 instance, an RDS instance and a load balancer are
exposed only when every link exists (public setting, a route to an attached internet gateway, a world-open
security group on the right port), latent with the missing link named otherwise."""

from __future__ import annotations

import boto3
import pytest

from findings.exposure import EXPOSED, LATENT, NOT_APPLICABLE, exposure_of_resource
from findings.models import Finding, FindingEvent
from inventory import ratelimit
from tests.findings.exposure_estate import REGION, Network, resource, sync_and_evaluate
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import make_connection

aws = helpers.aws


@pytest.fixture(autouse=True)
def _full_speed(settings, monkeypatch):
    settings.SYNC_RATE_FRACTION = 1.0
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})


@pytest.fixture
def conn(org, aws):
    return make_connection(org, regions=[REGION])


def finding(org, rule_id: str, res) -> Finding:
    return Finding.objects.for_org(org).get(rule_id=rule_id, resource=res)


INSTANCE_RULE = "aws-ec2-instance-exposed-to-internet"


def test_exposed_instance_has_the_whole_path(org, conn):
    net = Network.build()
    sg = net.group("web", [22, 443])
    net.instance("web-1", sg)
    sync_and_evaluate(conn)

    instance = resource(org, "aws.ec2.instance", "web-1")
    exposure = exposure_of_resource(org, instance)
    assert exposure.state == EXPOSED
    assert exposure.ports == "tcp 22, tcp 443"
    assert [s.resource_type for s in exposure.path] == [
        "internet",
        "aws.ec2.internet_gateway",
        "aws.ec2.route_table",
        "aws.ec2.subnet",
        "aws.ec2.security_group",
        "aws.ec2.instance",
    ]
    assert exposure.path[2].link == f"route 0.0.0.0/0 → {net.igw_id}"
    assert "allows tcp 22 from 0.0.0.0/0" in exposure.path[4].link

    found = finding(org, INSTANCE_RULE, instance)
    assert found.severity == "high"
    assert found.detail["exposure"]["state"] == EXPOSED
    assert [s["name"] for s in found.detail["exposure"]["path"]][-1] == "web-1"
    # The security group's own "SSH open to the world" finding is exposed through the instance.
    group = finding(org, "aws-ec2-sg-ssh-open-world", resource(org, "aws.ec2.security_group", "web"))
    assert group.severity == "high" and group.detail["exposure"]["state"] == EXPOSED


@pytest.mark.parametrize(
    ("missing", "net_kwargs", "ports", "source", "expected"),
    [
        ("route", {"route": False}, [22], "0.0.0.0/0", "has no route to an internet gateway"),
        ("gateway", {"route": "nat"}, [22], "0.0.0.0/0", "sends 0.0.0.0/0 to nat-"),
        ("gateway", {"attached": False}, [22], "0.0.0.0/0", "is not attached to the subnet's VPC"),
        ("security group", {}, [22], "10.0.0.0/8", "no security group rule allows inbound traffic from 0.0.0.0/0"),
    ],
)
def test_instance_with_a_link_missing_is_latent(org, conn, missing, net_kwargs, ports, source, expected):
    net = Network.build(**net_kwargs)
    sg = net.group("web", ports, source=source)
    net.instance("web-1", sg)
    sync_and_evaluate(conn)

    instance = resource(org, "aws.ec2.instance", "web-1")
    exposure = exposure_of_resource(org, instance)
    assert exposure.state == LATENT, missing
    assert expected in exposure.missing
    found = finding(org, INSTANCE_RULE, instance)
    assert found.severity == "low"
    assert found.detail["exposure"]["summary"].startswith("latent: ")
    assert expected in found.detail["exposure"]["summary"]


def test_instance_without_public_ip_is_not_applicable(org, conn):
    net = Network.build()
    net.instance("private-1", net.group("web", [22]), public_ip=False)
    sync_and_evaluate(conn)
    instance = resource(org, "aws.ec2.instance", "private-1")
    assert exposure_of_resource(org, instance).state == NOT_APPLICABLE
    assert not Finding.objects.for_org(org).filter(rule_id=INSTANCE_RULE).exists()
    group = finding(org, "aws-ec2-sg-ssh-open-world", resource(org, "aws.ec2.security_group", "web"))
    assert group.severity == "low"
    assert group.detail["exposure"]["missing"] == "no resource using it has a public address"


def test_becoming_exposed_raises_severity_through_the_lifecycle(org, conn):
    net = Network.build(route=False)
    net.instance("web-1", net.group("web", [443]))
    sync_and_evaluate(conn)
    instance = resource(org, "aws.ec2.instance", "web-1")
    assert finding(org, INSTANCE_RULE, instance).severity == "low"

    net.ec2.create_route(RouteTableId=net.route_table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=net.igw_id)
    sync_and_evaluate(conn)
    found = finding(org, INSTANCE_RULE, instance)
    assert found.severity == "high"
    assert found.status == Finding.Status.OPEN
    event = FindingEvent.objects.for_org(org).filter(finding=found, kind="severity").get()
    assert event.note.startswith("Severity low → high (exposed: reachable from the internet on tcp 443)")

    sync_and_evaluate(conn)  # nothing changed: no new event
    assert FindingEvent.objects.for_org(org).filter(finding=found, kind="severity").count() == 1


# --- RDS -----------------------------------------------------------------------------------------


def _database(net: Network, group_id: str, *, public: bool = True, encrypted: bool = True) -> None:
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_subnet_group(DBSubnetGroupName="public-db", DBSubnetGroupDescription="db", SubnetIds=net.subnet_ids)
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password-1",
        AllocatedStorage=20,
        DBSubnetGroupName="public-db",
        VpcSecurityGroupIds=[group_id],
        PubliclyAccessible=public,
        StorageEncrypted=encrypted,
        AvailabilityZone=f"{REGION}a",
    )


def test_exposed_database(org, conn):
    net = Network.build(zones=2)
    _database(net, net.group("db", [5432]))
    sync_and_evaluate(conn)
    db = resource(org, "aws.rds.db_instance", "orders")
    exposure = exposure_of_resource(org, db)
    assert exposure.state == EXPOSED
    assert exposure.ports == "5432"
    assert exposure.path[-2].resource_type == "aws.ec2.security_group"
    found = finding(org, "aws-rds-publicly-accessible", db)
    assert found.severity == "critical"


@pytest.mark.parametrize(
    ("net_kwargs", "ports", "expected"),
    [
        ({"route": False}, [5432], "has no route to an internet gateway"),
        ({"attached": False}, [5432], "is not attached to the subnet's VPC"),
        ({}, [22], "its security groups let the world in, but not on port 5432"),
        ({}, [], "no security group rule allows inbound traffic from 0.0.0.0/0 or ::/0 on port 5432"),
    ],
)
def test_database_with_a_link_missing_is_latent(org, conn, net_kwargs, ports, expected):
    net = Network.build(**net_kwargs)
    _database(net, net.group("db", ports))
    sync_and_evaluate(conn)
    db = resource(org, "aws.rds.db_instance", "orders")
    exposure = exposure_of_resource(org, db)
    assert exposure.state == LATENT
    assert expected in exposure.missing
    found = finding(org, "aws-rds-publicly-accessible", db)
    assert found.severity == "medium"
    assert f"latent: {exposure.missing}" == found.detail["exposure"]["summary"]


def test_private_database_is_not_applicable(org, conn):
    net = Network.build()
    _database(net, net.group("db", [5432]), public=False)
    sync_and_evaluate(conn)
    assert exposure_of_resource(org, resource(org, "aws.rds.db_instance", "orders")).state == NOT_APPLICABLE
    assert not Finding.objects.for_org(org).filter(rule_id="aws-rds-publicly-accessible").exists()


# --- Load balancers ------------------------------------------------------------------------------


def _load_balancer(net: Network, group_id: str, scheme: str = "internet-facing") -> None:
    elb = boto3.client("elbv2", region_name=REGION)
    lb = elb.create_load_balancer(
        Name="front", Subnets=net.subnet_ids, SecurityGroups=[group_id], Scheme=scheme, Type="application"
    )["LoadBalancers"][0]
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=net.vpc_id)["TargetGroups"][0]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )


def test_exposed_load_balancer(org, conn):
    net = Network.build(zones=2)
    _load_balancer(net, net.group("lb", [80]))
    sync_and_evaluate(conn)
    lb = resource(org, "aws.elbv2.load_balancer", "front")
    exposure = exposure_of_resource(org, lb)
    assert exposure.state == EXPOSED
    assert exposure.ports == "80"
    assert exposure.path[-1].link == "internet-facing listener on 80"
    assert finding(org, "aws-elbv2-internet-facing-no-https", lb).severity == "medium"


@pytest.mark.parametrize(
    ("net_kwargs", "ports", "expected"),
    [
        ({"route": False}, [80], "has no route to an internet gateway"),
        ({"attached": False}, [80], "is not attached to the subnet's VPC"),
        ({}, [22], "its security groups let the world in, but not on port 80"),
    ],
)
def test_load_balancer_with_a_link_missing_is_latent(org, conn, net_kwargs, ports, expected):
    net = Network.build(zones=2, **net_kwargs)
    _load_balancer(net, net.group("lb", ports))
    sync_and_evaluate(conn)
    lb = resource(org, "aws.elbv2.load_balancer", "front")
    exposure = exposure_of_resource(org, lb)
    assert exposure.state == LATENT
    assert expected in exposure.missing
    found = finding(org, "aws-elbv2-internet-facing-no-https", lb)
    assert found.severity == "low"
    assert expected in found.detail["exposure"]["summary"]


def test_internal_load_balancer_is_not_applicable(org, conn):
    net = Network.build(zones=2)
    _load_balancer(net, net.group("lb", [80]), scheme="internal")
    sync_and_evaluate(conn)
    assert exposure_of_resource(org, resource(org, "aws.elbv2.load_balancer", "front")).state == NOT_APPLICABLE
