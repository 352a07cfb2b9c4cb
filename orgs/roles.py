"""The one role matrix of the product.

Every permission check asks "may this role do <capability>?" through ``role_can`` (or the
``Membership.can_<capability>`` properties generated from it); nothing else in the code base compares
roles. docs/roles.md documents this table, and a test keeps the two in sync.

Roles are cumulative: each one may do everything the role below it may do, and more.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    # Ordered from the most to the least powerful: choices appear in this order in forms.
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class Capability(StrEnum):
    VIEW = "view"
    RUN_SCANS = "run_scans"
    MANAGE_RULES = "manage_rules"
    MANAGE_SUPPRESSIONS = "manage_suppressions"
    MANAGE_AUTOMATIONS = "manage_automations"
    MANAGE_CONNECTIONS = "manage_connections"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_INVITATIONS = "manage_invitations"
    VIEW_AUDIT_LOG = "view_audit_log"
    MANAGE_ORG = "manage_org"
    MANAGE_API_KEYS = "manage_api_keys"
    MANAGE_BILLING = "manage_billing"
    MANAGE_OWNERSHIP = "manage_ownership"
    DELETE_ORG = "delete_org"


C = Capability

CAPABILITY_DESCRIPTIONS: dict[Capability, str] = {
    C.VIEW: "See everything of the organization: inventory, map, changes, findings, members",
    C.RUN_SCANS: "Start a scan of a connection",
    C.MANAGE_RULES: "Create, edit and turn rules and policies on or off",
    C.MANAGE_SUPPRESSIONS: "Suppress findings and manage baselines",
    C.MANAGE_AUTOMATIONS: "Create and edit summaries by email and other automations",
    C.MANAGE_CONNECTIONS: "Add, edit, test and remove cloud connections (credentials)",
    C.MANAGE_MEMBERS: "Change members' roles (up to admin) and remove members",
    C.MANAGE_INVITATIONS: "Invite people by email, resend and revoke invitations",
    C.VIEW_AUDIT_LOG: "Browse the organization's audit log",
    C.MANAGE_ORG: "Rename the organization and require two-factor authentication",
    C.MANAGE_API_KEYS: "Create and revoke the organization's API keys; revoke any member's personal key",
    C.MANAGE_BILLING: "Choose the plan, see invoices, change the payment method",
    C.MANAGE_OWNERSHIP: "Grant or remove the owner role, transfer ownership",
    C.DELETE_ORG: "Delete the organization and all its data",
}

_VIEWER = frozenset({C.VIEW})
_MEMBER = _VIEWER | {C.RUN_SCANS, C.MANAGE_RULES, C.MANAGE_SUPPRESSIONS, C.MANAGE_AUTOMATIONS}
_ADMIN = _MEMBER | {
    C.MANAGE_CONNECTIONS,
    C.MANAGE_MEMBERS,
    C.MANAGE_INVITATIONS,
    C.VIEW_AUDIT_LOG,
    C.MANAGE_ORG,
    C.MANAGE_API_KEYS,
}
_OWNER = _ADMIN | {C.MANAGE_BILLING, C.MANAGE_OWNERSHIP, C.DELETE_ORG}

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.OWNER: _OWNER,
    Role.ADMIN: _ADMIN,
    Role.MEMBER: _MEMBER,
    Role.VIEWER: _VIEWER,
}


def role_can(role: str, capability: str) -> bool:
    """True when ``role`` may do ``capability``. An unknown role may do nothing (fail closed);
    an unknown capability is a programming error and raises ValueError."""
    capability = Capability(capability)
    try:
        return capability in ROLE_CAPABILITIES[Role(role)]
    except ValueError:
        return False


def assignable_roles(role: str) -> list[Role]:
    """The roles a member with ``role`` may give to others (by invitation or role change)."""
    if not role_can(role, C.MANAGE_MEMBERS) and not role_can(role, C.MANAGE_INVITATIONS):
        return []
    if role_can(role, C.MANAGE_OWNERSHIP):
        return list(Role)
    return [r for r in Role if r != Role.OWNER]


def capabilities_table() -> list[tuple[Capability, str, list[bool]]]:
    """(capability, description, [allowed for each role in Role order]) rows, for docs and pages."""
    return [(cap, CAPABILITY_DESCRIPTIONS[cap], [cap in ROLE_CAPABILITIES[r] for r in Role]) for cap in Capability]
