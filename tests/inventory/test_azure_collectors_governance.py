"""Azure governance collectors: Defender for Cloud plans and settings, RBAC role assignments and custom roles,
and the subscription record (Lighthouse delegations, the tenant's subscription policy, Entra ID's log
export), against the fake Resource Manager."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from inventory.collectors.azure.authorization import OWNER, READER, scope_level
from inventory.collectors.azure.security import POLICY_KEYS
from tests.fakes.azure_arm import arm_error
from tests.inventory.test_azure_collectors import CLIENT, SECRET, SUB, TENANT, by_name, collect, make_context, rels

RG = "rg-Gov"
SUB_ID = f"/subscriptions/{SUB}"
AUTH = f"{SUB_ID}/providers/Microsoft.Authorization"
CUSTOM = "9f0c0000-0000-4000-8000-00000000c001"
CUSTOM_GONE = "9f0c0000-0000-4000-8000-00000000dead"
READER_ROLE = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader
MG_SCOPE = "/providers/Microsoft.Management/managementGroups/contoso-root"
VAULT = f"{SUB_ID}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/kv-gov"


def low(value: str) -> str:
    return value.lower()


@pytest.fixture
def fake(fake_azure):
    fake_azure.add_tenant(TENANT)
    fake_azure.add_app(TENANT, CLIENT, SECRET)
    fake_azure.add_subscription(TENANT, SUB, "Contoso Production")
    fake_azure.add_resource_group(SUB, RG, "westeurope")
    fake_azure.add_resource(SUB, RG, "Microsoft.KeyVault/vaults", "kv-gov")
    return fake_azure


@pytest.fixture
def ctx(fake):
    context = make_context()
    yield context
    context.close()


# --- Defender for Cloud --------------------------------------------------------------------------------


def pricing(name: str, tier: str, **extra) -> dict:
    return {
        "id": f"{SUB_ID}/providers/Microsoft.Security/pricings/{name}",
        "name": name,
        "type": "Microsoft.Security/pricings",
        "properties": {"pricingTier": tier, "freeTrialRemainingTime": "PT0S", **extra},
    }


def test_defender_plans(fake, ctx):
    fake.register_list(
        f"{SUB_ID}/providers/Microsoft.Security/pricings",
        [
            pricing(
                "VirtualMachines",
                "Standard",
                subPlan="P2",
                enablementTime="2024-05-01T10:00:00.123Z",
                extensions=[
                    {"name": "AgentlessVmScanning", "isEnabled": "True"},
                    {"name": "MdeDesignatedSubscription", "isEnabled": "False"},
                ],
            ),
            pricing("StorageAccounts", "Free"),
            pricing("Dns", "Free", deprecated=True, replacedBy=["VirtualMachines"]),
        ],
    )
    plans = by_name(collect(ctx, "azure.security.defender_plan"))
    assert set(plans) == {"VirtualMachines", "StorageAccounts", "Dns"}
    servers = plans["VirtualMachines"]
    assert servers.native_id == low(f"{SUB_ID}/providers/Microsoft.Security/pricings/VirtualMachines")
    assert servers.region == "global"
    assert servers.config == {
        "plan": "VirtualMachines",
        "pricing_tier": "Standard",
        "enabled": True,
        "sub_plan": "P2",
        "deprecated": False,
        "replaced_by": [],
        "enablement_time": "2024-05-01T10:00:00.123000+00:00",
        "extensions": [
            {"name": "AgentlessVmScanning", "enabled": True},
            {"name": "MdeDesignatedSubscription", "enabled": False},
        ],
    }
    assert plans["StorageAccounts"].config["enabled"] is False
    assert plans["Dns"].config["deprecated"] is True and plans["Dns"].config["replaced_by"] == ["VirtualMachines"]
    assert "freeTrial" not in repr(servers)  # changes on every read: never stored


def test_security_settings(fake, ctx):
    fake.register_list(
        f"{SUB_ID}/providers/Microsoft.Security/securityContacts",
        [
            {
                "id": f"{SUB_ID}/providers/Microsoft.Security/securityContacts/default",
                "name": "default",
                "properties": {
                    "emails": "secops@contoso.com; CISO@contoso.com;secops@contoso.com",
                    "phone": "+1-555-0100",
                    "alertNotifications": {"state": "On", "minimalSeverity": "Medium"},
                    "notificationsByRole": {"state": "On", "roles": ["Owner", "ServiceAdmin"]},
                },
            }
        ],
    )
    fake.register_list(
        f"{SUB_ID}/providers/Microsoft.Security/settings",
        [
            {"name": "MCAS", "kind": "DataExportSettings", "properties": {"enabled": False}},
            {"name": "WDATP", "kind": "DataExportSettings", "properties": {"enabled": True}},
            {"name": "Sentinel", "kind": "AlertSyncSettings", "properties": {"enabled": True}},
        ],
    )
    fake.register(
        f"{AUTH}/policyAssignments/SecurityCenterBuiltIn",
        {
            "id": f"{AUTH}/policyAssignments/SecurityCenterBuiltIn",
            "name": "SecurityCenterBuiltIn",
            "properties": {
                "displayName": "ASC Default",
                "enforcementMode": "Default",
                "parameters": {
                    "diskEncryptionMonitoringEffect": {"value": "Disabled"},
                    "systemUpdatesMonitoringEffect": {"value": "AuditIfNotExists"},
                },
            },
        },
    )
    [record] = collect(ctx, "azure.security.settings").values()
    assert record.native_id == f"/subscriptions/{SUB}/providers/microsoft.security" and record.region == "global"
    assert record.config == {
        "contact_configured": True,
        "contact_email_count": 2,
        "contact_phone_set": True,
        "alert_notifications": True,
        "alert_minimal_severity": "Medium",
        "notify_roles_enabled": True,
        "notify_roles": ["Owner", "ServiceAdmin"],
        "mcas_integration": False,
        "mde_integration": True,
        "default_policy_assigned": True,
        "default_policy_enforcement": "Default",
        "default_policy_disabled": ["diskEncryptionMonitoringEffect"],
        "unreadable": [],
    }
    assert "contoso.com" not in repr(record) and "555" not in repr(record)  # personal data: never stored


def test_security_settings_when_nothing_is_configured_or_readable(fake, ctx):
    # No contact, no integration setting, no benchmark assignment (404): all "off", none unknown.
    [record] = collect(ctx, "azure.security.settings").values()
    assert record.config["contact_configured"] is False and record.config["contact_email_count"] == 0
    assert record.config["alert_notifications"] is False and record.config["notify_roles"] == []
    assert record.config["default_policy_assigned"] is False and record.config["unreadable"] == []

    fake.deny_provider("Microsoft.Authorization")
    fake.fail(f"{SUB_ID}/providers/Microsoft.Security/settings", 403, arm_error("AuthorizationFailed", "no"))
    [record] = collect(ctx, "azure.security.settings").values()
    assert record.config["unreadable"] == sorted([*POLICY_KEYS, "mcas_integration", "mde_integration"])
    assert record.config["mde_integration"] is None and record.config["default_policy_assigned"] is None
    assert record.config["contact_email_count"] == 0  # the contacts were read

    fake.deny_provider("Microsoft.Security")  # nothing of Defender for Cloud readable: the type is denied
    with pytest.raises(HttpResponseError) as raised:
        collect(ctx, "azure.security.settings")
    assert raised.value.status_code == 403


# --- RBAC ------------------------------------------------------------------------------------------------


def assignment(name: str, role: str, principal_type: str, scope: str, **extra) -> dict:
    assignment_id = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}"
    return {
        "id": assignment_id,
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": f"{AUTH}/roleDefinitions/{role}",
            "principalId": f"{name[:8]}-0000-4000-8000-000000000001",
            "principalType": principal_type,
            "scope": scope,
            "createdOn": "2024-02-03T04:05:06.1234567Z",
            **extra,
        },
    }


def custom_role(guid: str, actions: list[str], scopes: list[str], name: str = "Custom Admin") -> dict:
    return {
        "id": f"{AUTH}/roleDefinitions/{guid}",
        "name": guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": name,
            "type": "CustomRole",
            "description": "made by hand",
            "assignableScopes": scopes,
            "permissions": [{"actions": actions, "notActions": ["Microsoft.Billing/*"], "dataActions": []}],
            "createdOn": "2023-01-01T00:00:00Z",
        },
    }


@pytest.fixture
def rbac(fake):
    fake.register_list(
        f"{AUTH}/roleAssignments",
        [
            assignment("a0000001-0000-4000-8000-000000000001", OWNER, "User", SUB_ID),
            assignment("a0000002-0000-4000-8000-000000000002", OWNER, "Group", MG_SCOPE),
            assignment("a0000003-0000-4000-8000-000000000003", CUSTOM, "ForeignGroup", f"{SUB_ID}/resourceGroups/{RG}"),
            assignment("a0000004-0000-4000-8000-000000000004", READER_ROLE, "ServicePrincipal", VAULT, condition="@x"),
            assignment("a0000005-0000-4000-8000-000000000005", CUSTOM_GONE, "User", SUB_ID),
            assignment("a0000006-0000-4000-8000-000000000006", READER, "Device", "/"),
        ],
    )
    fake.register(f"{AUTH}/roleDefinitions/{CUSTOM}", custom_role(CUSTOM, ["*"], [SUB_ID]))
    fake.register(
        f"{AUTH}/roleDefinitions/{READER_ROLE}",
        {
            "id": f"{AUTH}/roleDefinitions/{READER_ROLE}",
            "name": READER_ROLE,
            "properties": {
                "roleName": "Storage Blob Data Reader",
                "type": "BuiltInRole",
                "permissions": [{"actions": ["Microsoft.Storage/storageAccounts/blobServices/containers/read"]}],
            },
        },
    )
    fake.register_list(
        f"{AUTH}/roleDefinitions",
        [
            custom_role(CUSTOM, ["*"], [SUB_ID]),
            custom_role(
                "9f0c0000-0000-4000-8000-00000000c002",
                ["Microsoft.Compute/*/read"],
                [f"{SUB_ID}/resourceGroups/{RG}"],
                "VM Viewer",
            ),
        ],
    )
    return fake


def test_role_assignments(rbac, ctx):
    found = {
        rec.config["assignment_id"].rsplit("/", 1)[-1][:8]: rec
        for rec in collect(ctx, "azure.authorization.role_assignment").values()
    }
    assert set(found) == {"a0000001", "a0000002", "a0000003", "a0000004", "a0000005", "a0000006"}
    owner = found["a0000001"]
    assert owner.native_id == low(f"{AUTH}/roleAssignments/a0000001-0000-4000-8000-000000000001")
    assert owner.name == "Owner → User a0000001-0000-4000-8000-000000000001" and owner.region == "global"
    assert owner.config == {
        "resource_group": "",
        "assignment_id": owner.native_id,
        "role_definition_id": OWNER,
        "role_name": "Owner",
        "role_type": "BuiltInRole",
        "privileged": True,
        "principal_id": "a0000001-0000-4000-8000-000000000001",
        "principal_type": "User",
        "external": False,
        "scope": f"/subscriptions/{SUB}",
        "scope_level": "subscription",
        "inherited": False,
        "has_condition": False,
        "delegated_managed_identity_id": None,
        "description": None,
        "created_on": "2024-02-03T04:05:06.123456+00:00",
        "unreadable": [],
    }
    assert rels(owner) == {("associated_with", f"/subscriptions/{SUB}")}

    inherited = found["a0000002"]
    assert inherited.native_id == f"/subscriptions/{SUB}" + low(
        f"{MG_SCOPE}/providers/Microsoft.Authorization/roleAssignments/a0000002-0000-4000-8000-000000000002"
    )
    assert inherited.config["assignment_id"] == inherited.native_id.removeprefix(f"/subscriptions/{SUB}")
    assert inherited.config["inherited"] is True and inherited.config["scope_level"] == "management_group"
    assert rels(inherited) == set()

    foreign = found["a0000003"]
    assert foreign.config["external"] is True and foreign.config["role_type"] == "CustomRole"
    assert foreign.config["privileged"] is True and foreign.config["scope_level"] == "resource_group"
    assert rels(foreign) == {
        ("uses_role", low(f"{AUTH}/roleDefinitions/{CUSTOM}")),
        ("in_resource_group", f"/subscriptions/{SUB}/resourcegroups/rg-gov"),
    }

    reader = found["a0000004"]
    assert reader.config["role_name"] == "Storage Blob Data Reader" and reader.config["privileged"] is False
    assert reader.config["has_condition"] is True and reader.config["scope_level"] == "resource"
    assert rels(reader, "associated_with") == {low(VAULT)}

    orphan = found["a0000005"]  # its custom role was deleted: 404 on the definition
    assert orphan.config["role_name"] is None and orphan.config["privileged"] is None
    assert orphan.config["unreadable"] == ["role_name", "role_type", "privileged"]
    assert found["a0000006"].config["scope_level"] == "root" and found["a0000006"].config["inherited"] is True


def test_each_role_definition_is_read_once(rbac, ctx):
    collect(ctx, "azure.authorization.role_assignment")
    assert len(rbac.calls(f"{AUTH}/roleDefinitions/{CUSTOM}")) == 1
    assert not rbac.calls(f"{AUTH}/roleDefinitions/{OWNER}"), "well-known built-in roles need no call"


def test_custom_roles(rbac, ctx):
    roles = by_name(collect(ctx, "azure.authorization.role_definition"))
    assert set(roles) == {"Custom Admin", "VM Viewer"}
    admin = roles["Custom Admin"]
    assert admin.native_id == low(f"{AUTH}/roleDefinitions/{CUSTOM}") and admin.region == "global"
    assert admin.config == {
        "role_name": "Custom Admin",
        "description": "made by hand",
        "role_type": "CustomRole",
        "actions": ["*"],
        "not_actions": ["Microsoft.Billing/*"],
        "data_actions": [],
        "assignable_scopes": [f"/subscriptions/{SUB}"],
        "all_actions": True,
        "admin_role": True,
        "assignable_at_subscription_or_above": True,
        "created_on": "2023-01-01T00:00:00+00:00",
    }
    viewer = roles["VM Viewer"].config
    assert not viewer["all_actions"] and not viewer["admin_role"] and not viewer["assignable_at_subscription_or_above"]
    assert [c.query.get("$filter") for c in rbac.calls(f"{AUTH}/roleDefinitions")] == ["type eq 'CustomRole'"]


def test_denied_role_assignments_raise(fake, ctx):
    fake.deny_provider("Microsoft.Authorization")
    with pytest.raises(HttpResponseError):
        collect(ctx, "azure.authorization.role_assignment")


@pytest.mark.parametrize(
    ("scope", "level"),
    [
        ("/", "root"),
        (MG_SCOPE, "management_group"),
        (SUB_ID, "subscription"),
        (f"{SUB_ID}/resourceGroups/{RG}", "resource_group"),
        (VAULT, "resource"),
    ],
)
def test_scope_level(scope, level):
    assert scope_level(scope) == level


# --- The subscription ------------------------------------------------------------------------------------


def test_the_subscription_record(fake, ctx):
    body = fake.subscriptions[SUB].to_json() | {
        "managedByTenants": [{"tenantId": "AAAA0000-0000-4000-8000-00000000BEEF"}],
        "tags": {"costcenter": "42"},
    }
    fake.register(SUB_ID, body)
    fake.register_list(
        f"{SUB_ID}/providers/Microsoft.ManagedServices/registrationAssignments",
        [
            {
                "id": f"{SUB_ID}/providers/Microsoft.ManagedServices/registrationAssignments/r1",
                "name": "r1",
                "properties": {
                    "registrationDefinition": {
                        "properties": {
                            "managedByTenantId": "AAAA0000-0000-4000-8000-00000000BEEF",
                            "managedByTenantName": "Fabrikam MSP",
                            "authorizations": [
                                {"principalId": "x", "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c"},
                                {"principalId": "y", "roleDefinitionId": READER},
                            ],
                            "eligibleAuthorizations": [{"principalId": "z", "roleDefinitionId": OWNER}],
                        }
                    }
                },
            }
        ],
    )
    fake.register(
        "/providers/Microsoft.Subscription/policies/default",
        {
            "id": "/providers/Microsoft.Subscription/policies/default",
            "name": "default",
            "properties": {
                "policyId": "p",
                "blockSubscriptionsLeavingTenant": True,
                "blockSubscriptionsIntoTenant": False,
                "exemptedPrincipals": ["e1"],
            },
        },
    )
    fake.register_list(
        "/providers/microsoft.aadiam/diagnosticSettings",
        [
            {
                "name": "entra-to-law",
                "properties": {
                    "workspaceId": "w",
                    "logs": [{"category": "SignInLogs", "enabled": True}, {"category": "AuditLogs", "enabled": True}],
                },
            }
        ],
    )
    [record] = collect(ctx, "azure.resource.subscription").values()
    assert record.native_id == f"/subscriptions/{SUB}" and record.name == "Contoso Production"
    assert record.region == "global" and record.tags == {"costcenter": "42"}
    assert record.config == {
        "subscription_id": SUB,
        "display_name": "Contoso Production",
        "state": "Enabled",
        "tenant_id": TENANT,
        "quota_id": "PayAsYouGo_2014-09-01",
        "spending_limit": "Off",
        "authorization_source": "RoleBased",
        "managed_by_tenants": ["aaaa0000-0000-4000-8000-00000000beef"],
        "external_delegations": [
            {
                "tenant_id": "aaaa0000-0000-4000-8000-00000000beef",
                "tenant_name": "Fabrikam MSP",
                "role_definition_ids": ["acdd72a7-3385-48ef-bd42-f606fba81ae7", "b24988ac-6180-42a0-ab88-20f7382dd24c"],
                "privileged": True,
                "eligible_count": 1,
            }
        ],
        "tenant_policy": {"block_leaving_tenant": True, "block_entering_tenant": False, "exempted_principal_count": 1},
        "entra_log_export": {"setting_count": 1, "categories": ["AuditLogs", "SignInLogs"]},
        "unreadable": [],
    }


def test_tenant_settings_a_subscription_reader_cannot_see_are_unreadable(fake, ctx):
    fake.fail("/providers/microsoft.aadiam/diagnosticSettings", 403, arm_error("AuthorizationFailed", "tenant root"))
    [record] = collect(ctx, "azure.resource.subscription").values()
    # The fake answers 404 for the unregistered tenant policy: unreadable too (not "allowed").
    assert record.config["unreadable"] == ["entra_log_export", "tenant_policy"]
    assert record.config["tenant_policy"] is None and record.config["entra_log_export"] is None
    assert record.config["external_delegations"] == [] and record.config["managed_by_tenants"] == []


def test_an_unregistered_lighthouse_provider_means_no_delegation(fake, ctx):
    path = f"{SUB_ID}/providers/Microsoft.ManagedServices/registrationAssignments"
    fake.fail(path, 409, arm_error("MissingSubscriptionRegistration", "The subscription is not registered."), times=1)
    [record] = collect(ctx, "azure.resource.subscription").values()
    assert record.config["external_delegations"] == []
    assert "external_delegations" not in record.config["unreadable"]
    fake.fail(path, 403, arm_error("AuthorizationFailed", "denied"))
    [record] = collect(ctx, "azure.resource.subscription").values()
    assert record.config["external_delegations"] is None and "external_delegations" in record.config["unreadable"]
