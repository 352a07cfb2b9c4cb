"""Account-wide settings as a record of their own (``aws.account.settings``), so that rules can judge
what is *not* there: no security contact, no account-level S3 Block Public Access.

One record per account, every run, whatever is configured. Each setting is read by its own call; one
the identity may not read is null and listed in ``config["unreadable"]`` (never read as "off")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory.collectors.aws._util import Details
from inventory.collectors.aws.s3 import normalize_pab
from inventory.collectors.base import CollectContext, ResourceRecord, collector

# Account Management's alternate contact types → our keys. The phone number is not kept: rules only
# need to know whether a contact is registered, and who it is, to check it is current.
CONTACT_TYPES = {"SECURITY": "security", "BILLING": "billing", "OPERATIONS": "operations"}


def account_settings_arn(account_id: str) -> str:
    return f"arn:aws:account::{account_id}:account"


@collector("aws", "account.settings", service="account", regional=False)
def account_settings(ctx: CollectContext) -> Iterator[ResourceRecord]:
    details = Details(ctx)
    contacts = {key: _alternate_contact(details, aws_type, key) for aws_type, key in CONTACT_TYPES.items()}
    config: dict[str, Any] = {
        "account_id": ctx.account_id,
        "alternate_contacts": contacts,
        "s3_public_access_block": _s3_public_access_block(details, ctx.account_id),
    }
    yield ResourceRecord(
        native_id=account_settings_arn(ctx.account_id),
        name=f"Account settings ({ctx.account_id})",
        config=details.finish(config),
    )


def _alternate_contact(details: Details, aws_type: str, key: str) -> dict[str, Any] | None:
    """{configured, name, title, email_address}; None when unreadable (IAM can allow some contact types
    and not others, with the account:AlternateContactTypes condition key)."""
    answer = details.get(
        f"alternate_contacts.{key}",
        "account",
        "get_alternate_contact",
        missing=("ResourceNotFoundException",),
        AlternateContactType=aws_type,
    )
    if answer is None:
        return None
    contact = answer.get("AlternateContact") or {}
    return {
        "configured": bool(contact),
        "name": contact.get("Name"),
        "title": contact.get("Title"),
        "email_address": contact.get("EmailAddress"),
    }


def _s3_public_access_block(details: Details, account_id: str) -> dict[str, Any] | None:
    """The account-level S3 Block Public Access: the four flags, and whether any configuration exists."""
    answer = details.get(
        "s3_public_access_block",
        "s3control",
        "get_public_access_block",
        missing=("NoSuchPublicAccessBlockConfiguration",),
        AccountId=account_id,
    )
    if answer is None:
        return None
    configuration = answer.get("PublicAccessBlockConfiguration")
    return {"configured": configuration is not None, **normalize_pab(configuration)}
