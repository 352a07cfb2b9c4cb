"""Auto Scaling group, launch configuration and launch template collectors against moto. User data is
recorded as present, never its content."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    REGION,
    collect,
    fail_operation,
    judge,
    make_context,
    moto_account,
    rels,
)

USER_DATA = "#!/bin/sh\nexport DB_PASSWORD=never-stored\n"


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def estate(ctx):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"][
        "SubnetId"
    ]
    subnet_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="eu-west-1b")["Subnet"][
        "SubnetId"
    ]
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    image = ec2.register_image(Name="base", RootDeviceName="/dev/xvda", VirtualizationType="hvm")["ImageId"]
    web = ec2.create_launch_template(
        LaunchTemplateName="web",
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "t3.small",
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "SecurityGroupIds": [sg],
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 20, "VolumeType": "gp3", "Encrypted": True}}
            ],
            "UserData": base64.b64encode(USER_DATA.encode()).decode(),
        },
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "web"}]}],
    )["LaunchTemplate"]["LaunchTemplateId"]
    legacy = ec2.create_launch_template(
        LaunchTemplateName="legacy",
        LaunchTemplateData={
            "ImageId": image,
            "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": True}],
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp2"}}],
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg = boto3.client("autoscaling", region_name=REGION)
    asg.create_launch_configuration(
        LaunchConfigurationName="old-lc",
        ImageId=image,
        InstanceType="t3.micro",
        AssociatePublicIpAddress=True,
        MetadataOptions={"HttpTokens": "optional"},
        SecurityGroups=[sg],
        UserData=USER_DATA,
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": web, "Version": "$Latest"},
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=0,
        VPCZoneIdentifier=f"{subnet_a},{subnet_b}",
        HealthCheckType="ELB",
        Tags=[{"Key": "team", "Value": "web", "PropagateAtLaunch": True}],
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="old",
        LaunchConfigurationName="old-lc",
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        VPCZoneIdentifier=subnet_a,
    )
    return {"web": web, "legacy": legacy, "image": image, "sg": sg, "subnets": (subnet_a, subnet_b)}


def test_registered_collectors():
    assert get_collector("aws.ec2.launch_template").service == "ec2"
    assert get_collector("aws.autoscaling.group").service == "autoscaling"
    assert get_collector("aws.autoscaling.launch_configuration").regional


def test_launch_templates(ctx, estate):
    records = {r.name: r for r in collect(ctx, "aws.ec2.launch_template")}
    web, legacy = records["web"], records["legacy"]
    assert web.native_id == f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:launch-template/{estate['web']}"
    config = web.config
    assert config["metadata_options"]["http_tokens"] == "required"
    assert config["security_group_ids"] == [estate["sg"]] and config["user_data_present"] is True
    assert config["block_devices"][0]["encrypted"] is True and config["unreadable"] == []
    assert USER_DATA.split("=")[1].strip() not in json.dumps(config)
    assert web.tags == {"team": "web"}
    assert rels(web, "uses_security_group") == {f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/{estate['sg']}"}
    assert rels(web, "launched_from") == {f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:image/{estate['image']}"}
    assert legacy.config["network_interfaces"][0]["associate_public_ip_address"] is True
    collected = {"aws.ec2.launch_template": [web, legacy]}
    assert judge("aws-ec2-launch-template-imdsv1", collected) == {legacy.native_id}
    assert judge("aws-ec2-launch-template-public-ip", collected) == {legacy.native_id}
    assert judge("aws-ec2-launch-template-unencrypted-volume", collected) == {legacy.native_id}
    assert judge("aws-ec2-launch-template-gp2-volume", collected) == {legacy.native_id}


def test_unreadable_template_version_is_unknown(ctx, estate):
    fail_operation(ctx, "ec2", "DescribeLaunchTemplateVersions", code="UnauthorizedOperation")
    records = collect(ctx, "aws.ec2.launch_template")
    assert all(r.config["metadata_options"] is None and r.config["unreadable"] == ["default_version"] for r in records)
    assert judge("aws-ec2-launch-template-imdsv1", {"aws.ec2.launch_template": records}) == set()


def test_launch_configurations(ctx, estate):
    [lc] = collect(ctx, "aws.autoscaling.launch_configuration")
    assert lc.name == "old-lc" and lc.native_id.startswith(
        f"arn:aws:autoscaling:{REGION}:{ACCOUNT_ID}:launchConfiguration:"
    )
    assert lc.config["metadata_options"]["http_tokens"] == "optional"
    assert lc.config["associate_public_ip_address"] is True and lc.config["user_data_present"] is True
    assert "never-stored" not in json.dumps(lc.config)
    collected = {"aws.autoscaling.launch_configuration": [lc]}
    assert judge("aws-autoscaling-launch-configuration-imdsv1", collected) == {lc.native_id}
    assert judge("aws-autoscaling-launch-configuration-public-ip", collected) == {lc.native_id}


def test_groups(ctx, estate):
    records = {r.name: r for r in collect(ctx, "aws.autoscaling.group")}
    web, old = records["web"], records["old"]
    assert web.config["launch_template"]["id"] == estate["web"] and web.config["health_check_type"] == "ELB"
    assert web.config["availability_zones"] == ["eu-west-1a", "eu-west-1b"]
    assert set(web.config["subnet_ids"]) == set(estate["subnets"]) and web.tags == {"team": "web"}
    assert rels(web, "launched_from") == {f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:launch-template/{estate['web']}"}
    assert len(rels(web, "in_subnet")) == 2
    [lc] = collect(ctx, "aws.autoscaling.launch_configuration")
    assert old.config["launch_configuration_name"] == "old-lc" and rels(old, "launched_from") == {lc.native_id}
    collected = {"aws.autoscaling.group": [web, old]}
    assert judge("aws-autoscaling-group-uses-launch-configuration", collected) == {old.native_id}
    assert judge("aws-autoscaling-group-single-az", collected) == {old.native_id}


def test_denied_listing_raises_for_the_engine(ctx, estate):
    fail_operation(ctx, "autoscaling", "DescribeAutoScalingGroups", code="AccessDenied")
    with pytest.raises(ClientError):
        collect(ctx, "aws.autoscaling.group")
