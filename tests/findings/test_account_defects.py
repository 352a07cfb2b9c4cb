"""Account- and region-level absences (issue #19): an account with no CloudTrail trail, or a region no
multi-region trail logs, got no finding, because rules only judged trails that exist. The account and
region settings records (aws.account.settings, aws.region.settings) make every absence judgeable. Each
case is reproduced in a moto account, synced by the real engine and judged by the built-in catalog."""

from __future__ import annotations

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from connections.providers import aws as aws_provider
from demo import aws as demo
from findings import compliance
from findings.models import Finding
from inventory import ratelimit
from inventory.models import Resource
from tests.inventory import sync_helpers as helpers
from tests.inventory.collector_helpers import ACCOUNT_ID

aws = helpers.aws
REGIONS = ["eu-west-1", "us-east-1"]
US, EU = "Region settings (us-east-1)", "Region settings (eu-west-1)"
BOTH = {US, EU}


@pytest.fixture(autouse=True)
def _full_speed(settings, monkeypatch):
    settings.SYNC_RATE_FRACTION = 1.0
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})


@pytest.fixture
def fake_aws(monkeypatch, aws):
    """Answers, at the session boundary, the two calls moto does not implement: IAM Access Analyzer's
    ListAnalyzers (per region, from ``analyzers``; a region not listed answers like moto, 404) and the
    EBS default KMS key."""
    analyzers: dict[str, list[dict]] = {}
    real = aws_provider.session_for

    def answer(parsed: dict):
        return AWSResponse("https://example.invalid", 200, {}, None), {
            **parsed,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    def list_analyzers(request_signer=None, **_kwargs):
        region = request_signer.region_name
        return answer({"analyzers": analyzers[region]}) if region in analyzers else None

    def session_for(*args, **kwargs):
        session = real(*args, **kwargs)
        session.events.register("before-call.accessanalyzer.ListAnalyzers", list_analyzers)
        session.events.register(
            "before-call.ec2.GetEbsDefaultKmsKeyId", lambda **_: answer({"KmsKeyId": "alias/aws/ebs"})
        )
        return session

    monkeypatch.setattr(aws_provider, "session_for", session_for)
    return analyzers


def _sync(org, owner):
    connection = demo.ensure_demo_connection(org, owner)
    connection.selected_regions = REGIONS
    connection.save()
    run = demo.sync_demo_connection(connection)
    assert run.status == "succeeded", run.warnings
    return connection


def _open(org, rule_id: str) -> set[str]:
    return set(
        Finding.objects.for_org(org).filter(rule_id=rule_id, status="open").values_list("resource__name", flat=True)
    )


def _cis(org, control: str) -> str:
    return next(r for r in compliance.framework_report(org, "cis-aws-3.0").controls if r.control == control).verdict


def _trail(region: str, name: str, *, multi_region: bool, logging: bool = True) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = f"trail-logs-{ACCOUNT_ID}"
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi_region)
    if logging:
        cloudtrail.start_logging(Name=name)


def test_an_account_without_any_trail_fails_cis_3_1_until_a_multi_region_trail_logs(org, owner, fake_aws):
    _sync(org, owner)
    assert _open(org, "aws-cloudtrail-region-not-covered") == BOTH
    # Before the region records, CIS 3.1 passed here: every trail rule passed over zero trails.
    assert _cis(org, "3.1") == compliance.FAIL

    _trail("us-east-1", "org-audit", multi_region=True)
    _sync(org, owner)
    assert _open(org, "aws-cloudtrail-region-not-covered") == set()
    assert _open(org, "aws-cloudtrail-region-not-logging") == set()
    assert _open(org, "aws-cloudtrail-region-no-multi-region-trail") == set()
    resolved = Finding.objects.for_org(org).filter(rule_id="aws-cloudtrail-region-not-covered", status="resolved")
    assert resolved.count() == 2
    assert _cis(org, "3.1") == compliance.PASS


def test_a_region_only_another_regions_trail_logs_is_not_covered(org, owner, fake_aws):
    _trail("eu-west-1", "eu-only", multi_region=False)
    _sync(org, owner)
    assert _open(org, "aws-cloudtrail-region-not-covered") == {US}
    # eu-west-1 is logged, but by a single-region trail: CIS 3.1 asks for a multi-region one.
    assert _open(org, "aws-cloudtrail-region-no-multi-region-trail") == {EU}


def test_trails_that_stopped_logging(org, owner, fake_aws):
    _trail("us-east-1", "org-audit", multi_region=True, logging=False)
    _sync(org, owner)
    assert _open(org, "aws-cloudtrail-region-not-logging") == BOTH
    assert _open(org, "aws-cloudtrail-region-not-covered") == set()


def test_security_services_and_defaults_are_judged_per_region(org, owner, fake_aws):
    """us-east-1 has GuardDuty, Security Hub, AWS Config, EBS encryption by default and an analyzer;
    eu-west-1 has none of them: each absence is a finding there, and only there."""
    home = "us-east-1"
    boto3.client("guardduty", region_name=home).create_detector(Enable=True)
    boto3.client("securityhub", region_name=home).enable_security_hub()
    boto3.client("s3", region_name=home).create_bucket(Bucket="acme-config")
    config = boto3.client("config", region_name=home)
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/config",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "acme-config"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    boto3.client("ec2", region_name=home).enable_ebs_encryption_by_default()
    fake_aws[home] = [{"name": "external", "arn": "arn:x", "type": "ACCOUNT", "status": "ACTIVE", "createdAt": 0}]
    fake_aws["eu-west-1"] = []
    _sync(org, owner)
    for rule_id in (
        "aws-guardduty-disabled",
        "aws-securityhub-disabled",
        "aws-config-not-recording",
        "aws-ebs-default-encryption-off",
        "aws-access-analyzer-missing",
    ):
        assert _open(org, rule_id) == {EU}, rule_id
    assert _cis(org, "4.16") == _cis(org, "3.3") == _cis(org, "1.20") == compliance.FAIL


def test_a_setting_that_could_not_be_read_is_no_finding(org, owner, fake_aws):
    """moto has no IAM Access Analyzer (fake_aws answers no region here): unknown is never "missing"."""
    _sync(org, owner)
    assert _open(org, "aws-access-analyzer-missing") == set()
    records = Resource.objects.for_org(org).filter(resource_type="aws.region.settings")
    assert {r.name for r in records} == BOTH
    assert all(r.config["access_analyzers"] is None and "access_analyzers" in r.config["unreadable"] for r in records)
    # Nor is it a pass: the rule and CIS 1.20 are "not evaluated" where the analyzers could not be read.
    assert _cis(org, "1.20") == compliance.NOT_EVALUATED


def test_default_vpcs(org, owner, fake_aws):
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    default = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    for gateway in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [default]}])[
        "InternetGateways"
    ]:
        ec2.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=default)
    ec2.delete_vpc(VpcId=default)
    _sync(org, owner)
    assert _open(org, "aws-default-vpc-present") == {US}


def test_account_settings(org, owner, fake_aws):
    name = f"Account settings ({ACCOUNT_ID})"
    _sync(org, owner)
    assert _open(org, "aws-account-security-contact-missing") == {name}
    assert _open(org, "aws-s3-account-public-access-block-off") == {name}

    boto3.client("account", region_name="us-east-1").put_alternate_contact(
        AlternateContactType="SECURITY", Name="Security", Title="Team", EmailAddress="sec@example.com", PhoneNumber="1"
    )
    boto3.client("s3control", region_name="us-east-1").put_public_access_block(
        AccountId=ACCOUNT_ID,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    _sync(org, owner)
    assert _open(org, "aws-account-security-contact-missing") == set()
    assert _open(org, "aws-s3-account-public-access-block-off") == set()
