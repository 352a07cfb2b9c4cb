"""DynamoDB table collector against moto."""

from __future__ import annotations

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

KEYS = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
}


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def tables(ctx):
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName="orders",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 50, "WriteCapacityUnits": 20},
        DeletionProtectionEnabled=True,
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
        Tags=[{"Key": "team", "Value": "shop"}],
        **KEYS,
    )
    ddb.update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    ddb.put_item(TableName="orders", Item={"pk": {"S": "1"}})
    ddb.create_table(TableName="events", BillingMode="PAY_PER_REQUEST", **KEYS)
    return {"key": key}


def test_registered_with_volatile_counts():
    entry = get_collector("aws.dynamodb.table")
    assert entry.service == "dynamodb" and entry.regional
    assert set(entry.volatile) == {"item_count", "size_bytes"}


def test_tables(ctx, tables):
    records = {r.name: r for r in collect(ctx, "aws.dynamodb.table")}
    orders, events = records["orders"], records["events"]
    assert orders.native_id == f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/orders"
    config = orders.config
    assert config["billing_mode"] == "PROVISIONED"
    assert (config["read_capacity_units"], config["write_capacity_units"]) == (50, 20)
    assert config["sse_type"] == "KMS" and config["kms_key_arn"] == tables["key"]
    assert config["deletion_protection"] is True and config["point_in_time_recovery"] is True
    assert config["item_count"] == 1 and config["unreadable"] == []
    assert orders.tags == {"team": "shop"}
    assert rels(orders, "encrypted_with") == {tables["key"]}

    ev = events.config
    assert ev["billing_mode"] == "PAY_PER_REQUEST" and ev["read_capacity_units"] is None
    assert ev["sse_type"] == "AWS_OWNED" and ev["point_in_time_recovery"] is False
    collected = {"aws.dynamodb.table": [orders, events]}
    assert judge("aws-dynamodb-table-pitr-off", collected) == {events.native_id}
    assert judge("aws-dynamodb-table-deletion-protection-off", collected) == {events.native_id}
    assert judge("aws-dynamodb-table-not-cmk", collected) == {events.native_id}


def test_denied_backup_settings_are_unknown(ctx, tables):
    fail_operation(ctx, "dynamodb", "DescribeContinuousBackups", code="AccessDeniedException")
    records = collect(ctx, "aws.dynamodb.table")
    assert all(r.config["point_in_time_recovery"] is None for r in records)
    assert all(r.config["unreadable"] == ["point_in_time_recovery"] for r in records)
    assert judge("aws-dynamodb-table-pitr-off", {"aws.dynamodb.table": records}) == set()


def test_denied_listing_raises_for_the_engine(ctx, tables):
    fail_operation(ctx, "dynamodb", "ListTables", code="AccessDeniedException")
    with pytest.raises(ClientError):
        collect(ctx, "aws.dynamodb.table")
