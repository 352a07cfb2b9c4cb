"""Resource policies (SQS queues, SNS topics, ECR repositories, secrets, EFS file systems) summarized
into the few facts rules judge: who outside the account may act, and whether TLS is required. The
policy text itself is not stored: the flags and the principals are what the rules read."""

from __future__ import annotations

from typing import Any

from inventory.collectors.aws._util import arn_account
from inventory.collectors.aws.iam import normalize_statements

# Condition keys that narrow "Principal: *" to known callers (an account, an organization, a source
# resource or network): a statement guarded by one of them is not public.
NARROWING_KEYS = frozenset(
    {
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:resourceorgid",
        "aws:sourceorgid",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:userid",
    }
)


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    conditions = statement.get("conditions") or {}
    if not isinstance(conditions, dict):
        return set()
    return {str(key).lower() for ops in conditions.values() if isinstance(ops, dict) for key in ops}


def _principal_values(statement: dict[str, Any]) -> list[str]:
    principals = statement.get("principals") or {}
    return [value for values in principals.values() for value in values]


def _requires_secure_transport(statement: dict[str, Any]) -> bool:
    """A Deny statement with ``Bool: {aws:SecureTransport: false}``: every plain-text request is refused."""
    if statement.get("effect") != "Deny":
        return False
    conditions = statement.get("conditions") or {}
    for op, keys in conditions.items() if isinstance(conditions, dict) else ():
        if str(op).lower() != "bool" or not isinstance(keys, dict):
            continue
        for key, value in keys.items():
            values = value if isinstance(value, list) else [value]
            if str(key).lower() == "aws:securetransport" and "false" in [str(v).lower() for v in values]:
                return True
    return False


def summarize_resource_policy(document: Any, own_account: str) -> dict[str, Any]:
    """{present, public, public_actions, external_accounts, requires_secure_transport} of a resource
    policy (a JSON string or a dict; None or "" when the resource has none)."""
    statements = normalize_statements(document) if document else []
    public_actions: set[str] = set()
    external: set[str] = set()
    for statement in statements:
        if statement.get("effect") != "Allow":
            continue
        values = _principal_values(statement)
        if "*" in values and not (_condition_keys(statement) & NARROWING_KEYS):
            public_actions.update(statement.get("actions") or ["*"])
        for value in values:
            account = value if value.isdigit() else arn_account(value)
            if account and account != own_account:
                external.add(account)
    return {
        "present": bool(statements),
        "public": bool(public_actions),
        "public_actions": sorted(public_actions),
        "external_accounts": sorted(external),
        "requires_secure_transport": any(_requires_secure_transport(s) for s in statements),
    }
