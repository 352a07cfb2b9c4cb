"""The sync engine with the real AWS collectors, against moto (in-process, MOTO_EC2_LOAD_DEFAULT_AMIS=false):
the demo account end to end with its relationships, a 500+ resource account over two regions, and a
real collector denied access while the rest completes."""

from __future__ import annotations

import boto3
import pytest

from demo import aws as demo
from inventory import ratelimit
from inventory.collectors import base
from inventory.models import Relationship, Resource, ResourceChange, SyncRun
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import client_error, make_connection, sync_now

# Fixtures (tests/inventory/sync_helpers.py)
aws = helpers.aws


S = SyncRun.Status


@pytest.fixture(autouse=True)
def _full_speed(settings, monkeypatch):
    """moto has no quota to protect: scan at the documented rates, with fresh buckets per test."""
    settings.SYNC_RATE_FRACTION = 1.0
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})


def by_name(org, resource_type: str) -> dict[str, Resource]:
    return {r.name: r for r in Resource.objects.for_org(org).filter(resource_type=resource_type)}


def related(org, source: Resource, kind: str) -> set[str]:
    rels = Relationship.objects.for_org(org).filter(source=source, kind=kind).select_related("target")
    return {r.target.name for r in rels}


def test_the_demo_account_end_to_end(org, owner, aws):
    assert demo.seed_aws_account(allow_real_endpoint=True)
    assert not demo.seed_aws_account(allow_real_endpoint=True), "seeding is idempotent"
    connection = demo.ensure_demo_connection(org, owner)
    assert demo.ensure_demo_connection(org, owner).pk == connection.pk
    assert connection.selected_regions == ["us-east-1", "eu-west-1"]

    run = demo.sync_demo_connection(connection)
    assert run.status == S.SUCCEEDED, run.warnings
    assert run.completeness_percent == 100.0
    assert run.api_calls > 50
    types = set(run.counts["by_type"])
    for expected in (
        "aws.ec2.instance",
        "aws.ec2.volume",
        "aws.ec2.snapshot",
        "aws.ec2.image",
        "aws.ec2.security_group",
        "aws.ec2.vpc",
        "aws.ec2.subnet",
        "aws.ec2.route_table",
        "aws.ec2.internet_gateway",
        "aws.ec2.nat_gateway",
        "aws.ec2.network_interface",
        "aws.ec2.elastic_ip",
        "aws.elbv2.load_balancer",
        "aws.elbv2.target_group",
        "aws.s3.bucket",
        "aws.rds.db_instance",
        "aws.lambda.function",
        "aws.iam.user",
        "aws.iam.role",
        "aws.iam.policy",
        "aws.iam.group",
        "aws.iam.password_policy",
        "aws.cloudtrail.trail",
        "aws.kms.key",
    ):
        assert expected in types, f"{expected} not collected"
    assert set(run.coverage["aws.ec2.instance"]) == {"us-east-1", "eu-west-1"}
    assert run.coverage["aws.iam.user"] == {"global": "collected"}

    instances = by_name(org, "aws.ec2.instance")
    web = instances["demo-web-1"]
    assert web.region == "us-east-1" and web.config and web.tags["Role"] == "web"
    assert related(org, web, "in_subnet") == {"demo-public-a"}
    assert "demo-web" in related(org, web, "uses_security_group")
    volumes = by_name(org, "aws.ec2.volume")
    assert related(org, volumes["demo-data"], "attached_to") == {"demo-web-1"}
    assert not related(org, volumes["demo-orphaned-scratch"], "attached_to")
    subnet = by_name(org, "aws.ec2.subnet")["demo-private-a"]
    assert related(org, subnet, "in_vpc") == {"demo-vpc"}
    buckets = {r.name: r for r in Resource.objects.for_org(org).filter(resource_type="aws.s3.bucket")}
    assert buckets["demo-public-assets-123456789012"].region == "eu-west-1"
    assert buckets["demo-logs-123456789012"].region == "us-east-1"
    function = Resource.objects.for_org(org).get(resource_type="aws.lambda.function")
    assert "not-shown-in-cloustral" not in str(function.config), "environment values are never stored"
    assert Relationship.objects.for_org(org).filter(kind="uses_role", source=function).exists()

    # Stable: a second scan keeps every id; the only change is our own role's "last used" date.
    ids = dict(Resource.objects.for_org(org).values_list("native_id", "id"))
    again = demo.sync_demo_connection(connection)
    assert (again.created_count, again.deleted_count) == (0, 0)
    assert dict(Resource.objects.for_org(org).values_list("native_id", "id")) == ids
    for change in ResourceChange.objects.for_org(org).filter(sync_run=again):
        assert change.resource_type == "aws.iam.role" and set(change.diff) <= {"config.last_used.date"}

    # A real change in the account shows up as a field-level change.
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.create_tags(
        Resources=[web.config.get("instance_id") or web.native_id.rsplit("/", 1)[-1]],
        Tags=[{"Key": "Owner", "Value": "ada"}],
    )
    ec2.stop_instances(InstanceIds=[web.native_id.rsplit("/", 1)[-1]])
    third = demo.sync_demo_connection(connection)
    change = ResourceChange.objects.for_org(org).get(sync_run=third, native_id=web.native_id)
    assert change.kind == "modified" and change.resource_id == web.pk
    assert change.diff["tags.Owner"] == {"old": None, "new": "ada"}


def _seed_many(region: str, vpcs: int = 3, subnets_per_vpc: int = 8, groups: int = 150, volumes: int = 100) -> int:
    ec2 = boto3.client("ec2", region_name=region)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    created = 0
    for v in range(vpcs):
        vpc = ec2.create_vpc(CidrBlock=f"10.{v}.0.0/16")["Vpc"]["VpcId"]
        created += 1
        for s in range(subnets_per_vpc):
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{v}.{s}.0/24", AvailabilityZone=zone)
            created += 1
        for g in range(groups // vpcs):
            ec2.create_security_group(GroupName=f"sg-{v}-{g}", Description="load", VpcId=vpc)
            created += 1
    for i in range(volumes):
        ec2.create_volume(
            AvailabilityZone=zone,
            Size=1 + i % 50,
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": f"vol-{i}"}]}],
        )
        created += 1
    return created


def test_a_500_plus_resource_account_over_two_regions(org, aws):
    seeded = sum(_seed_many(region) for region in ("eu-west-1", "us-east-1"))
    connection = make_connection(org, regions=["eu-west-1", "us-east-1"])
    run = sync_now(connection)
    assert run.status == S.SUCCEEDED, run.warnings
    # Plus what every VPC brings along (default security group, main route table) and the IAM singletons.
    assert run.resource_count >= seeded >= 500
    assert run.counts["by_type"]["aws.ec2.volume"] == 200
    assert run.counts["by_type"]["aws.ec2.subnet"] >= 48
    assert Resource.objects.for_org(org).count() == run.resource_count
    assert Relationship.objects.for_org(org).filter(kind="in_vpc").count() >= 48 + 300

    ids = dict(Resource.objects.for_org(org).values_list("native_id", "id"))
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    doomed = ec2.describe_volumes()["Volumes"][0]["VolumeId"]
    ec2.delete_volume(VolumeId=doomed)
    again = sync_now(connection)
    assert (again.created_count, again.modified_count, again.deleted_count) == (0, 0, 1)
    remaining = dict(Resource.objects.for_org(org).values_list("native_id", "id"))
    assert len(remaining) == len(ids) - 1 and all(ids[k] == v for k, v in remaining.items())


def test_a_real_collector_denied_access(org, aws, monkeypatch):
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    ec2.create_vpc(CidrBlock="10.0.0.0/16")
    boto3.client("iam").create_user(UserName="ada")
    connection = make_connection(org, regions=["eu-west-1"])
    sync_now(connection)
    users_before = set(Resource.objects.for_org(org).filter(resource_type="aws.iam.user").values_list("id", flat=True))

    def denied(ctx):
        ctx.call("iam", "list_users")  # a real call first, then AWS says no
        raise client_error("AccessDenied", "ListUsers")

    entry = base.get_collector("aws.iam.user")
    monkeypatch.setitem(base._REGISTRY, "aws.iam.user", base.Collector("aws", "iam.user", "iam", False, denied))
    ec2.create_vpc(CidrBlock="10.1.0.0/16")
    run = sync_now(connection)

    assert run.status == S.PARTIAL
    assert run.coverage["aws.iam.user"] == {"global": "denied"}
    assert run.coverage["aws.ec2.vpc"] == {"eu-west-1": "collected"}
    assert run.completeness_percent < 100
    assert run.created_count >= 1  # the new VPC (and what comes with it)
    assert set(Resource.objects.for_org(org).filter(resource_type="aws.iam.user").values_list("id", flat=True)) == (
        users_before
    )
    assert entry.func is not denied


def test_a_5000_resource_account_across_three_regions(org, aws):
    regions = ("eu-west-1", "us-east-1", "ap-southeast-2")
    seeded = sum(_seed_many(region, groups=1200, volumes=450) for region in regions)
    assert seeded >= 5000
    connection = make_connection(org, regions=list(regions))
    run = sync_now(connection)
    assert run.status == S.SUCCEEDED, run.warnings
    assert run.resource_count >= seeded
    assert run.completeness_percent == 100
    assert Resource.objects.for_org(org).count() == run.resource_count
    assert {r for r in Resource.objects.for_org(org).values_list("region", flat=True).distinct()} >= set(regions)
    again = sync_now(connection)
    assert (again.created_count, again.modified_count, again.deleted_count) == (0, 0, 0)
