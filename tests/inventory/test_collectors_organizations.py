"""AWS Organizations collectors against moto: the management account sees the organization, its
accounts and SCPs; a member account's units are "skipped" (not denied, not empty); an account in no
organization has nothing to collect."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.base import UnitSkipped, get_collector
from inventory.models import DENIED, SKIPPED
from inventory.sync import Unit, classify_aws_error, collect_unit
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    collect,
    fail_operation,
    judge,
    make_context,
    moto_account,
    rels,
)

MEMBER = "210987654321"
DENY_LEAVE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}],
}


@pytest.fixture
def aws(monkeypatch):
    with moto_account(monkeypatch):
        yield


@pytest.fixture
def organization(aws):
    org = boto3.client("organizations", region_name="us-east-1")
    created = org.create_organization(FeatureSet="ALL")["Organization"]
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    dev = org.create_account(Email="dev@example.com", AccountName="dev")["CreateAccountStatus"]["AccountId"]
    org.tag_resource(ResourceId=dev, Tags=[{"Key": "env", "Value": "dev"}])
    attached = org.create_policy(
        Name="deny-leave", Description="guardrail", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(DENY_LEAVE)
    )["Policy"]["PolicySummary"]
    org.attach_policy(PolicyId=attached["Id"], TargetId=root)
    spare = org.create_policy(
        Name="spare", Description="never attached", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(DENY_LEAVE)
    )["Policy"]["PolicySummary"]
    return {"org": created, "root": root, "dev": dev, "attached": attached["Arn"], "spare": spare["Arn"]}


def test_registered_as_global_collectors():
    for kind in ("organization", "account", "policy"):
        entry = get_collector(f"aws.organizations.{kind}")
        assert entry.service == "organizations" and not entry.regional


def test_management_account_sees_the_organization(organization):
    ctx = make_context("global")
    [org] = collect(ctx, "aws.organizations.organization")
    assert org.native_id == organization["org"]["Arn"]
    assert org.config["feature_set"] == "ALL" and org.config["is_management_account"] is True
    assert org.config["scp_enabled"] is True and org.config["management_account_id"] == ACCOUNT_ID

    accounts = {r.config["account_id"]: r for r in collect(ctx, "aws.organizations.account")}
    assert set(accounts) == {ACCOUNT_ID, organization["dev"]}
    dev = accounts[organization["dev"]]
    assert dev.name == "dev" and dev.config["email"] == "dev@example.com" and dev.config["status"] == "ACTIVE"
    assert dev.config["parent_type"] == "ROOT" and dev.tags == {"env": "dev"}
    assert accounts[ACCOUNT_ID].config["is_management_account"] is True
    assert rels(dev, "member_of") == {organization["org"]["Arn"]}

    policies = {r.native_id: r for r in collect(ctx, "aws.organizations.policy")}
    attached, spare = policies[organization["attached"]], policies[organization["spare"]]
    assert attached.config["denied_actions"] == ["organizations:LeaveOrganization"]
    assert attached.config["target_count"] == 1 and attached.config["targets"][0]["type"] == "ROOT"
    assert spare.config["target_count"] == 0 and spare.config["aws_managed"] is False
    assert len(rels(attached, "attached_to")) == 1
    assert judge("aws-organizations-scp-unattached", {"aws.organizations.policy": list(policies.values())}) == {
        organization["spare"]
    }


def test_a_member_account_is_skipped_not_denied(organization):
    ctx = make_context("global", account_id=MEMBER)  # the organization's management account is another one
    for operation in ("ListAccounts", "ListPolicies", "ListRoots"):
        fail_operation(ctx, "organizations", operation, code="AccessDeniedException")
    [org] = collect(ctx, "aws.organizations.organization")  # any member can describe its organization
    assert org.config["is_management_account"] is False
    assert org.config["scp_enabled"] is None and org.config["unreadable"] == ["policy_types"]
    assert judge("aws-organizations-scp-disabled", {"aws.organizations.organization": [org]}) == set()

    with pytest.raises(UnitSkipped) as info:
        collect(ctx, "aws.organizations.account")
    assert info.value.code == "NotManagementAccount" and ACCOUNT_ID in info.value.message
    status, code, message = classify_aws_error(info.value)
    assert (status, code) == (SKIPPED, "NotManagementAccount") and "management account" in message

    result = collect_unit(Unit(get_collector("aws.organizations.policy"), "global"), ctx, threading.Event())
    assert result.status == SKIPPED and result.records == []


def test_the_management_account_denied_is_denied(organization):
    ctx = make_context("global")
    fail_operation(ctx, "organizations", "ListAccounts", code="AccessDeniedException")
    with pytest.raises(ClientError) as info:
        collect(ctx, "aws.organizations.account")
    assert classify_aws_error(info.value)[0] == DENIED


def test_an_account_in_no_organization_has_nothing_to_collect(aws):
    ctx = make_context("global")
    for kind in ("organization", "account", "policy"):
        assert collect(ctx, f"aws.organizations.{kind}") == []
