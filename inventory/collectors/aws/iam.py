"""IAM (global): users, roles, customer-managed policies, groups, the account password policy and the
root account. Listings raise; the per-entity reads that enrich a record (a user's keys, a role's last
use) leave only their own field null and list it under ``config["unreadable"]`` when denied.

Secrets never enter a record: access key ids keep only their last four characters (the id is an
identifier, but a full one is still half a credential in a leaked log)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import partial
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, arn_account, error_code, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

GONE = ("NoSuchEntity",)  # the entity was deleted between the listing and its reads

# Actions that let a principal grant itself more than it has (the usual privilege-escalation paths).
ESCALATION_ACTIONS = (
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:CreatePolicyVersion",
    "iam:PassRole",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateLoginProfile",
)


# --- Policy documents ----------------------------------------------------------------------------


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def policy_document(document: Any) -> dict:
    """A policy document as a dict (botocore decodes most; some answers stay URL-encoded JSON)."""
    if isinstance(document, dict):
        return document
    if isinstance(document, str) and document:
        try:
            return json.loads(unquote(document))
        except ValueError:
            return {}
    return {}


def normalize_principal(principal: Any) -> dict[str, list[str]] | None:
    """Principal "*" or {"AWS": ..., "Service": ...} → {"aws": [...], "service": [...], ...}."""
    if principal is None:
        return None
    if principal == "*":
        return {"aws": ["*"]}
    if not isinstance(principal, dict):
        return {"aws": [str(principal)]}
    return {str(kind).lower(): sorted(str(v) for v in _as_list(values)) for kind, values in principal.items()}


def normalize_statements(document: Any) -> list[dict[str, Any]]:
    """Statements with one shape: lists everywhere, snake_case keys, conditions kept as given."""
    statements = policy_document(document).get("Statement")
    result = []
    for statement in _as_list(statements):
        if not isinstance(statement, dict):
            continue
        entry: dict[str, Any] = {
            "sid": statement.get("Sid"),
            "effect": statement.get("Effect"),
            "actions": [str(a) for a in _as_list(statement.get("Action"))],
            "not_actions": [str(a) for a in _as_list(statement.get("NotAction"))],
            "resources": [str(r) for r in _as_list(statement.get("Resource"))],
            "not_resources": [str(r) for r in _as_list(statement.get("NotResource"))],
            "conditions": statement.get("Condition") or None,
        }
        if "Principal" in statement or "NotPrincipal" in statement:
            entry["principals"] = normalize_principal(statement.get("Principal"))
            entry["not_principals"] = normalize_principal(statement.get("NotPrincipal"))
        result.append(entry)
    return result


def _grants(statement: dict, action: str) -> bool:
    """Whether an Allow statement's Action (or NotAction) covers ``action``."""
    if statement["not_actions"]:
        return not any(fnmatchcase(action.lower(), p.lower()) for p in statement["not_actions"])
    return any(fnmatchcase(action.lower(), p.lower()) for p in statement["actions"])


def policy_flags(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """Coarse risk flags of a permissions policy, for rules that need no policy simulator."""
    allows = [s for s in statements if s.get("effect") == "Allow"]
    on_everything = [s for s in allows if "*" in s["resources"] and not s["not_resources"]]
    full_services = sorted(
        {a.split(":", 1)[0].lower() for s in on_everything for a in s["actions"] if a.endswith(":*") and ":" in a}
    )
    escalation = sorted({a for a in ESCALATION_ACTIONS for s in on_everything if _grants(s, a)})
    return {
        "allows_admin": any(("*" in s["actions"] or "*:*" in s["actions"]) for s in on_everything),
        "allows_not_action": any(s["not_actions"] for s in allows),
        "full_access_services": full_services,
        "allows_pass_role_any": any(_grants(s, "iam:PassRole") for s in on_everything),
        "privilege_escalation_actions": escalation,
        "has_conditions": any(s.get("conditions") for s in allows),
    }


def summarize_trust(document: Any, own_account: str) -> dict[str, Any]:
    """Who may assume a role: principals by kind, the accounts trusted, and the guards in place."""
    statements = [s for s in normalize_statements(document) if s.get("effect") == "Allow"]
    principals: dict[str, set[str]] = {}
    accounts: set[str] = set()
    any_account = False
    external_id = mfa = False
    for statement in statements:
        for kind, values in (statement.get("principals") or {}).items():
            principals.setdefault(kind, set()).update(values)
            if kind != "aws":
                continue
            for value in values:
                if value == "*":
                    any_account = True
                elif value.isdigit():
                    accounts.add(value)
                elif arn_account(value):
                    accounts.add(arn_account(value))
        condition_keys = {key.lower() for ops in (statement.get("conditions") or {}).values() for key in ops}
        external_id = external_id or "sts:externalid" in condition_keys
        mfa = mfa or "aws:multifactorauthpresent" in condition_keys
    return {
        "principals": {kind: sorted(values) for kind, values in sorted(principals.items())},
        "services": sorted(principals.get("service", set())),
        "trusted_accounts": sorted(accounts),
        "trusts_any_account": any_account,
        "cross_account": any_account or any(a != own_account for a in accounts),
        "federated": bool(principals.get("federated")),
        "has_external_id_condition": external_id,
        "requires_mfa": mfa,
    }


def _customer_policy_rels(arns: list[str] | None) -> list[Rel]:
    """has_policy only towards customer-managed policies: AWS-managed ones are not collected."""
    return [Rel("has_policy", a) for a in arns or [] if arn_account(a) not in ("", "aws")]


def _names(items: list[dict] | None, key: str) -> list[str] | None:
    return None if items is None else sorted(str(item[key]) for item in items if item.get(key))


# --- Users ---------------------------------------------------------------------------------------


def mask_key_id(access_key_id: str | None) -> str | None:
    return None if not access_key_id else "****" + access_key_id[-4:]


@collector(
    "aws",
    "iam.user",
    service="iam",
    regional=False,
    volatile=(
        "password_last_used",
        "access_keys[].last_used_date",
        "access_keys[].last_used_service",
        "access_keys[].last_used_region",
    ),
)
def users(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("iam", "list_users"):
        for record in fan_out(ctx, partial(_user_record, ctx), page.get("Users") or []):
            if record is not None:
                yield record


def _gone(error: ClientError) -> bool:
    return error_code(error) in GONE


def _user_record(ctx: CollectContext, user: dict) -> ResourceRecord | None:
    try:
        return _read_user(ctx, user)
    except ClientError as error:
        if _gone(error):
            return None
        raise


def _read_user(ctx: CollectContext, user: dict) -> ResourceRecord:
    name = user["UserName"]
    details = Details(ctx, gone=GONE)

    # Calls in a fixed order (tests answer them from a Stubber queue).
    login = details.get("console_access", "iam", "get_login_profile", missing=("NoSuchEntity",), UserName=name)
    mfa_devices = details.items("mfa_devices", "iam", "list_mfa_devices", "MFADevices", UserName=name)
    keys = details.items("access_keys", "iam", "list_access_keys", "AccessKeyMetadata", UserName=name)
    access_keys = None
    if keys is not None:
        access_keys = []
        for key in keys:
            used = details.get(
                "access_keys_last_used", "iam", "get_access_key_last_used", AccessKeyId=key["AccessKeyId"]
            )
            last = (used or {}).get("AccessKeyLastUsed") or {}
            service = last.get("ServiceName")
            access_keys.append(
                {
                    "access_key_id": mask_key_id(key.get("AccessKeyId")),
                    "status": key.get("Status"),
                    "create_date": iso(key.get("CreateDate")),
                    "last_used_date": iso(last.get("LastUsedDate")),
                    "last_used_service": None if service in (None, "N/A") else service,
                    "last_used_region": None if last.get("Region") in (None, "N/A") else last.get("Region"),
                }
            )
    attached = details.items(
        "attached_policy_arns", "iam", "list_attached_user_policies", "AttachedPolicies", UserName=name
    )
    inline = details.items("inline_policy_names", "iam", "list_user_policies", "PolicyNames", UserName=name)
    groups = details.items("groups", "iam", "list_groups_for_user", "Groups", UserName=name)
    tags = details.items("tags", "iam", "list_user_tags", "Tags", UserName=name)

    attached_arns = _names(attached, "PolicyArn")
    config: dict[str, Any] = {
        "user_name": name,
        "user_id": user.get("UserId"),
        "path": user.get("Path"),
        "create_date": iso(user.get("CreateDate")),
        "password_last_used": iso(user.get("PasswordLastUsed")),
        "console_access": None if login is None else bool(login),
        "password_enabled": None if login is None else bool(login),
        "password_reset_required": (
            None if login is None else bool((login.get("LoginProfile") or {}).get("PasswordResetRequired", False))
        ),
        "mfa_devices": (
            None
            if mfa_devices is None
            else [
                {"serial_number": d.get("SerialNumber"), "enable_date": iso(d.get("EnableDate"))} for d in mfa_devices
            ]
        ),
        "mfa_devices_count": None if mfa_devices is None else len(mfa_devices),
        "mfa_enabled": None if mfa_devices is None else bool(mfa_devices),
        "access_keys": access_keys,
        "active_access_keys_count": (
            None if access_keys is None else sum(1 for k in access_keys if k["status"] == "Active")
        ),
        "attached_policy_arns": attached_arns,
        "inline_policy_names": sorted(inline) if inline is not None else None,
        "groups": _names(groups, "GroupName"),
        "permissions_boundary_arn": (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
    }
    relations = [Rel("member_of", g["Arn"]) for g in groups or [] if g.get("Arn")]
    relations += _customer_policy_rels(attached_arns)
    return ResourceRecord(
        native_id=user["Arn"],
        name=name,
        config=details.finish(config),
        tags=tags_dict(tags),
        relations=list(dict.fromkeys(relations)),
    )


# --- Roles ---------------------------------------------------------------------------------------


# The role Cloustral scans with is "used" by every scan: its last use is never a change.
@collector("aws", "iam.role", service="iam", regional=False, volatile=("last_used",))
def roles(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("iam", "list_roles"):
        for record in fan_out(ctx, partial(_role_record, ctx), page.get("Roles") or []):
            if record is not None:
                yield record


def _role_record(ctx: CollectContext, role: dict) -> ResourceRecord | None:
    try:
        return _read_role(ctx, role)
    except ClientError as error:
        if _gone(error):
            return None
        raise


def _read_role(ctx: CollectContext, listed: dict) -> ResourceRecord:
    name = listed["RoleName"]
    details = Details(ctx, gone=GONE)
    # ListRoles leaves out RoleLastUsed, tags and the permissions boundary: GetRole has them.
    answer = details.get("last_used", "iam", "get_role", RoleName=name)
    role = {**listed, **((answer or {}).get("Role") or {})}
    if answer is None:
        details.unreadable.append("tags")
    attached = details.items(
        "attached_policy_arns", "iam", "list_attached_role_policies", "AttachedPolicies", RoleName=name
    )
    inline = details.items("inline_policy_names", "iam", "list_role_policies", "PolicyNames", RoleName=name)
    # Instances name their instance profile, not the role: this is how an instance finds its role.
    profiles = details.items(
        "instance_profile_arns", "iam", "list_instance_profiles_for_role", "InstanceProfiles", RoleName=name
    )

    path = role.get("Path") or "/"
    last_used = role.get("RoleLastUsed") or {}
    attached_arns = _names(attached, "PolicyArn")
    trust_document = role.get("AssumeRolePolicyDocument")
    config: dict[str, Any] = {
        "role_name": name,
        "role_id": role.get("RoleId"),
        "path": path,
        "description": role.get("Description"),
        "create_date": iso(role.get("CreateDate")),
        "max_session_duration": role.get("MaxSessionDuration"),
        "is_service_linked": path.startswith("/aws-service-role/"),
        "is_aws_reserved": path.startswith("/aws-reserved/"),
        "trust_policy": summarize_trust(trust_document, ctx.account_id),
        "trust_statements": normalize_statements(trust_document),
        "last_used": (
            None if answer is None else {"date": iso(last_used.get("LastUsedDate")), "region": last_used.get("Region")}
        ),
        "attached_policy_arns": attached_arns,
        "inline_policy_names": sorted(inline) if inline is not None else None,
        "instance_profile_arns": _names(profiles, "Arn"),
        "permissions_boundary_arn": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
    }
    return ResourceRecord(
        native_id=role["Arn"],
        name=name,
        config=details.finish(config),
        tags=tags_dict(role.get("Tags")),
        relations=list(dict.fromkeys(_customer_policy_rels(attached_arns))),
    )


# --- Customer-managed policies -------------------------------------------------------------------


@collector("aws", "iam.policy", service="iam", regional=False)
def policies(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("iam", "list_policies", Scope="Local"):
        for record in fan_out(ctx, partial(_policy_record, ctx), page.get("Policies") or []):
            if record is not None:
                yield record


def _policy_record(ctx: CollectContext, policy: dict) -> ResourceRecord | None:
    try:
        return _read_policy(ctx, policy)
    except ClientError as error:
        if _gone(error):
            return None
        raise


def _read_policy(ctx: CollectContext, policy: dict) -> ResourceRecord:
    policy_arn = policy["Arn"]
    details = Details(ctx, gone=GONE)
    version = details.get(
        "statements", "iam", "get_policy_version", PolicyArn=policy_arn, VersionId=policy["DefaultVersionId"]
    )
    tags = details.items("tags", "iam", "list_policy_tags", "Tags", PolicyArn=policy_arn)
    statements = None
    if version is not None:
        statements = normalize_statements((version.get("PolicyVersion") or {}).get("Document"))
    config: dict[str, Any] = {
        "policy_name": policy.get("PolicyName"),
        "policy_id": policy.get("PolicyId"),
        "path": policy.get("Path"),
        "description": policy.get("Description"),
        "default_version_id": policy.get("DefaultVersionId"),
        "attachment_count": policy.get("AttachmentCount"),
        "permissions_boundary_usage_count": policy.get("PermissionsBoundaryUsageCount"),
        "is_attachable": policy.get("IsAttachable"),
        "create_date": iso(policy.get("CreateDate")),
        "update_date": iso(policy.get("UpdateDate")),
        "statements": statements,
        "flags": None if statements is None else policy_flags(statements),
    }
    return ResourceRecord(
        native_id=policy_arn,
        name=policy.get("PolicyName") or policy_arn,
        config=details.finish(config),
        tags=tags_dict(tags),
    )


# --- Groups --------------------------------------------------------------------------------------


@collector("aws", "iam.group", service="iam", regional=False)
def groups(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("iam", "list_groups"):
        for record in fan_out(ctx, partial(_group_record, ctx), page.get("Groups") or []):
            if record is not None:
                yield record


def _group_record(ctx: CollectContext, group: dict) -> ResourceRecord | None:
    try:
        return _read_group(ctx, group)
    except ClientError as error:
        if _gone(error):
            return None
        raise


def _read_group(ctx: CollectContext, group: dict) -> ResourceRecord:
    name = group["GroupName"]
    details = Details(ctx, gone=GONE)
    members = details.items("members", "iam", "get_group", "Users", GroupName=name)
    attached = details.items(
        "attached_policy_arns", "iam", "list_attached_group_policies", "AttachedPolicies", GroupName=name
    )
    inline = details.items("inline_policy_names", "iam", "list_group_policies", "PolicyNames", GroupName=name)
    attached_arns = _names(attached, "PolicyArn")
    member_names = _names(members, "UserName")
    config: dict[str, Any] = {
        "group_name": name,
        "group_id": group.get("GroupId"),
        "path": group.get("Path"),
        "create_date": iso(group.get("CreateDate")),
        "members": member_names,
        "member_count": None if member_names is None else len(member_names),
        "attached_policy_arns": attached_arns,
        "inline_policy_names": sorted(inline) if inline is not None else None,
    }
    return ResourceRecord(
        native_id=group["Arn"],
        name=name,
        config=details.finish(config),
        relations=list(dict.fromkeys(_customer_policy_rels(attached_arns))),
    )


# --- Account-wide records ------------------------------------------------------------------------

_PASSWORD_POLICY_KEYS = {
    "MinimumPasswordLength": "minimum_password_length",
    "RequireSymbols": "require_symbols",
    "RequireNumbers": "require_numbers",
    "RequireUppercaseCharacters": "require_uppercase_characters",
    "RequireLowercaseCharacters": "require_lowercase_characters",
    "AllowUsersToChangePassword": "allow_users_to_change_password",
    "ExpirePasswords": "expire_passwords",
    "MaxPasswordAge": "max_password_age",
    "PasswordReusePrevention": "password_reuse_prevention",
    "HardExpiry": "hard_expiry",
}
_PASSWORD_POLICY_NUMBERS = {"minimum_password_length", "max_password_age", "password_reuse_prevention"}


@collector("aws", "iam.password_policy", service="iam", regional=False)
def password_policy(ctx: CollectContext) -> Iterator[ResourceRecord]:
    try:
        policy = ctx.call("iam", "get_account_password_policy").get("PasswordPolicy") or {}
        exists = True
    except ClientError as error:
        if not _gone(error):
            raise
        policy, exists = {}, False  # no policy set: IAM's defaults apply
    config: dict[str, Any] = {"exists": exists}
    for aws_key, key in _PASSWORD_POLICY_KEYS.items():
        value = policy.get(aws_key)
        config[key] = value if key in _PASSWORD_POLICY_NUMBERS else bool(value)
    yield ResourceRecord(
        native_id=f"arn:aws:iam::{ctx.account_id}:account-password-policy",
        name="Account password policy",
        config=config,
    )


_REPORT_MISSING = ("ReportNotPresent", "ReportExpired", "ReportInProgress")


def _report_value(value: str | None) -> Any:
    if value in (None, "", "N/A", "not_supported", "no_information"):
        return None
    if value in ("true", "false"):
        return value == "true"
    return value


def _credential_report_root(details: Details) -> dict[str, Any] | None:
    """The root row of the IAM credential report. When none is ready, ask IAM for one (it is built in
    the background, so the next scan has it) and leave the fields unread this time."""
    answer = details.get("credential_report", "iam", "get_credential_report", missing=_REPORT_MISSING)
    if answer == {}:
        started = details.get("credential_report", "iam", "generate_credential_report")
        if started and started.get("State") == "COMPLETE":
            answer = details.get("credential_report", "iam", "get_credential_report", missing=_REPORT_MISSING)
    row = _root_row(answer) if answer else None
    if row is None:
        if "credential_report" not in details.unreadable:
            details.unreadable.append("credential_report")
        return None
    return {
        "generated_time": iso(answer.get("GeneratedTime")),
        **{key: _report_value(row.get(key)) for key in _REPORT_FIELDS},
    }


_REPORT_FIELDS = (
    "password_enabled",
    "password_last_used",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_used_date",
    "access_key_2_active",
    "access_key_2_last_used_date",
    "cert_1_active",
    "cert_2_active",
)


def _root_row(answer: dict) -> dict[str, str] | None:
    content = answer.get("Content") or b""
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("user") == "<root_account>":
            return row
    return None


@collector(
    "aws",
    "iam.root_account",
    service="iam",
    regional=False,
    volatile=(
        "password_last_used",
        "credential_report.generated_time",
        "credential_report.password_last_used",
        "credential_report.access_key_1_last_used_date",
        "credential_report.access_key_2_last_used_date",
    ),
)
def root_account(ctx: CollectContext) -> Iterator[ResourceRecord]:
    summary = ctx.call("iam", "get_account_summary").get("SummaryMap") or {}
    details = Details(ctx)
    mfa_enabled = bool(summary.get("AccountMFAEnabled", 0))
    virtual = details.items(
        "hardware_mfa", "iam", "list_virtual_mfa_devices", "VirtualMFADevices", AssignmentStatus="Assigned"
    )
    root_arn = f"arn:aws:iam::{ctx.account_id}:root"
    # Root's MFA is "virtual" when a virtual device is assigned to the root user; otherwise hardware.
    root_virtual = None if virtual is None else any((d.get("User") or {}).get("Arn") == root_arn for d in virtual)
    report = _credential_report_root(details)
    config: dict[str, Any] = {
        "mfa_enabled": mfa_enabled,
        "hardware_mfa": None if root_virtual is None else (mfa_enabled and not root_virtual),
        "access_keys_present": bool(summary.get("AccountAccessKeysPresent", 0)),
        "signing_certificates_present": bool(summary.get("AccountSigningCertificatesPresent", 0)),
        "credential_report": report,
        "password_last_used": (report or {}).get("password_last_used"),
    }
    yield ResourceRecord(native_id=root_arn, name="Root account", config=details.finish(config))
