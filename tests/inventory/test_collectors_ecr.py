"""ECR repository collector against moto: scanning as the registry makes it effective, tag mutability,
lifecycle and repository policies."""

from __future__ import annotations

import json

import boto3
import pytest

from inventory.collectors.aws.ecr import effective_scan_on_push
from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    REGION,
    collect,
    fail_operation,
    judge,
    make_context,
    moto_account,
)


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def repositories(ctx):
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(
        repositoryName="api",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        tags=[{"Key": "team", "Value": "core"}],
    )
    ecr.put_lifecycle_policy(
        repositoryName="api",
        lifecyclePolicyText=json.dumps(
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "selection": {
                            "tagStatus": "untagged",
                            "countType": "sinceImagePushed",
                            "countUnit": "days",
                            "countNumber": 7,
                        },
                        "action": {"type": "expire"},
                    }
                ]
            }
        ),
    )
    ecr.create_repository(repositoryName="legacy")
    ecr.set_repository_policy(
        repositoryName="legacy",
        policyText=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "all", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}],
            }
        ),
    )


@pytest.mark.parametrize(
    ("scan_type", "rules", "flag", "expected"),
    [
        ("BASIC", [], True, True),
        ("BASIC", [], False, False),
        ("BASIC", [{"scan_frequency": "SCAN_ON_PUSH", "filters": ["prod-*"]}], False, True),
        ("BASIC", [{"scan_frequency": "SCAN_ON_PUSH", "filters": ["dev-*"]}], False, False),
        ("ENHANCED", [{"scan_frequency": "CONTINUOUS_SCAN", "filters": ["*"]}], False, True),
        ("ENHANCED", [], True, False),  # enhanced scanning ignores the repository's own flag
    ],
)
def test_effective_scan_on_push(scan_type, rules, flag, expected):
    assert effective_scan_on_push("prod-api", flag, {"scan_type": scan_type, "rules": rules}) is expected
    assert effective_scan_on_push("prod-api", flag, None) is None


def test_repositories(ctx, repositories):
    entry = get_collector("aws.ecr.repository")
    assert entry.service == "api.ecr" and entry.regional
    records = {r.name: r for r in collect(ctx, "aws.ecr.repository")}
    api, legacy = records["api"], records["legacy"]
    assert api.native_id == f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/api"
    assert api.config["image_tag_mutability"] == "IMMUTABLE"
    assert api.config["registry_scan_type"] == "BASIC" and api.config["scan_on_push"] is True
    assert api.config["lifecycle_policy"] is True and api.config["policy"]["present"] is False
    assert api.config["encryption_type"] == "AES256" and api.tags == {"team": "core"}
    assert legacy.config["lifecycle_policy"] is False and legacy.config["policy"]["public"] is True
    assert legacy.config["unreadable"] == []
    collected = {"aws.ecr.repository": [api, legacy]}
    for rule in (
        "aws-ecr-scan-on-push-off",
        "aws-ecr-tags-mutable",
        "aws-ecr-no-lifecycle-policy",
        "aws-ecr-repository-public-policy",
    ):
        assert judge(rule, collected) == {legacy.native_id}, rule


def test_unreadable_registry_scanning_is_unknown(ctx, repositories):
    fail_operation(ctx, "ecr", "GetRegistryScanningConfiguration", code="AccessDeniedException")
    fail_operation(ctx, "ecr", "GetLifecyclePolicy", code="AccessDeniedException")
    records = collect(ctx, "aws.ecr.repository")
    assert all(r.config["scan_on_push"] is None and r.config["lifecycle_policy"] is None for r in records)
    assert all(r.config["unreadable"] == ["lifecycle_policy", "scan_on_push"] for r in records)
    assert judge("aws-ecr-scan-on-push-off", {"aws.ecr.repository": records}) == set()
    assert judge("aws-ecr-no-lifecycle-policy", {"aws.ecr.repository": records}) == set()
