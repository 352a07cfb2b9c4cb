"""Azure RBAC (Microsoft.Authorization): role assignments, and custom role definitions.

Role assignments are listed at the subscription, which returns those at its scope, below it (resource
groups, resources) and above it (management groups, the tenant root "/"). An assignment from above is
recorded in each subscription it reaches, with ``inherited`` true and a native id made of the subscription
id followed by the assignment's own id (kept in ``assignment_id``): a record belongs to one subscription.

The role of an assignment is named from a table of the built-in roles that matter (Owner, Contributor...)
or, for any other role, by reading its definition once per scan (a failure leaves ``role_name``,
``role_type`` and ``privileged`` null, listed in ``config.unreadable``). ``privileged`` is what Azure
calls the privileged administrator roles (Owner, Contributor, User Access Administrator, Role Based Access
Control Administrator) and custom roles granting every action or role-assignment writes.

What Resource Manager does not say without Microsoft Graph: principals' names, whether a user is a guest
(B2B) account, group members. ``principal_type`` is what ARM stores (User, Group, ServicePrincipal,
ForeignGroup, Device); ``external`` marks ForeignGroup principals (from another tenant).

Relationships: assignment → the custom role definition it grants ``uses_role``, → its scope when that is
the subscription or a resource ``associated_with``, → its resource group ``in_resource_group``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory.collectors.azure import _arm
from inventory.collectors.azure._util import iso, props, record, rid
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import Rel, ResourceRecord, collector

API_VERSION = "2022-04-01"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
BUILT_IN_ROLES = {
    OWNER: "Owner",
    CONTRIBUTOR: "Contributor",
    READER: "Reader",
    USER_ACCESS_ADMINISTRATOR: "User Access Administrator",
    RBAC_ADMINISTRATOR: "Role Based Access Control Administrator",
}
PRIVILEGED_ROLES = frozenset({OWNER, CONTRIBUTOR, USER_ACCESS_ADMINISTRATOR, RBAC_ADMINISTRATOR})
# Custom-role actions that amount to an administrator role: every action, or granting roles.
_ADMIN_ACTIONS = frozenset(
    {
        "*",
        "*/write",
        "microsoft.authorization/*",
        "microsoft.authorization/*/write",
        "microsoft.authorization/roleassignments/*",
        "microsoft.authorization/roleassignments/write",
    }
)


def definition_guid(role_definition_id: Any) -> str:
    return rid(role_definition_id).rsplit("/", 1)[-1]


def definition_native_id(subscription_id: str, guid: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/microsoft.authorization/roledefinitions/{guid}".lower()


def _actions(definition: dict) -> list[str]:
    found: set[str] = set()
    for permission in props(definition).get("permissions") or []:
        found.update(str(a) for a in permission.get("actions") or [])
    return sorted(found)


def is_admin_role(actions: list[str]) -> bool:
    return any(action.lower() in _ADMIN_ACTIONS for action in actions)


def scope_level(scope: str) -> str:
    """root | management_group | subscription | resource_group | resource."""
    parts = rid(scope).strip("/").split("/")
    if parts == [""]:
        return "root"
    if parts[:3] == ["providers", "microsoft.management", "managementgroups"]:
        return "management_group"
    if len(parts) == 2 and parts[0] == "subscriptions":
        return "subscription"
    if len(parts) == 4 and parts[2] == "resourcegroups":
        return "resource_group"
    return "resource"


@collector("azure", "authorization.role_assignment", service="Microsoft.Authorization", regional=False)
def role_assignments(ctx: AzureContext) -> Iterator[ResourceRecord]:
    sub = f"/subscriptions/{ctx.subscription_id}"
    found = list(_arm.items(ctx, f"{sub}/providers/Microsoft.Authorization/roleAssignments", API_VERSION))
    definitions: dict[str, dict | None] = {}
    for guid in sorted({definition_guid(props(a).get("roleDefinitionId")) for a in found} - set(BUILT_IN_ROLES)):
        path = f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
        definitions[guid] = _arm.ArmDetails(ctx).get_path("role", path, API_VERSION)
    for assignment in found:
        yield _assignment_record(ctx.subscription_id, assignment, definitions)


def _assignment_record(subscription_id: str, assignment: dict, definitions: dict[str, dict | None]) -> ResourceRecord:
    p = props(assignment)
    sub = f"/subscriptions/{subscription_id}".lower()
    guid = definition_guid(p.get("roleDefinitionId"))
    scope = rid(p.get("scope")) or "/"
    level = scope_level(scope)
    inherited = level in ("root", "management_group")
    unreadable: list[str] = []
    if guid in BUILT_IN_ROLES:
        role_name, role_type, privileged = BUILT_IN_ROLES[guid], "BuiltInRole", guid in PRIVILEGED_ROLES
    elif definitions.get(guid) is not None:
        definition = definitions[guid] or {}
        role_name, role_type = props(definition).get("roleName"), props(definition).get("type")
        privileged = is_admin_role(_actions(definition))
    else:  # denied, or a role definition deleted since (an orphaned assignment)
        role_name = role_type = privileged = None
        unreadable = ["role_name", "role_type", "privileged"]
    principal_type = p.get("principalType")
    config = {
        "assignment_id": rid(assignment),
        "role_definition_id": guid,
        "role_name": role_name,
        "role_type": role_type,
        "privileged": privileged,
        "principal_id": p.get("principalId"),
        "principal_type": principal_type,
        "external": principal_type == "ForeignGroup",
        "scope": scope,
        "scope_level": level,
        "inherited": inherited,
        "has_condition": bool(p.get("condition")),
        "delegated_managed_identity_id": rid(p.get("delegatedManagedIdentityResourceId")) or None,
        "description": p.get("description"),
        "created_on": iso(p.get("createdOn")),
        "unreadable": unreadable,
    }
    rels = []
    if role_type == "CustomRole":
        rels.append(Rel("uses_role", definition_native_id(subscription_id, guid)))
    if level in ("subscription", "resource"):
        rels.append(Rel("associated_with", scope))
    item = {
        **assignment,
        "id": sub + rid(assignment) if inherited else assignment.get("id"),
        "name": f"{role_name or 'role ' + guid} → {principal_type or 'principal'} {p.get('principalId') or ''}".strip(),
    }
    return record(item, config, rels, region="global")


@collector("azure", "authorization.role_definition", service="Microsoft.Authorization", regional=False)
def custom_roles(ctx: AzureContext) -> Iterator[ResourceRecord]:
    """The custom roles assignable in the subscription (built-in roles are the same everywhere)."""
    sub = f"/subscriptions/{ctx.subscription_id}"
    path = f"{sub}/providers/Microsoft.Authorization/roleDefinitions"
    for definition in _arm.items(ctx, path, API_VERSION, **{"$filter": "type eq 'CustomRole'"}):
        p = props(definition)
        if str(p.get("type") or "").lower() != "customrole":
            continue
        actions = _actions(definition)
        scopes = sorted(rid(s) or "/" for s in p.get("assignableScopes") or [])
        config = {
            "role_name": p.get("roleName"),
            "description": p.get("description"),
            "role_type": p.get("type"),
            "actions": actions,
            "not_actions": sorted(
                {str(a) for perm in p.get("permissions") or [] for a in perm.get("notActions") or []}
            ),
            "data_actions": sorted(
                {str(a) for perm in p.get("permissions") or [] for a in perm.get("dataActions") or []}
            ),
            "assignable_scopes": scopes,
            "all_actions": "*" in actions,
            "admin_role": is_admin_role(actions),
            "assignable_at_subscription_or_above": any(
                scope_level(s) in ("root", "management_group", "subscription") for s in scopes
            ),
            "created_on": iso(p.get("createdOn")),
        }
        guid = str(definition.get("name") or definition_guid(definition.get("id")))
        item = {**definition, "id": definition_native_id(ctx.subscription_id, guid)}
        yield ResourceRecord(native_id=item["id"], name=str(p.get("roleName") or guid), config=config, region="global")
