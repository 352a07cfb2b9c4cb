"""IAM collectors (users, roles, policies, groups, password policy, root account) against moto; Stubber
for ListUsers pages and for the credential report's root row (moto's report has none)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.aws import iam as iam_collectors
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

ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
S3_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "arn:aws:s3:::x/*"}],
}
AWS_READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{name}"


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context("global")


@pytest.fixture
def iam(ctx):
    return boto3.client("iam", region_name="us-east-1")


@pytest.fixture
def identities(iam):
    admin = iam.create_policy(PolicyName="admin", PolicyDocument=json.dumps(ADMIN), Description="everything")
    reader = iam.create_policy(PolicyName="s3-reader", PolicyDocument=json.dumps(S3_ONLY))
    iam.create_group(GroupName="devs")
    iam.attach_group_policy(GroupName="devs", PolicyArn=reader["Policy"]["Arn"])
    iam.put_group_policy(GroupName="devs", PolicyName="group-inline", PolicyDocument=json.dumps(S3_ONLY))

    iam.create_user(UserName="ada", Tags=[{"Key": "team", "Value": "platform"}])
    iam.create_login_profile(UserName="ada", Password="Correct-Horse-9!", PasswordResetRequired=True)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="ada-phone")["VirtualMFADevice"]
    iam.enable_mfa_device(
        UserName="ada", SerialNumber=device["SerialNumber"], AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    key = iam.create_access_key(UserName="ada")["AccessKey"]
    iam.add_user_to_group(GroupName="devs", UserName="ada")
    iam.attach_user_policy(UserName="ada", PolicyArn=admin["Policy"]["Arn"])
    iam.put_user_policy(UserName="ada", PolicyName="user-inline", PolicyDocument=json.dumps(S3_ONLY))
    iam.create_user(UserName="bot")
    return {"key_id": key["AccessKeyId"], "secret": key["SecretAccessKey"], "admin": admin["Policy"]["Arn"]}


def test_every_type_is_registered_as_a_global_iam_collector():
    for kind in ("user", "role", "policy", "group", "password_policy", "root_account"):
        entry = get_collector(f"aws.iam.{kind}")
        assert entry.service == "iam" and not entry.regional and entry.func.__module__ == iam_collectors.__name__


def test_user(ctx, identities):
    users = {r.name: r for r in collect(ctx, "aws.iam.user")}
    assert set(users) == {"ada", "bot"}
    ada = users["ada"]
    assert ada.native_id == arn("user", "ada")
    config = ada.config
    json.dumps(config)
    assert config["create_date"].endswith("+00:00")
    assert config["console_access"] is True and config["password_enabled"] is True
    assert config["password_reset_required"] is False  # moto drops PasswordResetRequired
    assert config["mfa_devices_count"] == 1 and config["mfa_enabled"] is True
    assert config["mfa_devices"][0]["serial_number"] == arn("mfa", "ada-phone")
    (key,) = config["access_keys"]
    assert key["access_key_id"] == "****" + identities["key_id"][-4:]
    assert key["status"] == "Active"
    assert "age_days" not in key  # time-varying: it would show as a change on every scan
    assert key["create_date"].endswith("+00:00")
    assert key["last_used_date"] is None and key["last_used_service"] is None  # moto answers "N/A"
    assert config["active_access_keys_count"] == 1
    assert config["attached_policy_arns"] == [identities["admin"]]
    assert config["inline_policy_names"] == ["user-inline"]
    assert config["groups"] == ["devs"]
    assert config["unreadable"] == []
    assert ada.tags == {"team": "platform"}
    assert rels(ada, "member_of") == {arn("group", "devs")}
    assert rels(ada, "has_policy") == {identities["admin"]}

    bot = users["bot"].config
    assert bot["console_access"] is False and bot["password_enabled"] is False  # no login profile
    assert bot["mfa_devices"] == [] and bot["mfa_enabled"] is False
    assert bot["access_keys"] == [] and bot["groups"] == [] and bot["attached_policy_arns"] == []


def test_access_key_id_and_secret_never_stored_in_full(ctx, identities):
    for record in collect(ctx, "aws.iam.user"):
        dumped = json.dumps(asdict(record))
        assert identities["key_id"] not in dumped
        assert identities["secret"] not in dumped


def test_access_key_age_and_last_use(ctx, identities):
    no_detail_threads(ctx)
    created = datetime.now(UTC) - timedelta(days=100, hours=1)
    used = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    name = "old-keys"
    with stubbed(ctx, "iam") as stubber:
        stubber.add_response(
            "list_users",
            {
                "Users": [
                    {
                        "Path": "/",
                        "UserName": name,
                        "UserId": "AIDAEXAMPLE0000000001",
                        "Arn": arn("user", name),
                        "CreateDate": created,
                    }
                ]
            },
            {},
        )
        _stub_user_details(
            stubber,
            name,
            keys=[
                {"UserName": name, "AccessKeyId": "AKIAEXAMPLE00000WXYZ", "Status": "Inactive", "CreateDate": created}
            ],
            last_used={"LastUsedDate": used, "ServiceName": "s3", "Region": "eu-west-1"},
            attached=[AWS_READ_ONLY, arn("policy", "custom")],
        )
        (record,) = collect(ctx, "aws.iam.user")
    (key,) = record.config["access_keys"]
    assert key == {
        "access_key_id": "****WXYZ",
        "status": "Inactive",
        "create_date": created.isoformat(),
        "last_used_date": "2025-01-02T03:04:05+00:00",
        "last_used_service": "s3",
        "last_used_region": "eu-west-1",
    }
    assert record.config["active_access_keys_count"] == 0
    # AWS-managed policies are not collected, so only customer-managed ones are linked.
    assert record.config["attached_policy_arns"] == sorted([AWS_READ_ONLY, arn("policy", "custom")])
    assert rels(record, "has_policy") == {arn("policy", "custom")}


def test_denied_sub_call_leaves_only_that_field_unread(ctx, identities):
    fail_operation(ctx, "iam", "ListAccessKeys")
    fail_operation(ctx, "iam", "ListUserTags")
    ada = {r.name: r for r in collect(ctx, "aws.iam.user")}["ada"]
    assert ada.config["access_keys"] is None and ada.config["active_access_keys_count"] is None
    assert ada.config["unreadable"] == ["access_keys", "tags"]
    assert ada.config["mfa_enabled"] is True and ada.config["groups"] == ["devs"]


def test_access_denied_on_list_users_raises_unchanged(ctx, identities):
    fail_operation(ctx, "iam", "ListUsers")
    with pytest.raises(ClientError) as caught:
        collect(ctx, "aws.iam.user")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def _stub_user_details(
    stubber, name: str, keys: list | None = None, last_used: dict | None = None, attached: list | None = None
) -> None:
    """Every per-user read, in the collector's order."""
    user = {"UserName": name}
    stubber.add_client_error("get_login_profile", "NoSuchEntity", http_status_code=404, expected_params=user)
    stubber.add_response("list_mfa_devices", {"MFADevices": []}, user)
    stubber.add_response("list_access_keys", {"AccessKeyMetadata": keys or []}, user)
    for key in keys or []:
        stubber.add_response(
            "get_access_key_last_used",
            {"UserName": name, "AccessKeyLastUsed": last_used or {"ServiceName": "N/A", "Region": "N/A"}},
            {"AccessKeyId": key["AccessKeyId"]},
        )
    stubber.add_response(
        "list_attached_user_policies",
        {"AttachedPolicies": [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in attached or []]},
        user,
    )
    stubber.add_response("list_user_policies", {"PolicyNames": []}, user)
    stubber.add_response("list_groups_for_user", {"Groups": []}, user)
    stubber.add_response("list_user_tags", {"Tags": [{"Key": "n", "Value": name}]}, user)


def test_pages_of_users(ctx):
    no_detail_threads(ctx)
    created = datetime(2024, 1, 1, tzinfo=UTC)

    def user(name: str) -> dict:
        return {
            "Path": "/",
            "UserName": name,
            "UserId": f"AIDA{name.upper():0>17}",
            "Arn": arn("user", name),
            "CreateDate": created,
        }

    with stubbed(ctx, "iam") as stubber:
        stubber.add_response("list_users", {"Users": [user("u1"), user("u2")], "IsTruncated": True, "Marker": "m1"}, {})
        _stub_user_details(stubber, "u1")
        _stub_user_details(stubber, "u2")
        stubber.add_response(
            "list_users", {"Users": [user("u3")], "IsTruncated": True, "Marker": "m2"}, {"Marker": "m1"}
        )
        _stub_user_details(stubber, "u3")
        stubber.add_response("list_users", {"Users": [user("u4")], "IsTruncated": False}, {"Marker": "m2"})
        _stub_user_details(stubber, "u4")
        records = collect(ctx, "aws.iam.user")
    assert [r.name for r in records] == ["u1", "u2", "u3", "u4"]
    assert [r.tags for r in records] == [{"n": f"u{i}"} for i in range(1, 5)]
    assert records[0].config["console_access"] is False


def test_user_deleted_mid_scan_is_skipped(ctx, identities):
    fail_operation(ctx, "iam", "ListMFADevices", code="NoSuchEntity", status=404)
    assert collect(ctx, "aws.iam.user") == []


# --- Roles ---------------------------------------------------------------------------------------


@pytest.fixture
def roles(iam, identities):
    cross_account = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::999999999999:root", "111111111111"]},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "ext-1"}},
            }
        ],
    }
    anyone = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        ],
    }
    iam.create_role(
        RoleName="vendor",
        AssumeRolePolicyDocument=json.dumps(cross_account),
        MaxSessionDuration=7200,
        Description="vendor access",
        Tags=[{"Key": "owner", "Value": "sec"}],
    )
    iam.attach_role_policy(RoleName="vendor", PolicyArn=identities["admin"])
    iam.put_role_policy(RoleName="vendor", PolicyName="role-inline", PolicyDocument=json.dumps(S3_ONLY))
    iam.create_role(RoleName="open", AssumeRolePolicyDocument=json.dumps(anyone))
    linked = iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")["Role"]
    return {"linked": linked["Arn"]}


def test_roles(ctx, roles, identities):
    records = {r.native_id: r for r in collect(ctx, "aws.iam.role")}
    assert set(records) == {arn("role", "vendor"), arn("role", "open"), roles["linked"]}
    vendor = records[arn("role", "vendor")]
    config = vendor.config
    json.dumps(config)
    assert vendor.name == "vendor"
    assert config["max_session_duration"] == 7200
    assert config["description"] == "vendor access"
    assert config["create_date"].endswith("+00:00")
    assert config["trust_policy"] == {
        "principals": {"aws": ["111111111111", "arn:aws:iam::999999999999:root"]},
        "services": [],
        "trusted_accounts": ["111111111111", "999999999999"],
        "trusts_any_account": False,
        "cross_account": True,
        "federated": False,
        "has_external_id_condition": True,
        "requires_mfa": False,
    }
    assert config["trust_statements"][0]["actions"] == ["sts:AssumeRole"]
    assert config["attached_policy_arns"] == [identities["admin"]]
    assert config["inline_policy_names"] == ["role-inline"]
    assert config["last_used"] == {"date": None, "region": None}
    assert config["is_service_linked"] is False
    assert config["unreadable"] == []
    assert vendor.tags == {"owner": "sec"}
    assert rels(vendor, "has_policy") == {identities["admin"]}

    open_trust = records[arn("role", "open")].config["trust_policy"]
    assert open_trust["trusts_any_account"] is True and open_trust["cross_account"] is True
    assert open_trust["services"] == ["ec2.amazonaws.com"]
    assert open_trust["has_external_id_condition"] is False

    linked = records[roles["linked"]].config
    assert linked["is_service_linked"] is True
    assert linked["trust_policy"]["services"] == ["elasticbeanstalk.amazonaws.com"]


def test_role_last_used_unreadable_when_get_role_denied(ctx, roles):
    fail_operation(ctx, "iam", "GetRole")
    vendor = {r.name: r for r in collect(ctx, "aws.iam.role")}["vendor"]
    assert vendor.config["last_used"] is None
    assert vendor.config["unreadable"] == ["last_used", "tags"]
    # The trust policy comes with the listing and is still there.
    assert vendor.config["trust_policy"]["has_external_id_condition"] is True


# --- Policies and groups -------------------------------------------------------------------------


def test_customer_managed_policies(ctx, identities):
    records = {r.name: r for r in collect(ctx, "aws.iam.policy")}
    assert set(records) == {"admin", "s3-reader"}  # Scope=Local: no AWS-managed policies
    admin = records["admin"]
    assert admin.native_id == identities["admin"]
    config = admin.config
    json.dumps(config)
    assert config["default_version_id"] == "v1"
    assert config["attachment_count"] == 1
    assert config["statements"] == [
        {
            "sid": None,
            "effect": "Allow",
            "actions": ["*"],
            "not_actions": [],
            "resources": ["*"],
            "not_resources": [],
            "conditions": None,
        }
    ]
    assert config["flags"]["allows_admin"] is True
    assert config["flags"]["allows_pass_role_any"] is True
    assert "iam:CreatePolicyVersion" in config["flags"]["privilege_escalation_actions"]
    reader = records["s3-reader"].config
    assert reader["flags"] == {
        "allows_admin": False,
        "allows_not_action": False,
        "full_access_services": [],
        "allows_pass_role_any": False,
        "privilege_escalation_actions": [],
        "has_conditions": False,
    }
    assert reader["statements"][0]["actions"] == ["s3:GetObject", "s3:ListBucket"]


def test_policy_flags_for_wildcards_and_not_action():
    statements = iam_collectors.normalize_statements(
        {
            "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        }
    )
    flags = iam_collectors.policy_flags(statements)
    assert flags["allows_not_action"] is True and flags["allows_admin"] is False
    assert flags["privilege_escalation_actions"] == []
    statements = iam_collectors.normalize_statements(
        '{"Statement": [{"Effect": "Allow", "Action": ["ec2:*", "iam:Pass*"], "Resource": "*"}]}'
    )
    flags = iam_collectors.policy_flags(statements)
    assert flags["full_access_services"] == ["ec2"] and flags["allows_pass_role_any"] is True


def test_groups(ctx, identities):
    (devs,) = collect(ctx, "aws.iam.group")
    assert devs.native_id == arn("group", "devs")
    config = devs.config
    assert config["members"] == ["ada"] and config["member_count"] == 1
    assert config["attached_policy_arns"] == [arn("policy", "s3-reader")]
    assert config["inline_policy_names"] == ["group-inline"]
    assert rels(devs, "has_policy") == {arn("policy", "s3-reader")}


# --- Account-wide records ------------------------------------------------------------------------


def test_password_policy_absent(ctx):
    (record,) = collect(ctx, "aws.iam.password_policy")
    assert record.native_id == f"arn:aws:iam::{ACCOUNT_ID}:account-password-policy"
    assert record.config["exists"] is False
    assert record.config["minimum_password_length"] is None
    assert record.config["require_symbols"] is False and record.config["expire_passwords"] is False


def test_password_policy_present(ctx, iam):
    iam.update_account_password_policy(
        MinimumPasswordLength=14,
        RequireSymbols=True,
        RequireNumbers=True,
        PasswordReusePrevention=24,
        MaxPasswordAge=90,
    )
    (record,) = collect(ctx, "aws.iam.password_policy")
    config = record.config
    assert config["exists"] is True
    assert config["minimum_password_length"] == 14
    assert config["require_symbols"] is True and config["require_numbers"] is True
    assert config["require_uppercase_characters"] is False
    assert config["password_reuse_prevention"] == 24 and config["max_password_age"] == 90
    assert config["expire_passwords"] is True


def test_password_policy_denied_raises(ctx):
    fail_operation(ctx, "iam", "GetAccountPasswordPolicy")
    with pytest.raises(ClientError):
        collect(ctx, "aws.iam.password_policy")


def test_root_account_from_moto(ctx, identities):
    (root,) = collect(ctx, "aws.iam.root_account")
    assert root.native_id == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert root.config["mfa_enabled"] is False
    assert root.config["access_keys_present"] is False
    # moto's credential report has no <root_account> row: honestly unread, not a pass.
    assert root.config["credential_report"] is None
    assert root.config["unreadable"] == ["credential_report"]


def test_root_account_with_credential_report(ctx):
    report = (
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
        "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
        "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
        "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
        "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
        "cert_2_active,cert_2_last_rotated\n"
        f"<root_account>,arn:aws:iam::{ACCOUNT_ID}:root,2020-01-01T00:00:00+00:00,not_supported,"
        "2025-03-01T10:00:00+00:00,not_supported,not_supported,true,true,2020-01-01T00:00:00+00:00,"
        "2025-02-01T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    )
    with stubbed(ctx, "iam") as stubber:
        stubber.add_response(
            "get_account_summary", {"SummaryMap": {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 1}}, {}
        )
        stubber.add_response(
            "list_virtual_mfa_devices",
            {"VirtualMFADevices": [{"SerialNumber": f"arn:aws:iam::{ACCOUNT_ID}:mfa/someone"}]},
            {"AssignmentStatus": "Assigned"},
        )
        stubber.add_client_error("get_credential_report", "ReportNotPresent", http_status_code=410)
        stubber.add_response("generate_credential_report", {"State": "COMPLETE"}, {})
        stubber.add_response(
            "get_credential_report",
            {"Content": report.encode(), "ReportFormat": "text/csv", "GeneratedTime": datetime(2025, 3, 2, tzinfo=UTC)},
            {},
        )
        (root,) = collect(ctx, "aws.iam.root_account")
    config = root.config
    assert config["mfa_enabled"] is True and config["hardware_mfa"] is True
    assert config["access_keys_present"] is True
    assert config["password_last_used"] == "2025-03-01T10:00:00+00:00"
    assert config["credential_report"]["access_key_1_active"] is True
    assert config["credential_report"]["access_key_1_last_used_date"] == "2025-02-01T00:00:00+00:00"
    assert config["credential_report"]["access_key_2_active"] is False
    assert config["credential_report"]["password_enabled"] is None  # "not_supported" for root
    assert config["credential_report"]["generated_time"] == "2025-03-02T00:00:00+00:00"
    assert config["unreadable"] == []


def test_root_account_summary_denied_raises(ctx):
    fail_operation(ctx, "iam", "GetAccountSummary")
    with pytest.raises(ClientError):
        collect(ctx, "aws.iam.root_account")
