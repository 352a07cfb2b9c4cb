"""The subscription itself, as one record per subscription (``azure.resource.subscription``, native id
``/subscriptions/<id>``): its state and offer, who outside the tenant manages it, and the tenant-wide
settings Resource Manager can read without Microsoft Graph.

- ``managed_by_tenants`` and ``external_delegations``: Azure Lighthouse delegations, the other tenants
  whose users and service principals hold roles here (``Microsoft.ManagedServices/registrationAssignments``).
- ``tenant_policy``: the tenant's subscription policy, whether subscriptions may leave or enter the
  directory (``/providers/Microsoft.Subscription/policies/default``).
- ``entra_log_export``: Microsoft Entra ID's own diagnostic settings (sign-in and audit logs exported;
  ``/providers/microsoft.aadiam/diagnosticSettings``), readable only with a role at the tenant root.

Each part that cannot be read (denied: they need more than Reader on the subscription) is null and listed
in ``config.unreadable``. Entra ID's other policies (security defaults, Conditional Access, MFA, guest and
consent settings, password reset, app registration) are Microsoft Graph resources: not read here.

Relationships: activity-log diagnostic settings and subscription-scope role assignments point at this
record (``attached_to``, ``associated_with``).
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.collectors.azure import _arm
from inventory.collectors.azure._util import props, tags_of
from inventory.collectors.azure.authorization import PRIVILEGED_ROLES, definition_guid
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import ResourceRecord, collector

SUBSCRIPTION_API_VERSION = "2022-12-01"
LIGHTHOUSE_API_VERSION = "2022-10-01"
TENANT_POLICY_API_VERSION = "2021-10-01"
ENTRA_DIAGNOSTIC_API_VERSION = "2017-04-01"


@collector("azure", "resource.subscription", service="Microsoft.Resources", regional=False)
def subscriptions(ctx: AzureContext) -> Iterator[ResourceRecord]:
    sub_path = f"/subscriptions/{ctx.subscription_id}"
    subscription = _arm.get(ctx, sub_path, SUBSCRIPTION_API_VERSION)
    details = _arm.ArmDetails(ctx)
    policies = subscription.get("subscriptionPolicies") or {}
    config: dict = {
        "subscription_id": subscription.get("subscriptionId") or ctx.subscription_id,
        "display_name": subscription.get("displayName"),
        "state": subscription.get("state"),
        "tenant_id": subscription.get("tenantId"),
        "quota_id": policies.get("quotaId"),
        "spending_limit": policies.get("spendingLimit"),
        "authorization_source": subscription.get("authorizationSource"),
        "managed_by_tenants": sorted(
            str(t.get("tenantId")).lower() for t in subscription.get("managedByTenants") or [] if t.get("tenantId")
        ),
    }
    delegations = details.items_path(
        "external_delegations",
        f"{sub_path}/providers/Microsoft.ManagedServices/registrationAssignments",
        LIGHTHOUSE_API_VERSION,
        **{"$expandRegistrationDefinition": "true"},
    )
    config["external_delegations"] = None if delegations is None else _delegations(delegations)
    tenant_policy = details.get_path(
        "tenant_policy", "/providers/Microsoft.Subscription/policies/default", TENANT_POLICY_API_VERSION
    )
    config["tenant_policy"] = None if tenant_policy is None else _tenant_policy(tenant_policy)
    entra = details.items_path(
        "entra_log_export", "/providers/microsoft.aadiam/diagnosticSettings", ENTRA_DIAGNOSTIC_API_VERSION
    )
    config["entra_log_export"] = None if entra is None else _entra_export(entra)
    yield ResourceRecord(
        native_id=sub_path.lower(),
        name=str(subscription.get("displayName") or ctx.subscription_id),
        config=details.finish(config),
        tags=tags_of(subscription),
        region="global",
    )


def _delegations(assignments: list[dict]) -> list[dict]:
    found = []
    for assignment in assignments:
        definition = props(props(assignment).get("registrationDefinition") or {})
        roles = sorted({definition_guid(a.get("roleDefinitionId")) for a in definition.get("authorizations") or []})
        found.append(
            {
                "tenant_id": str(definition.get("managedByTenantId") or "").lower() or None,
                "tenant_name": definition.get("managedByTenantName"),
                "role_definition_ids": roles,
                "privileged": any(role in PRIVILEGED_ROLES for role in roles),
                "eligible_count": len(definition.get("eligibleAuthorizations") or []),
            }
        )
    return sorted(found, key=lambda d: (str(d["tenant_id"]), d["role_definition_ids"]))


def _tenant_policy(answer: dict) -> dict:
    p = props(answer)
    return {
        "block_leaving_tenant": bool(p.get("blockSubscriptionsLeavingTenant")),
        "block_entering_tenant": bool(p.get("blockSubscriptionsIntoTenant")),
        "exempted_principal_count": len(p.get("exemptedPrincipals") or []),
    }


def _entra_export(settings: list[dict]) -> dict:
    categories = {
        str(log.get("category"))
        for setting in settings
        for log in props(setting).get("logs") or []
        if log.get("enabled") and log.get("category")
    }
    return {"setting_count": len(settings), "categories": sorted(categories)}
