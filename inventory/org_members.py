"""Scanning an AWS Organization: after the organization connection's scan, its member accounts.

Registered into ``inventory.hooks.after_sync`` (runs after a scan that wrote the inventory):

* after the organization connection's scan, the accounts its ``aws.organizations.account`` unit listed
  become the member connections (``connections.organization.do_sync_members``), and every member's scan
  starts, each a run of its own (own coverage, warnings, inventory and findings). A listing that was not
  collected (denied, throttled, the account is not the management account) changes no member: a failed
  listing never makes accounts "leave".
* a member that left is scanned once more, with nothing to read (``sync.fetch_departed_member``): its
  inventory is removed through the ordinary deletion path; after that scan it is disabled.
"""

from __future__ import annotations

import logging

from connections import organization
from connections.models import CloudConnection
from inventory import actions, hooks
from inventory.models import COLLECTED, GLOBAL_REGION, Resource, SyncRun

logger = logging.getLogger(__name__)
ACCOUNTS_TYPE = "aws.organizations.account"


def listed_accounts(run: SyncRun) -> list[dict] | None:
    """The organization's accounts as the run listed them; None when its listing was not collected."""
    if (run.coverage or {}).get(ACCOUNTS_TYPE, {}).get(GLOBAL_REGION) != COLLECTED:
        return None
    configs = (
        Resource.objects.for_org(run.org_id)
        .filter(connection_id=run.connection_id, resource_type=ACCOUNTS_TYPE)
        .values_list("config", flat=True)
    )
    return [
        {"id": str(c.get("account_id") or ""), "name": str(c.get("account_name") or ""), "status": c.get("status")}
        for c in configs
    ]


def start_member_scans(parent: CloudConnection, *, trigger: str = SyncRun.Trigger.SCHEDULE, user=None) -> list[SyncRun]:
    """Queue (or join) a scan of every current member, and the last scan of every member that left."""
    runs = []
    for member in [*organization.current_members(parent), *organization.departed_members(parent)]:
        try:
            run, _started = actions.do_start_sync(member, trigger=trigger, user=user)
        except actions.SyncNotAllowed as refused:
            logger.info("member connection %s not scanned: %s", member.pk, refused)
            continue
        runs.append(run)
    return runs


def after_sync(run: SyncRun) -> None:
    connection = run.connection
    if connection.is_member:
        if connection.left_organization_at is not None:
            organization.do_retire_member(connection)
        return
    if not connection.is_organization:
        return
    accounts = listed_accounts(run)
    if accounts is None:
        logger.warning("organization connection %s: accounts not listed by run %s", connection.pk, run.pk)
    else:
        organization.do_sync_members(connection, accounts)
    start_member_scans(connection, trigger=run.trigger, user=run.triggered_by)


def register() -> None:
    if after_sync not in hooks.after_sync:
        hooks.after_sync.append(after_sync)
