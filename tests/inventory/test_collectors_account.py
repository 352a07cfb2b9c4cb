"""Account and region settings collectors (aws.account.settings, aws.region.settings) against moto: a
record exists whatever is configured, every setting is read as it is, and a setting the identity may not
read is null and listed as unreadable, never "off". botocore's Stubber (or a before-call answer) stands in
for what moto lacks: IAM Access Analyzer, the default EBS key, per-type alternate-contact denials."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from inventory.collectors.aws import account as account_collectors
from inventory.collectors.aws import region_settings as region_collectors
from inventory.collectors.base import get_collector, volatile_keys
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    collect,
    fail_operation,
    make_context,
    moto_account,
    rels,
    stubbed,
)

FLAGS = ("block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets")


@pytest.fixture
def aws(monkeypatch):
    with moto_account(monkeypatch):
        yield


def answer_operation(ctx, service: str, operation_name: str, parsed: dict) -> None:
    """Answer one operation of ``ctx``'s ``service`` client with ``parsed`` (moto does not implement it)."""

    def answer(**_kwargs):
        return AWSResponse("https://example.invalid", 200, {}, None), {
            **parsed,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    ctx.client(service).meta.events.register(f"before-call.*.{operation_name}", answer)


def region_record(ctx):
    (record,) = collect(ctx, "aws.region.settings")
    json.dumps(record.config)
    return record


def test_registered_once_per_account_and_per_region():
    account = get_collector("aws.account.settings")
    region = get_collector("aws.region.settings")
    assert account.func is account_collectors.account_settings and not account.regional
    assert region.func is region_collectors.region_settings and region.regional
    # Config's delivery status changes on its own: never a change event.
    assert volatile_keys("aws.region.settings") == ("aws_config.recorders[].last_status",)


# --- Account settings ------------------------------------------------------------------------------


def test_an_account_with_nothing_configured_still_has_its_record(aws):
    (record,) = collect(make_context("global"), "aws.account.settings")
    assert record.native_id == f"arn:aws:account::{ACCOUNT_ID}:account"
    config = record.config
    assert config["account_id"] == ACCOUNT_ID
    for key in ("security", "billing", "operations"):
        assert config["alternate_contacts"][key] == {
            "configured": False,
            "name": None,
            "title": None,
            "email_address": None,
        }
    assert config["s3_public_access_block"] == {"configured": False, **dict.fromkeys(FLAGS, False)}
    assert config["unreadable"] == []


def test_configured_contacts_and_account_block(aws):
    boto3.client("account", region_name="us-east-1").put_alternate_contact(
        AlternateContactType="SECURITY",
        Name="Security team",
        Title="On call",
        EmailAddress="security@example.com",
        PhoneNumber="+1-555-0100",
    )
    boto3.client("s3control", region_name="us-east-1").put_public_access_block(
        AccountId=ACCOUNT_ID,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True},
    )
    (record,) = collect(make_context("global"), "aws.account.settings")
    contacts = record.config["alternate_contacts"]
    assert contacts["security"] == {
        "configured": True,
        "name": "Security team",
        "title": "On call",
        "email_address": "security@example.com",
    }
    assert contacts["billing"]["configured"] is False
    assert "555" not in json.dumps(record.config)  # phone numbers are not kept
    block = record.config["s3_public_access_block"]
    assert block["configured"] is True
    assert [block[f] for f in FLAGS] == [True, True, True, False]


def test_a_contact_type_the_identity_may_not_read_is_unreadable_not_missing(aws):
    """IAM can allow some contact types only (account:AlternateContactTypes): each type on its own."""
    ctx = make_context("global")
    with stubbed(ctx, "account") as stubber:
        stubber.add_client_error(
            "get_alternate_contact",
            "AccessDeniedException",
            http_status_code=403,
            expected_params={"AlternateContactType": "SECURITY"},
        )
        stubber.add_response(
            "get_alternate_contact",
            {"AlternateContact": {"AlternateContactType": "BILLING", "Name": "Finance", "EmailAddress": "f@x.test"}},
            {"AlternateContactType": "BILLING"},
        )
        stubber.add_client_error(
            "get_alternate_contact",
            "ResourceNotFoundException",
            http_status_code=404,
            expected_params={"AlternateContactType": "OPERATIONS"},
        )
        (record,) = collect(ctx, "aws.account.settings")
    contacts = record.config["alternate_contacts"]
    assert contacts["security"] is None
    assert contacts["billing"]["configured"] is True and contacts["billing"]["name"] == "Finance"
    assert contacts["operations"]["configured"] is False
    assert record.config["unreadable"] == ["alternate_contacts.security"]


def test_denied_account_reads_are_unreadable(aws):
    ctx = make_context("global")
    fail_operation(ctx, "account", "GetAlternateContact", code="AccessDeniedException")
    fail_operation(ctx, "s3control", "GetPublicAccessBlock", code="AccessDenied")
    (record,) = collect(ctx, "aws.account.settings")
    assert record.config["alternate_contacts"] == {"security": None, "billing": None, "operations": None}
    assert record.config["s3_public_access_block"] is None
    assert record.config["unreadable"] == [
        "alternate_contacts.billing",
        "alternate_contacts.operations",
        "alternate_contacts.security",
        "s3_public_access_block",
    ]


def test_throttling_of_an_account_read_propagates(aws):
    ctx = make_context("global")
    fail_operation(ctx, "s3control", "GetPublicAccessBlock", code="ThrottlingException", status=400)
    with pytest.raises(ClientError):
        collect(ctx, "aws.account.settings")


# --- Region settings -----------------------------------------------------------------------------


def test_a_region_with_everything_off_still_has_its_record(aws):
    ctx = make_context("eu-west-1")
    with stubbed(ctx, "accessanalyzer") as stubber:
        stubber.add_response("list_analyzers", {"analyzers": []}, {})
        record = region_record(ctx)
    assert record.native_id == f"arn:aws:account:eu-west-1:{ACCOUNT_ID}:region-settings"
    assert record.name == "Region settings (eu-west-1)"
    config = record.config
    assert config["region"] == "eu-west-1"
    assert config["ebs_encryption_by_default"] is False and config["ebs_default_kms_key_id"] is None
    assert config["guardduty"] == {
        "enabled": False,
        "detector_id": None,
        "status": None,
        "finding_publishing_frequency": None,
    }
    assert config["security_hub"]["enabled"] is False and config["security_hub"]["hub_arn"] is None
    assert config["aws_config"] == {"recording": False, "recorders": [], "delivery_channels": 0}
    assert config["access_analyzers"] == []
    assert config["trails"] == []
    assert config["unreadable"] == []
    # moto gives every region a default VPC, as AWS does.
    default_vpc = boto3.client("ec2", region_name="eu-west-1").describe_vpcs(
        Filters=[{"Name": "isDefault", "Values": ["true"]}]
    )["Vpcs"][0]["VpcId"]
    assert config["default_vpc_id"] == default_vpc
    assert rels(record, "associated_with") == {f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:vpc/{default_vpc}"}


def test_a_region_with_its_security_services_on(aws):
    region = "eu-west-1"
    detector = boto3.client("guardduty", region_name=region).create_detector(Enable=True)["DetectorId"]
    boto3.client("securityhub", region_name=region).enable_security_hub()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="acme-config")
    config_service = boto3.client("config", region_name=region)
    config_service.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/config",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config_service.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "acme-config"})
    config_service.start_configuration_recorder(ConfigurationRecorderName="default")
    ec2 = boto3.client("ec2", region_name=region)
    ec2.enable_ebs_encryption_by_default()
    key = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
    ctx = make_context(region)
    answer_operation(ctx, "ec2", "GetEbsDefaultKmsKeyId", {"KmsKeyId": key})  # moto lacks it
    analyzer = {
        "arn": f"arn:aws:access-analyzer:{region}:{ACCOUNT_ID}:analyzer/external",
        "name": "external",
        "type": "ACCOUNT",
        "createdAt": "2025-01-01T00:00:00Z",
        "status": "ACTIVE",
    }
    with stubbed(ctx, "accessanalyzer") as stubber:
        stubber.add_response("list_analyzers", {"analyzers": [analyzer]}, {})
        record = region_record(ctx)
    config = record.config
    assert config["ebs_encryption_by_default"] is True and config["ebs_default_kms_key_id"] == key
    assert rels(record, "encrypted_with") == {key}
    assert config["guardduty"]["enabled"] is True and config["guardduty"]["detector_id"] == detector
    assert config["guardduty"]["status"] == "ENABLED"
    hub = config["security_hub"]
    assert hub["enabled"] is True and hub["hub_arn"] == f"arn:aws:securityhub:{region}:{ACCOUNT_ID}:hub/default"
    assert hub["subscribed_at"].endswith("+00:00")
    recorder = config["aws_config"]["recorders"][0]
    assert config["aws_config"]["recording"] is True and config["aws_config"]["delivery_channels"] == 1
    assert recorder["name"] == "default" and recorder["recording"] is True
    assert recorder["all_supported"] is True and recorder["include_global_resource_types"] is True
    assert config["access_analyzers"] == [
        {"name": "external", "arn": analyzer["arn"], "type": "ACCOUNT", "status": "ACTIVE"}
    ]
    assert config["unreadable"] == []


def test_a_disabled_guardduty_detector(aws):
    guardduty = boto3.client("guardduty", region_name="eu-west-1")
    guardduty.create_detector(Enable=False)
    guardduty_config = region_record(make_context("eu-west-1")).config["guardduty"]
    assert guardduty_config["enabled"] is False and guardduty_config["status"] == "DISABLED"


@pytest.fixture
def trails(aws):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="acme-trail-logs")
    home = boto3.client("cloudtrail", region_name="us-east-1")
    home.create_trail(Name="org-audit", S3BucketName="acme-trail-logs", IsMultiRegionTrail=True)
    home.start_logging(Name="org-audit")
    eu = boto3.client("cloudtrail", region_name="eu-west-1")
    eu.create_trail(Name="eu-only", S3BucketName="acme-trail-logs")  # regional, never started
    return {
        "multi": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/org-audit",
        "eu": f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT_ID}:trail/eu-only",
    }


def test_each_region_lists_the_trails_that_log_it(trails):
    eu = region_record(make_context("eu-west-1"))
    assert [t["arn"] for t in eu.config["trails"]] == [trails["eu"], trails["multi"]]  # by ARN
    regional, multi = eu.config["trails"]
    assert multi == {
        "arn": trails["multi"],
        "name": "org-audit",
        "home_region": "us-east-1",
        "is_multi_region": True,
        "is_organization_trail": False,
        "is_logging": True,
        "event_selectors": {"management_events": True, "management_read_write_type": "All", "data_events": False},
    }
    assert regional["is_multi_region"] is False and regional["is_logging"] is False
    assert {trails["multi"], trails["eu"]} <= rels(eu, "associated_with")
    # A region with no trail of its own is still covered by the multi-region trail.
    elsewhere = region_record(make_context("ap-south-1"))
    assert [t["arn"] for t in elsewhere.config["trails"]] == [trails["multi"]]


def test_a_trail_recording_only_some_management_events(aws):
    """Custom event selectors are read by ARN (the trail is homed elsewhere); moto never reports
    HasCustomEventSelectors, so CloudTrail's answers are stubbed."""
    ctx = make_context("ap-south-1")
    trail_arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/org-audit"
    listed = {
        "Name": "org-audit",
        "TrailARN": trail_arn,
        "HomeRegion": "us-east-1",
        "IsMultiRegionTrail": True,
        "HasCustomEventSelectors": True,
    }
    with stubbed(ctx, "cloudtrail") as stubber:
        stubber.add_response("describe_trails", {"trailList": [listed]}, {"includeShadowTrails": True})
        stubber.add_response("get_trail_status", {"IsLogging": True}, {"Name": trail_arn})
        stubber.add_response(
            "get_event_selectors",
            {"EventSelectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]},
            {"TrailName": trail_arn},
        )
        (multi,) = region_record(ctx).config["trails"]
    assert multi["is_logging"] is True
    assert multi["event_selectors"] == {
        "management_events": True,
        "management_read_write_type": "WriteOnly",
        "data_events": False,
    }


def test_denied_trail_status_is_unreadable_per_trail(trails):
    ctx = make_context("eu-west-1")
    fail_operation(ctx, "cloudtrail", "GetTrailStatus", code="AccessDeniedException")
    config = region_record(ctx).config
    assert [t["is_logging"] for t in config["trails"]] == [None, None]
    assert config["unreadable"] == ["access_analyzers", "trail_status"]  # moto has no Access Analyzer


def test_denied_settings_are_unreadable_never_off(aws):
    ctx = make_context("eu-west-1")
    fail_operation(ctx, "ec2", "GetEbsEncryptionByDefault", code="UnauthorizedOperation")
    fail_operation(ctx, "guardduty", "ListDetectors", code="AccessDeniedException")
    fail_operation(ctx, "securityhub", "DescribeHub", code="AccessDeniedException")
    fail_operation(ctx, "config", "DescribeConfigurationRecorderStatus", code="AccessDeniedException")
    fail_operation(ctx, "cloudtrail", "DescribeTrails", code="AccessDeniedException")
    fail_operation(ctx, "accessanalyzer", "ListAnalyzers", code="AccessDeniedException")
    config = region_record(ctx).config
    for key in ("ebs_encryption_by_default", "guardduty", "security_hub", "aws_config", "trails", "access_analyzers"):
        assert config[key] is None, key
    assert config["unreadable"] == [
        "access_analyzers",
        "aws_config",
        "ebs_encryption_by_default",
        "guardduty",
        "security_hub",
        "trails",
    ]
    assert config["default_vpc_id"]  # the rest is still read


def test_an_api_the_endpoint_does_not_offer_is_unreadable(aws):
    """moto has no IAM Access Analyzer: it answers 404. Unknown, not "no analyzer"."""
    config = region_record(make_context("eu-west-1")).config
    assert config["access_analyzers"] is None and config["unreadable"] == ["access_analyzers"]


def test_the_main_listing_raises(aws):
    """A denied DescribeVpcs (or a region that is not enabled) fails the unit, like every collector."""
    ctx = make_context("eu-west-1")
    fail_operation(ctx, "ec2", "DescribeVpcs", code="UnauthorizedOperation")
    with pytest.raises(ClientError) as caught:
        collect(ctx, "aws.region.settings")
    assert caught.value.response["Error"]["Code"] == "UnauthorizedOperation"


def test_throttling_of_a_setting_read_propagates(aws):
    ctx = make_context("eu-west-1")
    fail_operation(ctx, "guardduty", "ListDetectors", code="TooManyRequestsException", status=429)
    with pytest.raises(ClientError):
        collect(ctx, "aws.region.settings")
