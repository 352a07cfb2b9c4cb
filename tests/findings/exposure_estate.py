"""A moto network estate for exposure tests, built link by link so a test can leave one out.

    net = Network.build(ec2)                    # VPC, IGW attached, subnet routed 0.0.0.0/0 → IGW
    net = Network.build(ec2, route=False)       # the subnet's route table has no internet route
    net = Network.build(ec2, route="nat")       # its default route goes to a NAT gateway
    sg = net.group("web", [22])                 # inbound tcp 22 from 0.0.0.0/0

Then ``sync_and_evaluate(connection)`` runs the real collectors (one region), which evaluates the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import boto3

from inventory.models import Resource, SyncRun
from tests.inventory.sync_helpers import sync_now

REGION = "eu-west-1"


@dataclass
class Network:
    ec2: object
    vpc_id: str
    subnet_ids: list[str]
    igw_id: str
    route_table_id: str
    groups: dict[str, str] = field(default_factory=dict)  # name → id

    @classmethod
    def build(
        cls, ec2=None, *, route: bool | str = True, attached: bool = True, cidr: str = "10.0.0.0/16", zones: int = 1
    ) -> Network:
        ec2 = ec2 or boto3.client("ec2", region_name=REGION)
        vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        base = cidr.split(".")[:2]
        subnet_ids = [
            ec2.create_subnet(
                VpcId=vpc_id, CidrBlock=f"{base[0]}.{base[1]}.{i}.0/24", AvailabilityZone=f"{REGION}{'abc'[i]}"
            )["Subnet"]["SubnetId"]
            for i in range(zones)
        ]
        igw_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
        table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        if route == "nat":  # the default route leaves through a NAT gateway: outbound only
            allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
            nat = ec2.create_nat_gateway(SubnetId=subnet_ids[0], AllocationId=allocation)["NatGateway"]
            ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGatewayId"])
        elif route:
            ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
        for subnet in subnet_ids:
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        if not attached:
            ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
        return cls(ec2, vpc_id, subnet_ids, igw_id, table)

    @property
    def subnet_id(self) -> str:
        return self.subnet_ids[0]

    def group(self, name: str, ports: list[int], source: str = "0.0.0.0/0") -> str:
        group_id = self.ec2.create_security_group(GroupName=name, Description=name, VpcId=self.vpc_id)["GroupId"]
        self.groups[name] = group_id
        if ports:
            self.ec2.authorize_security_group_ingress(
                GroupId=group_id,
                IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": source}]} for p in ports
                ],
            )
        return group_id

    def instance(self, name: str, group_id: str, *, public_ip: bool = True, profile_arn: str | None = None) -> str:
        extra = {"IamInstanceProfile": {"Arn": profile_arn}} if profile_arn else {}
        return self.ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": self.subnet_id,
                    "Groups": [group_id],
                    "AssociatePublicIpAddress": public_ip,
                }
            ],
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
            **extra,
        )["Instances"][0]["InstanceId"]


def sync_and_evaluate(connection):
    """A scan with the real collectors; the findings are evaluated by the sync's after_sync hook."""
    run = sync_now(connection)
    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), run.warnings
    return run


def resource(org, resource_type: str, name: str) -> Resource:
    return Resource.objects.for_org(org).get(resource_type=resource_type, name=name)
