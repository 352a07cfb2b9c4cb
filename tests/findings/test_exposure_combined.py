"""Combined findings ("toxic combinations") against moto: each is raised only when its whole chain holds,
shows the chain, and resolves when a link goes away."""

from __future__ import annotations

import json

import boto3
import pytest

from findings.models import Finding
from inventory import ratelimit
from tests.findings.exposure_estate import REGION, Network, resource, sync_and_evaluate
from tests.findings.test_exposure_aws import _database
from tests.inventory.collector_helpers import moto_account
from tests.inventory.sync_helpers import make_connection

ADMIN_ROLE_RULE = "aws-ec2-instance-exposed-admin-role"
TRAIL_BUCKET_RULE = "aws-s3-public-bucket-holds-trail-logs"
DB_RULE = "aws-rds-exposed-unencrypted"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.fixture(autouse=True)
def _full_speed(settings, monkeypatch):
    settings.SYNC_RATE_FRACTION = 1.0
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})


@pytest.fixture
def aws(monkeypatch):
    """moto with IAM's AWS-managed policies (AdministratorAccess, ReadOnlyAccess) loaded."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    with moto_account(monkeypatch):
        yield


@pytest.fixture
def conn(org, aws):
    return make_connection(org, regions=[REGION])


def _profile(name: str, policy_arn: str | None = None, document: dict | None = None) -> str:
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    if policy_arn:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    if document:
        arn = iam.create_policy(PolicyName=f"{name}-policy", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    # A profile named unlike its role: the link must come from IAM, not from the names.
    profile = iam.create_instance_profile(InstanceProfileName=f"{name}-profile")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=f"{name}-profile", RoleName=name)
    return profile["Arn"]


def _open(org, rule_id: str) -> list[Finding]:
    return list(Finding.objects.for_org(org).filter(rule_id=rule_id, status=Finding.Status.OPEN))


def test_exposed_instance_with_admin_role(org, conn):
    net = Network.build()
    net.instance("web-1", net.group("web", [443]), profile_arn=_profile("web-admin", ADMIN_ARN))
    sync_and_evaluate(conn)

    [found] = _open(org, ADMIN_ROLE_RULE)
    assert found.resource == resource(org, "aws.ec2.instance", "web-1")
    assert found.severity == "critical"
    chain = found.detail["chain"]
    assert [s["type"] for s in chain] == [
        "internet",
        "aws.ec2.internet_gateway",
        "aws.ec2.route_table",
        "aws.ec2.subnet",
        "aws.ec2.security_group",
        "aws.ec2.instance",
        "aws.iam.role",
    ]
    assert chain[-1]["name"] == "web-admin"
    assert chain[-1]["link"] == (
        "instance profile web-admin-profile holds this role; AWS managed policy AdministratorAccess allows *:* on *"
    )

    # Close the only open rule: the instance is latent, the combination resolves.
    net.ec2.revoke_security_group_ingress(
        GroupId=net.groups["web"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    sync_and_evaluate(conn)
    found.refresh_from_db()
    assert found.status == Finding.Status.RESOLVED


def test_customer_policy_allowing_everything_counts_as_admin(org, conn):
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    net = Network.build()
    net.instance("web-1", net.group("web", [22]), profile_arn=_profile("web-star", document=everything))
    sync_and_evaluate(conn)
    [found] = _open(org, ADMIN_ROLE_RULE)
    assert found.detail["chain"][-1]["link"].endswith("policy web-star-policy allows * on *")


@pytest.mark.parametrize("case", ["role not admin", "instance latent"])
def test_no_admin_combination_without_the_whole_chain(org, conn, case):
    net = Network.build(route=case != "instance latent")
    policy = "arn:aws:iam::aws:policy/ReadOnlyAccess" if case == "role not admin" else ADMIN_ARN
    net.instance("web-1", net.group("web", [443]), profile_arn=_profile("web", policy))
    sync_and_evaluate(conn)
    assert _open(org, ADMIN_ROLE_RULE) == []
    assert _open(org, "aws-ec2-instance-exposed-to-internet")  # the instance itself is still reported


def _trail_bucket(public: bool) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="audit-logs-example", CreateBucketConfiguration={"LocationConstraint": REGION})
    statements = [
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::audit-logs-example/*",
        }
    ]
    if public:
        statements.append(
            {
                "Sid": "Everyone",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::audit-logs-example/*",
            }
        )
    s3.put_bucket_policy(
        Bucket="audit-logs-example", Policy=json.dumps({"Version": "2012-10-17", "Statement": statements})
    )
    boto3.client("cloudtrail", region_name=REGION).create_trail(Name="org-trail", S3BucketName="audit-logs-example")


def test_public_bucket_holding_trail_logs(org, conn):
    _trail_bucket(public=True)
    sync_and_evaluate(conn)
    [found] = _open(org, TRAIL_BUCKET_RULE)
    assert found.resource_name == "audit-logs-example"
    assert found.severity == "critical"
    assert [(s["type"], s["name"]) for s in found.detail["chain"]] == [
        ("internet", "Internet"),
        ("aws.s3.bucket", "audit-logs-example"),
        ("aws.cloudtrail.trail", "org-trail"),
    ]
    assert found.detail["chain"][1]["link"] == "readable from the internet: its policy allows Principal *"


def test_private_trail_bucket_is_no_combination(org, conn):
    _trail_bucket(public=False)
    sync_and_evaluate(conn)
    assert _open(org, TRAIL_BUCKET_RULE) == []


@pytest.mark.parametrize(
    ("route", "encrypted", "raised"), [(True, False, True), (False, False, False), (True, True, False)]
)
def test_exposed_unencrypted_database(org, conn, route, encrypted, raised):
    net = Network.build(route=route)
    _database(net, net.group("db", [5432]), encrypted=encrypted)
    sync_and_evaluate(conn)
    found = _open(org, DB_RULE)
    assert bool(found) is raised
    if raised:
        chain = found[0].detail["chain"]
        assert chain[0]["type"] == "internet" and chain[-1]["name"] == "orders"
        assert chain[-1]["link"].endswith("; storage not encrypted")
