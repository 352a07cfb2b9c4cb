"""Azure Container Registry (Microsoft.ContainerRegistry/registries), from one subscription-wide list: the
admin user, anonymous pull, network exposure, encryption and the registry policies. Nothing is read from
the registry itself: no credentials (``listCredentials`` is a POST, never made), repositories or images.

Relationships: registry → its resource group ``in_resource_group``.
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.collectors.azure import _arm
from inventory.collectors.azure._util import iso, props, record, sku_name
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import ResourceRecord, collector

API_VERSION = "2023-07-01"


def _enabled(policy: object, default: str = "disabled") -> bool:
    status = policy.get("status") if isinstance(policy, dict) else None
    return str(status or default).lower() == "enabled"


@collector("azure", "containerregistry.registry", service="Microsoft.ContainerRegistry", regional=False)
def registries(ctx: AzureContext) -> Iterator[ResourceRecord]:
    path = f"/subscriptions/{ctx.subscription_id}/providers/Microsoft.ContainerRegistry/registries"
    for registry in _arm.items(ctx, path, API_VERSION):
        p = props(registry)
        rules = p.get("networkRuleSet") if isinstance(p.get("networkRuleSet"), dict) else None
        policies = p.get("policies") or {}
        retention = policies.get("retentionPolicy") or {}
        identity = registry.get("identity") if isinstance(registry.get("identity"), dict) else {}
        config = {
            "sku": sku_name(registry),
            "login_server": p.get("loginServer"),
            "admin_user_enabled": bool(p.get("adminUserEnabled")),
            "anonymous_pull_enabled": bool(p.get("anonymousPullEnabled")),
            "public_network_access": p.get("publicNetworkAccess") or "Enabled",
            # Basic and Standard registries have no network rules: every network is allowed.
            "network_default_action": (rules or {}).get("defaultAction") or "Allow",
            "ip_rule_count": len((rules or {}).get("ipRules") or []),
            "network_rule_bypass": p.get("networkRuleBypassOptions"),
            "private_endpoint_count": len(p.get("privateEndpointConnections") or []),
            "data_endpoint_enabled": bool(p.get("dataEndpointEnabled")),
            "zone_redundancy": p.get("zoneRedundancy"),
            "customer_managed_key": _enabled(p.get("encryption")),
            "retention_policy_enabled": _enabled(retention),
            "retention_days": retention.get("days") if _enabled(retention) else None,
            "trust_policy_enabled": _enabled(policies.get("trustPolicy")),
            "quarantine_policy_enabled": _enabled(policies.get("quarantinePolicy")),
            "export_policy_enabled": _enabled(policies.get("exportPolicy"), default="enabled"),
            "entra_auth_as_arm": _enabled(policies.get("azureADAuthenticationAsArmPolicy"), default="enabled"),
            "identity_type": identity.get("type"),
            "creation_date": iso(p.get("creationDate")),
            "provisioning_state": p.get("provisioningState"),
        }
        yield record(registry, config)
