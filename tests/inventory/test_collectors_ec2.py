"""EC2 compute and network collectors against moto, with botocore's Stubber for the pages and error
codes moto does not produce."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from inventory.collectors.aws import ec2 as ec2_collectors
from inventory.collectors.aws._util import ec2_arn
from inventory.collectors.aws.context import AwsContext
from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    REGION,
    by_id,
    collect,
    fail_operation,
    make_context,
    moto_account,
    rel_kinds,
    rels,
    stubbed,
)

AMI = "ami-12345678"  # moto does not validate image ids unless asked to


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def ec2(ctx):
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def network(ec2):
    """A VPC with a public subnet (own route table → IGW), a private one (main table) and a web SG."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": "prod"}, {"Key": "env", "Value": "prod"}])
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="eu-west-1b")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rt, SubnetId=public)
    sg = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "public": public, "private": private, "igw": igw, "rt": rt, "sg": sg}


def arn(kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:{kind}/{resource_id}"


def test_every_type_is_registered_as_a_regional_ec2_collector():
    for kind in (
        "instance",
        "volume",
        "snapshot",
        "image",
        "security_group",
        "vpc",
        "subnet",
        "route_table",
        "internet_gateway",
        "nat_gateway",
        "network_interface",
        "elastic_ip",
    ):
        entry = get_collector(f"aws.ec2.{kind}")
        assert entry.service == "ec2" and entry.regional and entry.func.__module__ == ec2_collectors.__name__


# --- Instances -----------------------------------------------------------------------------------


def test_instances(ctx, ec2, network):
    base = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        SubnetId=network["public"],
        SecurityGroupIds=[network["sg"]],
        MetadataOptions={"HttpTokens": "required"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web-1"}]}],
    )["Instances"][0]["InstanceId"]
    own_ami = ec2.create_image(InstanceId=base, Name="golden")["ImageId"]
    second = ec2.run_instances(ImageId=own_ami, MinCount=1, MaxCount=1, SubnetId=network["private"])["Instances"][0][
        "InstanceId"
    ]
    ec2.stop_instances(InstanceIds=[second])
    gone = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[gone])

    records = by_id(collect(ctx, "aws.ec2.instance"), "instance_id")

    assert set(records) == {base, second}  # terminated instances are gone
    web = records[base]
    assert web.native_id == arn("instance", base)
    assert web.name == "web-1" and web.tags == {"Name": "web-1"}
    cfg = web.config
    assert cfg["state"] == "running" and cfg["instance_type"] == "t3.micro"
    assert cfg["subnet_id"] == network["public"] and cfg["vpc_id"] == network["vpc"]
    assert cfg["image_id"] == AMI and cfg["security_group_ids"] == [network["sg"]]
    assert cfg["private_ip"].startswith("10.0.1.")
    assert cfg["metadata_options"]["http_tokens"] == "required" and cfg["metadata_options"]["imdsv2_required"]
    assert cfg["launch_time"].endswith("+00:00") and cfg["stopped_since"] is None
    assert cfg["monitoring"] in ("disabled", "enabled") and cfg["ebs_optimized"] is False
    assert cfg["iam_instance_profile_arn"] is None
    json.dumps(cfg)
    assert rels(web, "in_subnet") == {arn("subnet", network["public"])}
    assert rels(web, "in_vpc") == {arn("vpc", network["vpc"])}
    assert rels(web, "uses_security_group") == {arn("security-group", network["sg"])}
    assert rels(web, "launched_from") == set()  # AMI not owned by the account

    stopped = records[second].config
    assert stopped["state"] == "stopped" and stopped["stopped_since"].startswith(str(datetime.now(UTC).year))
    assert rels(records[second], "launched_from") == {arn("image", own_ami)}
    assert records[second].name == second  # no Name tag: the id


def test_instance_profile_and_metadata_defaults(ctx, ec2):
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="app", AssumeRolePolicyDocument="{}")
    profile = iam.create_instance_profile(InstanceProfileName="app")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="app")
    ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, IamInstanceProfile={"Arn": profile["Arn"]})

    (record,) = collect(ctx, "aws.ec2.instance")

    assert record.config["iam_instance_profile_arn"] == profile["Arn"]
    assert record.config["metadata_options"]["imdsv2_required"] is False


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("User initiated (2024-01-15 10:23:45 GMT)", "2024-01-15T10:23:45+00:00"),
        ("User initiated (2024-01-15 10:23:45 UTC)", "2024-01-15T10:23:45+00:00"),
        ("Server.ScheduledStop", None),
        ("", None),
    ],
)
def test_stopped_since_parses_the_transition_reason(reason, expected):
    assert ec2_collectors.stopped_since("stopped", reason) == expected
    assert ec2_collectors.stopped_since("running", reason) is None


# --- EBS ---------------------------------------------------------------------------------------


def test_volumes_and_snapshots(ctx, ec2):
    instance = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, Placement={"AvailabilityZone": "eu-west-1a"})[
        "Instances"
    ][0]["InstanceId"]
    data = ec2.create_volume(
        AvailabilityZone="eu-west-1a",
        Size=100,
        VolumeType="gp3",
        Encrypted=True,
        Iops=4000,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "data"}]}],
    )["VolumeId"]
    ec2.attach_volume(VolumeId=data, InstanceId=instance, Device="/dev/sdf")
    loose = ec2.create_volume(AvailabilityZone="eu-west-1a", Size=8)["VolumeId"]
    private_snap = ec2.create_snapshot(VolumeId=data, Description="nightly")["SnapshotId"]
    public_snap = ec2.create_snapshot(VolumeId=loose)["SnapshotId"]
    ec2.modify_snapshot_attribute(
        SnapshotId=public_snap, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"]
    )

    volumes = by_id(collect(ctx, "aws.ec2.volume"), "volume_id")
    assert {data, loose} <= set(volumes)  # plus the instance's root volume
    vol = volumes[data]
    assert vol.native_id == arn("volume", data) and vol.name == "data"
    assert vol.config["size_gb"] == 100 and vol.config["volume_type"] == "gp3" and vol.config["encrypted"] is True
    assert vol.config["iops"] == 4000 and vol.config["state"] == "in-use" and vol.config["attached"]
    assert {"instance_id": instance, "device": "/dev/sdf"}.items() <= vol.config["attachments"][0].items()
    assert vol.config["create_time"]
    assert rels(vol, "attached_to") == {arn("instance", instance)}
    assert volumes[loose].config["attached"] is False and volumes[loose].config["encrypted"] is False
    assert volumes[loose].relations == []

    snaps = by_id(collect(ctx, "aws.ec2.snapshot"), "snapshot_id")
    assert set(snaps) == {private_snap, public_snap}
    snap = snaps[private_snap]
    assert snap.native_id == arn("snapshot", private_snap)
    assert snap.config["volume_id"] == data and snap.config["size_gb"] == 100 and snap.config["encrypted"] is True
    assert snap.config["start_time"] and snap.config["description"] == "nightly"
    assert snap.config["public"] is False and snaps[public_snap].config["public"] is True
    assert snap.config["unreadable"] == []
    assert rels(snap, "snapshot_of") == {arn("volume", data)}


def test_images_owned_by_the_account(ctx, ec2):
    instance = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    private = ec2.create_image(InstanceId=instance, Name="golden", Description="base image")["ImageId"]
    public = ec2.create_image(InstanceId=instance, Name="shared")["ImageId"]
    ec2.modify_image_attribute(ImageId=public, LaunchPermission={"Add": [{"Group": "all"}]})

    images = by_id(collect(ctx, "aws.ec2.image"), "image_id")

    assert set(images) == {private, public}
    golden = images[private]
    assert golden.native_id == arn("image", private) and golden.name == "golden"
    assert golden.config["public"] is False and images[public].config["public"] is True
    assert golden.config["state"] == "available" and golden.config["creation_date"]
    assert golden.config["description"] == "base image"


# --- Security groups -----------------------------------------------------------------------------


def test_security_groups_with_normalized_rules(ctx, ec2, network):
    sg = network["sg"]
    other = ec2.create_security_group(GroupName="db", Description="db", VpcId=network["vpc"])["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [{"GroupId": other}]},
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "192.168.0.0/16"}]},
        ],
    )

    groups = by_id(collect(ctx, "aws.ec2.security_group"), "group_id")

    web = groups[sg]
    assert web.native_id == arn("security-group", sg) and web.name == "web"
    assert web.config["group_name"] == "web" and web.config["description"] == "web tier"
    assert web.config["vpc_id"] == network["vpc"] and web.config["is_default"] is False
    ingress = [r for r in web.config["rules"] if r["direction"] == "ingress"]
    assert {
        "direction": "ingress",
        "protocol": "tcp",
        "from_port": 443,
        "to_port": 443,
        "source": "0.0.0.0/0",
        "source_type": "cidr_ipv4",
        "description": "https",
    } in ingress
    assert {"protocol": "tcp", "from_port": 443, "source": "::/0", "source_type": "cidr_ipv6"}.items() <= next(
        r for r in ingress if r["source"] == "::/0"
    ).items()
    assert {"protocol": "tcp", "from_port": 22, "to_port": 22, "source_type": "security_group"}.items() <= next(
        r for r in ingress if r["source"] == other
    ).items()
    assert {"protocol": "icmp", "from_port": None, "to_port": None}.items() <= next(
        r for r in ingress if r["source"] == "10.0.0.0/8"
    ).items()
    assert {"protocol": "all", "from_port": None, "to_port": None}.items() <= next(
        r for r in ingress if r["source"] == "192.168.0.0/16"
    ).items()
    egress = [r for r in web.config["rules"] if r["direction"] == "egress"]
    assert egress == [
        {
            "direction": "egress",
            "protocol": "all",
            "from_port": None,
            "to_port": None,
            "source": "0.0.0.0/0",
            "source_type": "cidr_ipv4",
            "description": "",
        },
    ]
    assert rels(web, "in_vpc") == {arn("vpc", network["vpc"])}
    default = next(g for g in groups.values() if g.config["vpc_id"] == network["vpc"] and g.config["is_default"])
    assert default.config["group_name"] == "default"


def test_normalize_sg_rules_covers_prefix_lists_numeric_protocols_and_port_ranges():
    rules = ec2_collectors.normalize_sg_rules(
        "egress",
        [
            {"IpProtocol": "17", "FromPort": 1000, "ToPort": 2000, "PrefixListIds": [{"PrefixListId": "pl-123"}]},
            {"IpProtocol": "58", "FromPort": 128, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]},
            {"IpProtocol": "50", "FromPort": 0, "ToPort": 0, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {
                "IpProtocol": "tcp",
                "FromPort": 0,
                "ToPort": 65535,
                "UserIdGroupPairs": [{"GroupId": "sg-1", "UserId": "9"}],
            },
        ],
    )
    assert [(r["protocol"], r["from_port"], r["to_port"], r["source"], r["source_type"]) for r in rules] == [
        ("udp", 1000, 2000, "pl-123", "prefix_list"),
        ("icmpv6", 128, None, "2001:db8::/32", "cidr_ipv6"),
        ("50", None, None, "10.0.0.0/8", "cidr_ipv4"),
        ("tcp", 0, 65535, "sg-1", "security_group"),
    ]
    assert all(r["direction"] == "egress" for r in rules)


# --- VPC, subnets, routing ---------------------------------------------------------------------


def test_vpcs(ctx, ec2, network):
    ec2.associate_vpc_cidr_block(VpcId=network["vpc"], CidrBlock="10.1.0.0/16")
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="flow-logs-bucket")
    ec2.create_flow_logs(
        ResourceIds=[network["vpc"]],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination="arn:aws:s3:::flow-logs-bucket",
    )

    vpcs = by_id(collect(ctx, "aws.ec2.vpc"), "vpc_id")

    prod = vpcs[network["vpc"]]
    assert prod.native_id == arn("vpc", network["vpc"]) and prod.name == "prod"
    assert prod.tags == {"Name": "prod", "env": "prod"}
    assert prod.config["cidr_block"] == "10.0.0.0/16" and prod.config["cidr_blocks"] == ["10.0.0.0/16", "10.1.0.0/16"]
    assert prod.config["is_default"] is False and prod.config["state"] == "available"
    assert prod.config["flow_logs_enabled"] is True and prod.config["unreadable"] == []
    default = next(v for v in vpcs.values() if v.config["is_default"])  # moto's default VPC
    assert default.config["flow_logs_enabled"] is False


def test_subnets_know_whether_they_are_public(ctx, ec2, network):
    subnets = by_id(collect(ctx, "aws.ec2.subnet"), "subnet_id")

    public, private = subnets[network["public"]], subnets[network["private"]]
    assert public.native_id == arn("subnet", network["public"])
    assert public.config["vpc_id"] == network["vpc"] and public.config["cidr_block"] == "10.0.1.0/24"
    assert public.config["availability_zone"] == "eu-west-1a"
    assert public.config["map_public_ip_on_launch"] is True and public.config["is_public"] is True
    assert public.config["route_table_id"] == network["rt"]
    assert public.config["available_ip_count"] == 251
    assert private.config["is_public"] is False and private.config["map_public_ip_on_launch"] is False
    assert rels(public, "in_vpc") == {arn("vpc", network["vpc"])}


def test_a_main_route_table_to_an_igw_makes_unassociated_subnets_public(ctx, ec2, network):
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [network["vpc"]]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    ec2.create_route(RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", GatewayId=network["igw"])

    subnets = by_id(collect(ctx, "aws.ec2.subnet"), "subnet_id")

    assert subnets[network["private"]].config["is_public"] is True
    assert subnets[network["private"]].config["route_table_id"] == main


def test_route_tables(ctx, ec2, network):
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=network["public"], AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    private_rt = ec2.create_route_table(VpcId=network["vpc"])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=private_rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.associate_route_table(RouteTableId=private_rt, SubnetId=network["private"])

    tables = by_id(collect(ctx, "aws.ec2.route_table"), "route_table_id")

    public = tables[network["rt"]]
    assert public.native_id == arn("route-table", network["rt"])
    assert public.config["vpc_id"] == network["vpc"] and public.config["main"] is False
    assert public.config["subnet_ids"] == [network["public"]] and public.config["routes_to_internet"] is True
    assert {"destination": "10.0.0.0/16", "target_type": "local", "target_id": "local", "state": "active"}.items() <= (
        public.config["routes"][0].items()
    )
    default_route = next(r for r in public.config["routes"] if r["destination"] == "0.0.0.0/0")
    assert default_route["target_type"] == "internet_gateway" and default_route["target_id"] == network["igw"]
    assert rels(public, "associated_with") == {arn("subnet", network["public"])}
    assert rels(public, "in_vpc") == {arn("vpc", network["vpc"])}
    assert rels(public, "routes_to") == {arn("internet-gateway", network["igw"])}

    private = tables[private_rt]
    nat_route = next(r for r in private.config["routes"] if r["destination"] == "0.0.0.0/0")
    assert nat_route["target_type"] == "nat_gateway" and nat_route["target_id"] == nat
    assert rels(private, "routes_to") == {arn("natgateway", nat)} and private.config["routes_to_internet"] is False
    main = next(t for t in tables.values() if t.config["vpc_id"] == network["vpc"] and t.config["main"])
    assert main.config["associations"][0]["main"] is True and rels(main, "associated_with") == set()


def test_internet_and_nat_gateways(ctx, ec2, network):
    alloc = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(
        SubnetId=network["public"],
        AllocationId=alloc["AllocationId"],
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "egress"}]}],
    )["NatGateway"]["NatGatewayId"]
    loose_igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]

    igws = by_id(collect(ctx, "aws.ec2.internet_gateway"), "internet_gateway_id")
    igw = igws[network["igw"]]
    assert igw.native_id == arn("internet-gateway", network["igw"])
    assert igw.config["attachments"] == [{"vpc_id": network["vpc"], "state": "available"}] and igw.config["attached"]
    assert rels(igw, "attached_to") == {arn("vpc", network["vpc"])}
    assert igws[loose_igw].config["attached"] is False and igws[loose_igw].relations == []

    (record,) = [r for r in collect(ctx, "aws.ec2.nat_gateway") if r.config["nat_gateway_id"] == nat]
    assert record.native_id == arn("natgateway", nat) and record.name == "egress"
    assert record.config["state"] == "available" and record.config["connectivity_type"] == "public"
    assert record.config["subnet_id"] == network["public"] and record.config["vpc_id"] == network["vpc"]
    assert record.config["public_ip"] == alloc["PublicIp"] and record.config["allocation_id"] == alloc["AllocationId"]
    assert rels(record, "in_subnet") == {arn("subnet", network["public"])}


def test_network_interfaces_and_elastic_ips(ctx, ec2, network):
    instance = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=network["public"], SecurityGroupIds=[network["sg"]]
    )["Instances"][0]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    spare = ec2.create_network_interface(SubnetId=network["private"], Groups=[network["sg"]], Description="spare")[
        "NetworkInterface"
    ]["NetworkInterfaceId"]
    ec2.create_tags(Resources=[spare], Tags=[{"Key": "Name", "Value": "spare-eni"}])
    on_instance = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=on_instance["AllocationId"], InstanceId=instance["InstanceId"])
    on_eni = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=on_eni["AllocationId"], NetworkInterfaceId=spare)
    idle = ec2.allocate_address(Domain="vpc")

    enis = by_id(collect(ctx, "aws.ec2.network_interface"), "network_interface_id")
    attached = enis[eni]
    assert attached.native_id == arn("network-interface", eni)
    assert attached.config["status"] == "in-use" and attached.config["instance_id"] == instance["InstanceId"]
    assert attached.config["attachment"]["instance_id"] == instance["InstanceId"]
    assert attached.config["subnet_id"] == network["public"] and attached.config["vpc_id"] == network["vpc"]
    assert attached.config["security_group_ids"] == [network["sg"]] and attached.config["private_ip"]
    assert attached.config["public_ip"] == on_instance["PublicIp"]
    assert rels(attached, "attached_to") == {arn("instance", instance["InstanceId"])}
    assert rels(attached, "in_subnet") == {arn("subnet", network["public"])}
    assert rels(attached, "uses_security_group") == {arn("security-group", network["sg"])}
    loose = enis[spare]
    assert loose.name == "spare-eni" and loose.config["status"] == "available" and loose.config["attachment"] is None
    assert loose.config["description"] == "spare" and "attached_to" not in rel_kinds(loose)
    assert loose.config["interface_type"] in ("interface", None)

    eips = by_id(collect(ctx, "aws.ec2.elastic_ip"), "allocation_id")
    assert set(eips) == {on_instance["AllocationId"], on_eni["AllocationId"], idle["AllocationId"]}
    first = eips[on_instance["AllocationId"]]
    assert first.native_id == arn("elastic-ip", on_instance["AllocationId"])
    assert first.config["public_ip"] == on_instance["PublicIp"] and first.config["domain"] == "vpc"
    assert first.config["associated"] is True and first.config["association_id"]
    assert first.config["instance_id"] == instance["InstanceId"] and first.config["network_interface_id"] == eni
    assert rels(first, "attached_to") == {arn("instance", instance["InstanceId"]), arn("network-interface", eni)}
    second = eips[on_eni["AllocationId"]]
    assert second.config["network_interface_id"] == spare
    assert rels(second, "attached_to") == {arn("network-interface", spare)}
    assert eips[idle["AllocationId"]].config["associated"] is False and eips[idle["AllocationId"]].relations == []


# --- Pagination, errors, scale -------------------------------------------------------------------


def test_describe_instances_follows_next_token(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = make_context()

    def reservation(*ids):
        return {"Instances": [{"InstanceId": i, "State": {"Name": "running"}, "ImageId": "ami-own"} for i in ids]}

    with stubbed(ctx, "ec2") as stub:
        stub.add_response("describe_instances", {"Reservations": [reservation("i-1", "i-2")], "NextToken": "p2"}, {})
        stub.add_response("describe_images", {"Images": [{"ImageId": "ami-own"}]}, {"Owners": ["self"]})
        stub.add_response(
            "describe_instances", {"Reservations": [reservation("i-3")], "NextToken": "p3"}, {"NextToken": "p2"}
        )
        stub.add_response("describe_instances", {"Reservations": [reservation("i-4")]}, {"NextToken": "p3"})
        records = collect(ctx, "aws.ec2.instance")

    assert [r.config["instance_id"] for r in records] == ["i-1", "i-2", "i-3", "i-4"]
    assert all(rels(r, "launched_from") == {arn("image", "ami-own")} for r in records)
    assert ctx.api_calls == 4  # every call counted, own images fetched once


def test_describe_security_groups_follows_next_token(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = make_context()
    pages = [[f"sg-{p}{i}" for i in range(3)] for p in "abc"]
    with stubbed(ctx, "ec2") as stub:
        token = None
        for number, page in enumerate(pages):
            answer = {"SecurityGroups": [{"GroupId": g, "GroupName": g, "VpcId": "vpc-1"} for g in page]}
            if number < len(pages) - 1:
                answer["NextToken"] = f"t{number}"
            stub.add_response("describe_security_groups", answer, {"NextToken": token} if token else {})
            token = answer.get("NextToken")
        records = collect(ctx, "aws.ec2.security_group")

    assert [r.config["group_id"] for r in records] == [g for page in pages for g in page]
    assert ctx.api_calls == 3


@pytest.mark.parametrize("code", ["AccessDenied", "UnauthorizedOperation"])
@pytest.mark.parametrize(
    ("full_type", "operation"),
    [
        ("aws.ec2.instance", "describe_instances"),
        ("aws.ec2.security_group", "describe_security_groups"),
        ("aws.ec2.elastic_ip", "describe_addresses"),
    ],
)
def test_a_denied_describe_raises_unchanged(monkeypatch, code, full_type, operation):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = make_context()
    with stubbed(ctx, "ec2") as stub:
        stub.add_client_error(operation, service_error_code=code, service_message="not allowed", http_status_code=403)
        with pytest.raises(ClientError) as raised:
            collect(ctx, full_type)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.operation_name == "".join(part.title() for part in operation.split("_"))


def test_a_denied_optional_enrichment_is_unknown_not_false(ctx, ec2, network):
    fail_operation(ctx, "ec2", "DescribeFlowLogs", code="UnauthorizedOperation")
    vpcs = by_id(collect(ctx, "aws.ec2.vpc"), "vpc_id")
    prod = vpcs[network["vpc"]].config
    assert prod["flow_logs_enabled"] is None and prod["unreadable"] == ["flow_logs_enabled"]
    assert prod["cidr_block"] == "10.0.0.0/16"


def test_denied_snapshot_permissions_leave_public_unknown(ctx, ec2):
    volume = ec2.create_volume(AvailabilityZone="eu-west-1a", Size=8)["VolumeId"]
    ec2.create_snapshot(VolumeId=volume)
    fail_operation(ctx, "ec2", "DescribeSnapshotAttribute", code="UnauthorizedOperation")
    (snap,) = collect(ctx, "aws.ec2.snapshot")
    assert snap.config["public"] is None and snap.config["unreadable"] == ["public"]
    assert snap.config["volume_id"] == volume


def test_throttling_of_an_optional_enrichment_still_raises(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = AwsContext(
        boto3.Session(), ACCOUNT_ID, REGION, config=Config(retries={"mode": "standard", "max_attempts": 1})
    )
    with stubbed(ctx, "ec2") as stub:
        stub.add_response("describe_vpcs", {"Vpcs": [{"VpcId": "vpc-1"}]}, {})
        stub.add_client_error("describe_flow_logs", service_error_code="RequestLimitExceeded", http_status_code=503)
        with pytest.raises(ClientError) as raised:
            collect(ctx, "aws.ec2.vpc")
    assert raised.value.response["Error"]["Code"] == "RequestLimitExceeded"


def test_a_moderately_large_account_in_two_regions(ctx):
    expected: dict[str, dict[str, set[str]]] = {}
    for region in ("eu-west-1", "us-east-1"):
        client = boto3.client("ec2", region_name=region)
        groups, subnets = set(), set()
        for v in range(2):
            vpc = client.create_vpc(CidrBlock=f"10.{v}.0.0/16")["Vpc"]["VpcId"]
            for i in range(125):
                sg = client.create_security_group(GroupName=f"sg-{v}-{i}", Description="x", VpcId=vpc)["GroupId"]
                groups.add(sg)
                subnets.add(client.create_subnet(VpcId=vpc, CidrBlock=f"10.{v}.{i}.0/24")["Subnet"]["SubnetId"])
        expected[region] = {"groups": groups, "subnets": subnets}

    for region, want in expected.items():
        regional = make_context(region)
        groups = by_id(collect(regional, "aws.ec2.security_group"), "group_id")
        subnets = by_id(collect(regional, "aws.ec2.subnet"), "subnet_id")
        assert want["groups"] <= set(groups) and len(want["groups"]) == 250
        assert want["subnets"] <= set(subnets) and len(want["subnets"]) == 250
        assert all(r.native_id == ec2_arn(regional, "security-group", g) for g, r in groups.items())
        assert all(r.native_id.startswith(f"arn:aws:ec2:{region}:") for r in subnets.values())
        # only what was created there, plus moto's default VPC (default groups and subnets)
        assert len(groups) == 250 + 3 and all(not subnets[s].config["is_public"] for s in want["subnets"])
        assert regional.api_calls <= 4  # one page of each describe (+ route tables once), not a call per resource
