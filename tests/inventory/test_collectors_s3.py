"""The S3 bucket collector against moto; botocore's Stubber for ListBuckets pages with BucketRegion
(moto leaves it out) and for the "not configured" error codes."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.aws import s3 as s3_collectors
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

FLAGS = ("block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets")


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context("global")


@pytest.fixture
def s3(ctx):
    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def kms_key(ctx):
    return boto3.client("kms", region_name="eu-west-1").create_key(Description="data")["KeyMetadata"]["Arn"]


@pytest.fixture
def buckets(s3, kms_key):
    """A bare bucket in us-east-1, a log target and a fully configured bucket in eu-west-1 (S3 logs only
    within a region)."""
    s3.create_bucket(Bucket="acme-bare")
    s3.create_bucket(Bucket="acme-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_acl(Bucket="acme-logs", ACL="log-delivery-write")
    s3.create_bucket(Bucket="acme-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_encryption(
        Bucket="acme-data",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_bucket_versioning(Bucket="acme-data", VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(
        Bucket="acme-data",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False,
        },
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-data/*"}
        ],
    }
    s3.put_bucket_policy(Bucket="acme-data", Policy=json.dumps(policy))
    s3.put_bucket_acl(Bucket="acme-data", ACL="public-read")
    s3.put_bucket_logging(
        Bucket="acme-data",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "acme-logs", "TargetPrefix": "data/"}},
    )
    s3.put_bucket_ownership_controls(
        Bucket="acme-data", OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    )
    s3.put_bucket_tagging(Bucket="acme-data", Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]})
    boto3.client("s3control", region_name="us-east-1").put_public_access_block(
        AccountId=ACCOUNT_ID,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )


def test_registered_as_a_global_s3_collector():
    entry = get_collector("aws.s3.bucket")
    assert entry.service == "s3" and not entry.regional and entry.func is s3_collectors.buckets


def test_configured_bucket(ctx, buckets, kms_key):
    records = {r.name: r for r in collect(ctx, "aws.s3.bucket")}
    assert set(records) == {"acme-bare", "acme-logs", "acme-data"}
    data = records["acme-data"]
    assert data.native_id == "arn:aws:s3:::acme-data"
    assert data.region == "eu-west-1"
    config = data.config
    json.dumps(config)  # JSON-serialisable
    assert config["region"] == "eu-west-1"
    assert datetime.fromisoformat(config["creation_date"]).tzinfo == UTC
    assert config["encryption"] == {
        "enabled": True,
        "algorithm": "aws:kms",
        "kms_key_id": kms_key,
        "bucket_key_enabled": True,
    }
    assert config["versioning"] == {"status": "Enabled", "mfa_delete": False}
    assert config["public_access_block"] == {
        "block_public_acls": True,
        "ignore_public_acls": False,
        "block_public_policy": True,
        "restrict_public_buckets": False,
    }
    assert config["account_public_access_block"] == {
        "block_public_acls": False,
        "ignore_public_acls": True,
        "block_public_policy": False,
        "restrict_public_buckets": False,
    }
    assert config["effective_public_access_block"] == {
        "block_public_acls": True,
        "ignore_public_acls": True,
        "block_public_policy": True,
        "restrict_public_buckets": False,
    }
    assert config["policy_status"] == {"has_policy": True, "is_public": True}
    assert config["acl"]["public_acl"] is True
    assert config["acl"]["public_permissions"] == ["READ"]
    assert {
        "grantee_type": "Group",
        "grantee": "http://acs.amazonaws.com/groups/global/AllUsers",
        "permission": "READ",
    } in config["acl"]["grants"]
    owner_grant = next(g for g in config["acl"]["grants"] if g["grantee_type"] == "CanonicalUser")
    assert owner_grant == {
        "grantee_type": "CanonicalUser",
        "grantee": config["acl"]["owner_id"],
        "permission": "FULL_CONTROL",
    }
    assert config["logging"] == {"enabled": True, "target_bucket": "acme-logs", "target_prefix": "data/"}
    assert config["object_ownership"] == "BucketOwnerPreferred"
    assert config["unreadable"] == []
    assert data.tags == {"env": "prod"}
    assert rels(data, "logs_to") == {"arn:aws:s3:::acme-logs"}
    assert rels(data, "encrypted_with") == {kms_key}


def test_bare_bucket_defaults(ctx, buckets):
    records = {r.name: r for r in collect(ctx, "aws.s3.bucket")}
    bare = records["acme-bare"]
    config = bare.config
    assert bare.region == "us-east-1" and config["region"] == "us-east-1"  # LocationConstraint null
    assert config["encryption"] == {
        "enabled": False,
        "algorithm": None,
        "kms_key_id": None,
        "bucket_key_enabled": False,
    }
    assert config["versioning"] == {"status": "Disabled", "mfa_delete": False}
    assert config["public_access_block"] == dict.fromkeys(FLAGS, False)
    assert config["policy_status"] == {"has_policy": False, "is_public": False}
    assert config["acl"]["public_acl"] is False
    assert config["logging"] == {"enabled": False, "target_bucket": None, "target_prefix": None}
    assert config["object_ownership"] == "ObjectWriter"
    assert bare.tags == {} and bare.relations == []
    # The log-delivery group may write to the log bucket, but that is not public.
    log_acl = records["acme-logs"].config["acl"]
    assert any(g["grantee"].endswith("/LogDelivery") for g in log_acl["grants"]) and not log_acl["public_acl"]


def test_denied_sub_call_leaves_only_that_field_unread(ctx, buckets):
    fail_operation(ctx, "s3", "GetBucketEncryption")
    fail_operation(ctx, "s3", "GetBucketTagging", code="AccessDenied")
    fail_operation(ctx, "s3control", "GetPublicAccessBlock", code="AccessDeniedException")
    data = {r.name: r for r in collect(ctx, "aws.s3.bucket")}["acme-data"]
    assert data.config["encryption"] is None
    assert data.config["account_public_access_block"] is None
    assert data.config["effective_public_access_block"] is None
    assert data.config["unreadable"] == ["account_public_access_block", "encryption", "tags"]
    assert data.tags == {}
    # Everything else is still read.
    assert data.config["versioning"]["status"] == "Enabled"
    assert data.config["logging"]["enabled"] is True
    assert rels(data, "encrypted_with") == set()


def test_unsupported_sub_call_is_unreadable_too(ctx, buckets):
    fail_operation(ctx, "s3", "GetBucketOwnershipControls", code="NotImplemented", status=501)
    data = {r.name: r for r in collect(ctx, "aws.s3.bucket")}["acme-data"]
    assert data.config["object_ownership"] is None and data.config["unreadable"] == ["object_ownership"]


def test_access_denied_on_list_buckets_raises_unchanged(ctx, buckets):
    fail_operation(ctx, "s3", "ListBuckets")
    with pytest.raises(ClientError) as caught:
        collect(ctx, "aws.s3.bucket")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert caught.value.operation_name == "ListBuckets"


def test_throttling_on_a_sub_call_propagates(ctx, buckets):
    fail_operation(ctx, "s3", "GetBucketVersioning", code="SlowDown", status=503)
    with pytest.raises(ClientError) as caught:
        collect(ctx, "aws.s3.bucket")
    assert caught.value.response["Error"]["Code"] == "SlowDown"


def _stub_bucket_details(stubber, name: str) -> None:
    """Every per-bucket read, answered "not configured" (the order the collector makes them)."""
    expected = {"Bucket": name}
    stubber.add_client_error(
        "get_bucket_encryption",
        "ServerSideEncryptionConfigurationNotFoundError",
        http_status_code=404,
        expected_params=expected,
    )
    stubber.add_response("get_bucket_versioning", {}, expected)
    stubber.add_client_error(
        "get_public_access_block",
        "NoSuchPublicAccessBlockConfiguration",
        http_status_code=404,
        expected_params=expected,
    )
    stubber.add_client_error(
        "get_bucket_policy_status", "NoSuchBucketPolicy", http_status_code=404, expected_params=expected
    )
    stubber.add_response("get_bucket_acl", {"Owner": {"ID": "abc"}, "Grants": []}, expected)
    stubber.add_response("get_bucket_logging", {}, expected)
    stubber.add_client_error(
        "get_bucket_ownership_controls",
        "OwnershipControlsNotFoundError",
        http_status_code=404,
        expected_params=expected,
    )
    stubber.add_client_error("get_bucket_tagging", "NoSuchTagSet", http_status_code=404, expected_params=expected)


def test_pages_of_buckets_with_their_listed_region(ctx):
    """ListBuckets pages (ContinuationToken); BucketRegion from the listing saves a GetBucketLocation."""
    no_detail_threads(ctx)
    created = datetime(2024, 5, 1, tzinfo=UTC)
    with stubbed(ctx, "s3") as stubber:
        stubber.add_response(
            "list_buckets",
            {
                "Buckets": [{"Name": "page-one", "CreationDate": created, "BucketRegion": "ap-southeast-2"}],
                "ContinuationToken": "next",
            },
            {"MaxBuckets": 1000},
        )
        _stub_bucket_details(stubber, "page-one")
        stubber.add_response(
            "list_buckets",
            {"Buckets": [{"Name": "page-two", "CreationDate": created, "BucketRegion": "eu-central-1"}]},
            {"MaxBuckets": 1000, "ContinuationToken": "next"},
        )
        _stub_bucket_details(stubber, "page-two")
        records = collect(ctx, "aws.s3.bucket")
    assert [(r.name, r.region) for r in records] == [("page-one", "ap-southeast-2"), ("page-two", "eu-central-1")]
    assert records[0].config["creation_date"] == "2024-05-01T00:00:00+00:00"
    assert records[0].config["encryption"]["enabled"] is False
    assert records[0].config["object_ownership"] == "ObjectWriter"
    assert records[0].config["unreadable"] == []


def test_bucket_deleted_mid_scan_is_skipped(ctx, buckets):
    fail_operation(ctx, "s3", "GetBucketEncryption", code="NoSuchBucket", status=404)
    assert collect(ctx, "aws.s3.bucket") == []


def test_records_are_plain_data(ctx, buckets):
    """Records cross processes and land in JSON columns: JSON must carry them unchanged (no datetimes,
    sets or tuples hiding in the config)."""
    records = list(collect(ctx, "aws.s3.bucket"))
    assert sorted(r.name for r in records) == ["acme-bare", "acme-data", "acme-logs"]
    for record in records:
        data = asdict(record)
        assert json.loads(json.dumps(data)) == data, record.name


# --- The detail helpers S3 (and IAM, Lambda, KMS) share ------------------------------------------


def test_fan_out_keeps_order_bounds_threads_and_propagates_errors():
    import threading
    import time

    from inventory.collectors.aws._util import fan_out

    class Ctx:
        detail_concurrency = 3

    running, peak, lock = 0, 0, threading.Lock()

    def work(item: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01 * (5 - item % 5))
        with lock:
            running -= 1
        return item * 10

    assert list(fan_out(Ctx(), work, range(12))) == [i * 10 for i in range(12)]
    assert 1 < peak <= 3

    def boom(item: int) -> int:
        if item == 2:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "GetThing")
        return item

    with pytest.raises(ClientError):
        list(fan_out(Ctx(), boom, range(5)))
