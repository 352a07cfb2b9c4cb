"""CloudTrail trail and KMS key collectors against moto; Stubber for KMS pages and AWS-managed keys (moto
lists none) and for advanced event selectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.aws import cloudtrail as cloudtrail_collectors
from inventory.collectors.aws import kms as kms_collectors
from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    collect,
    fail_operation,
    make_context,
    moto_account,
    no_detail_threads,
    rels,
    stubbed,
)


@pytest.fixture
def aws(monkeypatch):
    """A moto account; collectors get contexts per region with make_context(region)."""
    with moto_account(monkeypatch):
        yield


def test_registered_as_regional_collectors():
    trail = get_collector("aws.cloudtrail.trail")
    key = get_collector("aws.kms.key")
    assert trail.func is cloudtrail_collectors.trails and trail.regional and trail.service == "cloudtrail"
    assert key.func is kms_collectors.keys and key.regional and key.service == "kms"


# --- CloudTrail ----------------------------------------------------------------------------------


@pytest.fixture
def trails(aws):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="acme-trail-logs")
    key = boto3.client("kms", region_name="us-east-1").create_key(Description="trail")["KeyMetadata"]["Arn"]
    ct = boto3.client("cloudtrail", region_name="us-east-1")
    ct.create_trail(
        Name="org-audit",
        S3BucketName="acme-trail-logs",
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        TagsList=[{"Key": "owner", "Value": "security"}],
    )
    ct.start_logging(Name="org-audit")
    ct.create_trail(Name="local-only", S3BucketName="acme-trail-logs", IncludeGlobalServiceEvents=False)
    eu = boto3.client("cloudtrail", region_name="eu-west-1")
    eu.create_trail(Name="eu-trail", S3BucketName="acme-trail-logs")
    return {"key": key}


def trail_arn(region: str, name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{ACCOUNT_ID}:trail/{name}"


def test_trail_configuration(trails):
    records = {r.name: r for r in collect(make_context("us-east-1"), "aws.cloudtrail.trail")}
    assert set(records) == {"org-audit", "local-only"}
    audit = records["org-audit"]
    assert audit.native_id == trail_arn("us-east-1", "org-audit")
    config = audit.config
    json.dumps(config)
    assert config["is_multi_region"] is True
    assert config["is_organization_trail"] is False
    assert config["include_global_events"] is True
    assert config["log_file_validation"] is True
    assert config["kms_key_id"] == trails["key"]
    assert config["s3_bucket_name"] == "acme-trail-logs"
    assert config["is_logging"] is True
    assert datetime.fromisoformat(config["latest_delivery_time"]).tzinfo is not None
    assert config["has_event_selectors"] is False
    assert config["event_selectors"] == {
        "management_events": True,
        "management_read_write_type": "All",
        "data_events": False,
    }
    assert config["unreadable"] == []
    assert audit.tags == {"owner": "security"}
    assert rels(audit, "logs_to") == {"arn:aws:s3:::acme-trail-logs"}
    assert rels(audit, "encrypted_with") == {trails["key"]}

    local = records["local-only"].config
    assert local["is_multi_region"] is False and local["is_logging"] is False
    assert local["include_global_events"] is False and local["log_file_validation"] is False
    assert local["kms_key_id"] is None and rels(records["local-only"], "encrypted_with") == set()


def test_multi_region_trail_recorded_only_in_its_home_region(trails):
    eu = {r.name for r in collect(make_context("eu-west-1"), "aws.cloudtrail.trail")}
    assert eu == {"eu-trail"}
    assert {r.name for r in collect(make_context("ap-south-1"), "aws.cloudtrail.trail")} == set()


def test_home_region_filter_with_a_shadow_listed(aws):
    """Even if DescribeTrails lists a trail homed elsewhere (another account's organization trail), only
    the run of its home region records it."""
    ctx = no_detail_threads(make_context("eu-west-1"))
    listed = {
        "trailList": [
            {
                "Name": "org",
                "TrailARN": "arn:aws:cloudtrail:us-east-1:222222222222:trail/org",
                "HomeRegion": "us-east-1",
                "IsOrganizationTrail": True,
                "S3BucketName": "org-logs",
            },
            {
                "Name": "mine",
                "TrailARN": trail_arn("eu-west-1", "mine"),
                "HomeRegion": "eu-west-1",
                "S3BucketName": "my-logs",
                "HasCustomEventSelectors": True,
            },
        ]
    }
    with stubbed(ctx, "cloudtrail") as stubber:
        stubber.add_response("describe_trails", listed, {"includeShadowTrails": False})
        stubber.add_response(
            "list_tags",
            {"ResourceTagList": [{"ResourceId": trail_arn("eu-west-1", "mine"), "TagsList": []}]},
            {"ResourceIdList": [trail_arn("eu-west-1", "mine")]},
        )
        stubber.add_response("get_trail_status", {"IsLogging": True}, {"Name": trail_arn("eu-west-1", "mine")})
        stubber.add_response(
            "get_event_selectors",
            {
                "AdvancedEventSelectors": [
                    {
                        "Name": "writes",
                        "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Management"]},
                            {"Field": "readOnly", "Equals": ["false"]},
                        ],
                    },
                    {
                        "Name": "s3 data",
                        "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Data"]},
                            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                        ],
                    },
                ]
            },
            {"TrailName": trail_arn("eu-west-1", "mine")},
        )
        (record,) = collect(ctx, "aws.cloudtrail.trail")
    assert record.name == "mine"
    assert record.config["event_selectors"] == {
        "management_events": True,
        "management_read_write_type": "WriteOnly",
        "data_events": True,
    }
    assert record.config["latest_delivery_time"] is None


def test_basic_event_selectors_summary():
    summary = cloudtrail_collectors.summarize_event_selectors(
        {
            "EventSelectors": [
                {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True},
                {
                    "ReadWriteType": "WriteOnly",
                    "IncludeManagementEvents": True,
                    "DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}],
                },
            ]
        }
    )
    assert summary == {"management_events": True, "management_read_write_type": "All", "data_events": True}
    none = cloudtrail_collectors.summarize_event_selectors(
        {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]}
    )
    assert none == {"management_events": False, "management_read_write_type": None, "data_events": False}


def test_denied_trail_status_is_unreadable(trails):
    ctx = make_context("us-east-1")
    fail_operation(ctx, "cloudtrail", "GetTrailStatus", code="AccessDeniedException")
    audit = {r.name: r for r in collect(ctx, "aws.cloudtrail.trail")}["org-audit"]
    assert audit.config["is_logging"] is None and audit.config["unreadable"] == ["status"]
    assert audit.config["is_multi_region"] is True


def test_denied_describe_trails_raises_unchanged(trails):
    ctx = make_context("us-east-1")
    fail_operation(ctx, "cloudtrail", "DescribeTrails", code="AccessDeniedException")
    with pytest.raises(ClientError) as caught:
        collect(ctx, "aws.cloudtrail.trail")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


# --- KMS -----------------------------------------------------------------------------------------


@pytest.fixture
def keys(aws):
    kms = boto3.client("kms", region_name="eu-west-1")
    app = kms.create_key(
        Description="app data", KeyUsage="ENCRYPT_DECRYPT", Tags=[{"TagKey": "team", "TagValue": "core"}]
    )["KeyMetadata"]
    kms.enable_key_rotation(KeyId=app["KeyId"])
    kms.create_alias(AliasName="alias/app", TargetKeyId=app["KeyId"])
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", MultiRegion=True)["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=signing["KeyId"], PendingWindowInDays=7)
    plain = kms.create_key(Description="no rotation")["KeyMetadata"]
    return {"app": app, "signing": signing, "plain": plain}


def test_customer_managed_keys(keys):
    records = {r.native_id: r for r in collect(make_context("eu-west-1"), "aws.kms.key")}
    assert set(records) == {keys["app"]["Arn"], keys["signing"]["Arn"], keys["plain"]["Arn"]}
    app = records[keys["app"]["Arn"]]
    assert app.name == "app"
    config = app.config
    json.dumps(config)
    assert config["key_manager"] == "CUSTOMER"
    assert config["key_state"] == "Enabled" and config["enabled"] is True
    assert config["key_spec"] == "SYMMETRIC_DEFAULT" and config["key_usage"] == "ENCRYPT_DECRYPT"
    assert config["rotation_supported"] is True and config["rotation_enabled"] is True
    assert config["creation_date"].endswith("+00:00")
    assert config["aliases"] == ["alias/app"]
    assert config["multi_region"] is False
    assert config["deletion_date"] is None
    assert config["unreadable"] == []
    assert app.tags == {"team": "core"}

    assert records[keys["plain"]["Arn"]].config["rotation_enabled"] is False

    signing = records[keys["signing"]["Arn"]].config
    assert signing["key_state"] == "PendingDeletion"
    assert signing["deletion_date"] is not None
    assert signing["multi_region"] is True and signing["multi_region_key_type"] == "PRIMARY"
    assert signing["key_spec"] == "RSA_2048" and signing["key_usage"] == "SIGN_VERIFY"
    assert signing["rotation_supported"] is False and signing["rotation_enabled"] is False


def test_keys_are_regional(keys):
    assert collect(make_context("us-east-1"), "aws.kms.key") == []


def test_denied_rotation_status_is_unreadable(keys):
    ctx = make_context("eu-west-1")
    fail_operation(ctx, "kms", "GetKeyRotationStatus", code="AccessDeniedException")
    app = {r.native_id: r for r in collect(ctx, "aws.kms.key")}[keys["app"]["Arn"]]
    assert app.config["rotation_enabled"] is None and app.config["unreadable"] == ["rotation_enabled"]


def test_denied_list_keys_raises_unchanged(keys):
    ctx = make_context("eu-west-1")
    fail_operation(ctx, "kms", "ListKeys", code="AccessDeniedException")
    with pytest.raises(ClientError) as caught:
        collect(ctx, "aws.kms.key")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_pages_of_keys_and_aws_managed_keys_skipped(aws):
    ctx = no_detail_threads(make_context("eu-west-1"))

    def key_arn(key_id: str) -> str:
        return f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/{key_id}"

    def metadata(key_id: str, manager: str) -> dict:
        return {
            "KeyMetadata": {
                "AWSAccountId": ACCOUNT_ID,
                "KeyId": key_id,
                "Arn": key_arn(key_id),
                "CreationDate": datetime(2024, 1, 1, tzinfo=UTC),
                "Enabled": True,
                "KeyUsage": "ENCRYPT_DECRYPT",
                "KeyState": "Enabled",
                "Origin": "AWS_KMS",
                "KeyManager": manager,
                "KeySpec": "SYMMETRIC_DEFAULT",
            }
        }

    with stubbed(ctx, "kms") as stubber:
        stubber.add_response(
            "list_keys",
            {
                "Keys": [{"KeyId": "aws-s3", "KeyArn": key_arn("aws-s3")}, {"KeyId": "k1", "KeyArn": key_arn("k1")}],
                "Truncated": True,
                "NextMarker": "m1",
            },
            {},
        )
        # Aliases are read once, after the first page: alias/aws/* marks AWS-managed keys, never described.
        stubber.add_response(
            "list_aliases",
            {
                "Aliases": [
                    {"AliasName": "alias/aws/s3", "TargetKeyId": "aws-s3"},
                    {"AliasName": "alias/k1", "TargetKeyId": "k1"},
                ]
            },
            {},
        )
        stubber.add_response("describe_key", metadata("k1", "CUSTOMER"), {"KeyId": "k1"})
        stubber.add_response("get_key_rotation_status", {"KeyRotationEnabled": False}, {"KeyId": "k1"})
        stubber.add_response("list_resource_tags", {"Tags": [], "Truncated": False}, {"KeyId": "k1"})
        stubber.add_response(
            "list_keys",
            {"Keys": [{"KeyId": "aws-unaliased", "KeyArn": key_arn("aws-unaliased")}], "Truncated": False},
            {"Marker": "m1"},
        )
        # An AWS-managed key without an alias is only known as such once described.
        stubber.add_response("describe_key", metadata("aws-unaliased", "AWS"), {"KeyId": "aws-unaliased"})
        (record,) = collect(ctx, "aws.kms.key")
    assert record.native_id == key_arn("k1") and record.name == "k1"
    assert record.config["rotation_enabled"] is False and record.config["aliases"] == ["alias/k1"]
