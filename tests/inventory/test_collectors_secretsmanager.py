"""Secrets Manager collector against moto: metadata only. The secret's value is never read: the test
fails if GetSecretValue (or BatchGetSecretValue) is called, and the value never reaches a record."""

from __future__ import annotations

import json

import boto3
import pytest

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

SECRET_VALUE = "pa55-never-read-by-cloustral"


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        context = make_context()
        calls = []
        context.client("secretsmanager").meta.events.register(
            "before-call.secretsmanager.*", lambda model, **kw: calls.append(model.name)
        )
        context.calls = calls  # type: ignore[attr-defined]
        yield context


@pytest.fixture
def secrets(ctx):
    sm = boto3.client("secretsmanager", region_name=REGION)
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    db = sm.create_secret(
        Name="prod/db", SecretString=SECRET_VALUE, KmsKeyId=key, Tags=[{"Key": "team", "Value": "data"}]
    )["ARN"]
    token = sm.create_secret(Name="prod/token", SecretString=SECRET_VALUE)["ARN"]
    sm.put_resource_policy(
        SecretId=token,
        ResourcePolicy=json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
                ]
            }
        ),
    )
    return {"db": db, "token": token, "key": key}


def test_registered_with_last_access_volatile():
    entry = get_collector("aws.secretsmanager.secret")
    assert entry.service == "secretsmanager" and entry.regional and entry.volatile == ("last_accessed_date",)


def test_secrets_metadata_only(ctx, secrets):
    records = {r.name: r for r in collect(ctx, "aws.secretsmanager.secret")}
    db, token = records["prod/db"], records["prod/token"]
    assert db.native_id == secrets["db"] and db.native_id.startswith(
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:"
    )
    assert db.config["kms_key_id"] == secrets["key"] and db.tags == {"team": "data"}
    assert db.config["rotation_enabled"] is False and db.config["last_rotated_date"] is None
    assert db.config["created_date"] and db.config["policy"]["present"] is False
    assert rels(db, "encrypted_with") == {secrets["key"]}
    assert token.config["policy"]["public"] is True and token.config["kms_key_id"] is None

    assert "GetSecretValue" not in ctx.calls and "BatchGetSecretValue" not in ctx.calls
    assert set(ctx.calls) <= {"ListSecrets", "GetResourcePolicy"}
    for record in records.values():
        assert SECRET_VALUE not in json.dumps(record.config) + json.dumps(record.tags)

    collected = {"aws.secretsmanager.secret": [db, token]}
    assert judge("aws-secretsmanager-rotation-off", collected) == {db.native_id, token.native_id}
    assert judge("aws-secretsmanager-public-policy", collected) == {token.native_id}
    assert judge("aws-secretsmanager-aws-managed-key", collected) == {token.native_id}


def test_denied_policy_is_unknown(ctx, secrets):
    fail_operation(ctx, "secretsmanager", "GetResourcePolicy", code="AccessDeniedException")
    records = collect(ctx, "aws.secretsmanager.secret")
    assert all(r.config["policy"] is None and r.config["unreadable"] == ["policy"] for r in records)
    assert judge("aws-secretsmanager-public-policy", {"aws.secretsmanager.secret": records}) == set()
