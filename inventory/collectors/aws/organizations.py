"""AWS Organizations: the organization, its accounts and its service control policies (global).

Any account of an organization can describe the organization; only its management account, or a
delegated administrator, can list its accounts and policies. Scanned from a member account, the
account and policy units are "skipped" (nothing to judge from here), not "denied" and not empty.
An account that belongs to no organization has no organization, accounts or policies: its units are
collected, with nothing in them."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, error_code, fan_out, iso, tags_dict
from inventory.collectors.aws.iam import normalize_statements
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, UnitSkipped, collector

DENIED = frozenset({"AccessDeniedException", "AccessDenied"})
SCP = "SERVICE_CONTROL_POLICY"


def _organization(ctx: CollectContext) -> dict | None:
    """The organization this account belongs to; None when it belongs to none."""
    try:
        return ctx.call("organizations", "describe_organization").get("Organization") or {}
    except ClientError as error:
        if error_code(error) == "AWSOrganizationsNotInUseException":
            return None
        raise


def _is_management(ctx: CollectContext, org: dict) -> bool:
    return org.get("MasterAccountId") == ctx.account_id


def _listing(ctx: CollectContext, org: dict, operation: str, key: str, **kwargs: Any) -> list[dict]:
    """Every item of a management-only listing; a member account's refusal makes the unit skipped."""
    try:
        return [item for page in ctx.paginate("organizations", operation, **kwargs) for item in page.get(key) or []]
    except ClientError as error:
        if error_code(error) in DENIED and not _is_management(ctx, org):
            raise UnitSkipped(
                "NotManagementAccount",
                f"Account {ctx.account_id} is a member of organization {org.get('Id')}: only its management "
                f"account ({org.get('MasterAccountId')}) or a delegated administrator can list its accounts "
                "and policies. Connect that account to see them.",
            ) from None
        raise


# --- the organization -----------------------------------------------------------------------------


@collector("aws", "organizations.organization", service="organizations", regional=False)
def organization(ctx: CollectContext) -> Iterator[ResourceRecord]:
    org = _organization(ctx)
    if org is None:
        return
    details = Details(ctx)
    # A member account may not list the roots: the policy types are then unknown, never "off".
    roots = details.items("policy_types", "organizations", "list_roots", "Roots")
    types = [p for root in roots or [] for p in root.get("PolicyTypes") or []]
    enabled = None if roots is None else sorted({p["Type"] for p in types if p.get("Status") == "ENABLED"})
    config: dict[str, Any] = {
        "organization_id": org.get("Id"),
        "feature_set": org.get("FeatureSet"),  # ALL | CONSOLIDATED_BILLING
        "management_account_id": org.get("MasterAccountId"),
        "is_management_account": _is_management(ctx, org),
        "enabled_policy_types": enabled,
        "scp_enabled": None if enabled is None else SCP in enabled,
    }
    yield ResourceRecord(
        native_id=org.get("Arn") or f"arn:aws:organizations::{org.get('MasterAccountId')}:organization/{org.get('Id')}",
        name=org.get("Id") or "",
        config=details.finish(config),
    )


# --- accounts -------------------------------------------------------------------------------------


@collector("aws", "organizations.account", service="organizations", regional=False)
def accounts(ctx: CollectContext) -> Iterator[ResourceRecord]:
    org = _organization(ctx)
    if org is None:
        return
    listed = _listing(ctx, org, "list_accounts", "Accounts")
    yield from fan_out(ctx, partial(_account_record, ctx, org), listed)


def _account_record(ctx: CollectContext, org: dict, account: dict) -> ResourceRecord:
    account_id = account["Id"]
    details = Details(ctx)
    parents = details.items("parent", "organizations", "list_parents", "Parents", ChildId=account_id)
    tags = details.items("tags", "organizations", "list_tags_for_resource", "Tags", ResourceId=account_id)
    parent = (parents or [{}])[0]
    config: dict[str, Any] = {
        "account_id": account_id,
        "account_name": account.get("Name"),
        "email": account.get("Email"),
        "status": account.get("State") or account.get("Status"),  # ACTIVE | SUSPENDED | PENDING_CLOSURE | CLOSED
        "joined_method": account.get("JoinedMethod"),  # INVITED | CREATED
        "joined_timestamp": iso(account.get("JoinedTimestamp")),
        "is_management_account": account_id == org.get("MasterAccountId"),
        "parent_id": parent.get("Id"),
        "parent_type": parent.get("Type"),  # ROOT | ORGANIZATIONAL_UNIT
    }
    relations = [Rel("member_of", org["Arn"])] if org.get("Arn") else []
    return ResourceRecord(
        native_id=account.get("Arn") or account_id,
        name=account.get("Name") or account_id,
        config=details.finish(config),
        tags=tags_dict(tags),
        relations=relations,
    )


# --- service control policies ---------------------------------------------------------------------


@collector("aws", "organizations.policy", service="organizations", regional=False)
def policies(ctx: CollectContext) -> Iterator[ResourceRecord]:
    org = _organization(ctx)
    if org is None:
        return
    listed = _listing(ctx, org, "list_policies", "Policies", Filter=SCP)
    yield from fan_out(ctx, partial(_policy_record, ctx, org), listed)


def _policy_record(ctx: CollectContext, org: dict, summary: dict) -> ResourceRecord:
    policy_id = summary["Id"]
    details = Details(ctx)
    described = details.get("statements", "organizations", "describe_policy", PolicyId=policy_id)
    targets = details.items("targets", "organizations", "list_targets_for_policy", "Targets", PolicyId=policy_id)
    statements = None if described is None else normalize_statements((described.get("Policy") or {}).get("Content"))
    config: dict[str, Any] = {
        "policy_id": policy_id,
        "policy_name": summary.get("Name"),
        "description": summary.get("Description"),
        "type": summary.get("Type"),
        "aws_managed": bool(summary.get("AwsManaged", False)),
        "statements": statements,
        "denied_actions": (
            None
            if statements is None
            else sorted({a for s in statements if s.get("effect") == "Deny" for a in s.get("actions") or []})
        ),
        "targets": (
            None
            if targets is None
            else [{"target_id": t.get("TargetId"), "type": t.get("Type"), "name": t.get("Name")} for t in targets]
        ),
        "target_count": None if targets is None else len(targets),
    }
    relations = [Rel("attached_to", t["Arn"]) for t in targets or [] if t.get("Arn")]
    return ResourceRecord(
        native_id=summary.get("Arn") or policy_id,
        name=summary.get("Name") or policy_id,
        config=details.finish(config),
        relations=relations,
    )
