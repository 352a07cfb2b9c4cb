"""An AWS Organization as one connection: its member accounts, each a connection of its own.

The organization connection holds the role in the management account (or a delegated administrator
account). Every scan of it lists the organization's accounts (the ``aws.organizations.account``
collector, organizations:ListAccounts); ``do_sync_members`` then makes the member connections match
the ACTIVE accounts listed:

* an account that joined becomes a member connection: the same role name and External ID (the StackSet
  deploys that role everywhere), the organization's regions, scanned with it (never on its own schedule);
* an account that is no longer ACTIVE in the organization (removed, suspended, closed) is marked as having
  left: its next scan removes its inventory through the sync engine's ordinary deletion path (so the change
  history records each deletion and its findings are resolved like any deleted resource's), then it is
  disabled. Its row stays for that history; if the account comes back it is the same member again.

Members do not count against the plan's connection limit: the organization is one connection (their
resources count, like any resource).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from connections.models import CloudConnection
from connections.providers.aws import member_role_arn

logger = logging.getLogger(__name__)
Scope = CloudConnection.AwsScope
NAME_LIMIT = CloudConnection._meta.get_field("name").max_length


@dataclass
class MemberChanges:
    joined: list[str] = field(default_factory=list)  # account ids
    left: list[str] = field(default_factory=list)
    members: list[CloudConnection] = field(default_factory=list)  # the current (ACTIVE) members

    @property
    def changed(self) -> bool:
        return bool(self.joined or self.left)


def members_of(parent: CloudConnection):
    """The organization's member connections, current ones first, by account name."""
    return (
        CloudConnection.objects.for_org(parent.org_id)
        .filter(parent=parent)
        .order_by("-enabled", "aws_account_alias", "aws_account_id")
    )


def current_members(parent: CloudConnection):
    return members_of(parent).filter(left_organization_at__isnull=True)


def member_name(parent: CloudConnection, account_id: str, account_name: str) -> str:
    """“<organization> / <account name> (<id>)”, shortened to fit, the id always kept."""
    suffix = f" ({account_id})"
    head = f"{parent.name} / {account_name}" if account_name else parent.name
    return head[: NAME_LIMIT - len(suffix)] + suffix


def _free_name(parent: CloudConnection, wanted: str, member: CloudConnection | None) -> str:
    """``wanted``, unless another connection of the organization already has it (names are unique)."""
    taken = CloudConnection.objects.for_org(parent.org_id).filter(name=wanted)
    if member is not None and member.pk:
        taken = taken.exclude(pk=member.pk)
    if not taken.exists():
        return wanted
    tag = f" #{parent.pk}"
    return wanted[: NAME_LIMIT - len(tag)] + tag


def _apply_parent_settings(member: CloudConnection, parent: CloudConnection) -> None:
    """What a member takes from its organization at every scan."""
    member.role_arn = member_role_arn(parent.role_arn, member.aws_account_id)
    member.external_id = parent.external_id
    member.enabled_regions = list(parent.enabled_regions)
    member.selected_regions = list(parent.selected_regions)
    member.enabled = parent.enabled


def do_sync_members(parent: CloudConnection, accounts: list[dict]) -> MemberChanges:
    """Make the organization's member connections match ``accounts`` ([{"id", "name", "status"}], as
    listed by the organization's role; only ACTIVE ones are members). The organization's own account is
    scanned by the organization connection itself, never as a member."""
    if not parent.is_organization:
        raise ValueError("not an AWS Organization connection")
    active = {
        a["id"]: a.get("name") or ""
        for a in accounts
        if a.get("id") and a.get("status", "ACTIVE") == "ACTIVE" and a["id"] != parent.aws_account_id
    }
    changes = MemberChanges()
    now = timezone.now()
    with transaction.atomic():
        existing = {m.aws_account_id: m for m in members_of(parent).select_for_update()}
        for account_id, account_name in sorted(active.items()):
            member = existing.get(account_id)
            if member is None:
                member = CloudConnection(
                    org_id=parent.org_id,
                    provider=CloudConnection.Provider.AWS,
                    auth_method=CloudConnection.AuthMethod.AWS_ROLE,
                    aws_scope=Scope.MEMBER,
                    parent=parent,
                    aws_account_id=account_id,
                    status=CloudConnection.Status.VERIFIED,  # each scan says whether its role was assumed
                    scan_frequency=CloudConnection.ScanFrequency.MANUAL,  # scanned with the organization
                    created_by=parent.created_by,
                )
                changes.joined.append(account_id)
            elif member.left_organization_at is not None:
                member.left_organization_at = None
                changes.joined.append(account_id)
            member.aws_account_alias = account_name[:100]
            member.name = _free_name(parent, member_name(parent, account_id, account_name), member)
            _apply_parent_settings(member, parent)
            member.save()
            changes.members.append(member)
        for account_id, member in sorted(existing.items()):
            if account_id not in active and member.left_organization_at is None:
                member.left_organization_at = now
                member.save(update_fields=["left_organization_at", "updated_at"])
                changes.left.append(account_id)
        if changes.changed:
            audit.record(
                AuditEvent.Action.CONNECTION_UPDATED,
                org=parent.org,
                target=parent.name,
                fields=["member_accounts"],
                joined=changes.joined,
                left=changes.left,
            )
    if changes.changed:
        logger.info(
            "organization connection %s: %s accounts joined, %s left", parent.pk, len(changes.joined), len(changes.left)
        )
    return changes


def departed_members(parent: CloudConnection):
    """Members that left and still hold an inventory to remove (not yet disabled)."""
    return members_of(parent).filter(left_organization_at__isnull=False, enabled=True)


def do_retire_member(member: CloudConnection) -> None:
    """After the scan that removed a departed member's inventory: it is scanned no more."""
    if not member.is_member or member.left_organization_at is None:
        return
    member.enabled = False
    member.save(update_fields=["enabled", "updated_at"])
