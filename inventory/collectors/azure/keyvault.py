"""Azure Key Vaults (azure-mgmt-keyvault): the vault settings, from one subscription-wide list call
(``vaults.list_by_subscription``: ``vaults.list`` goes through the generic resource list and carries no
properties). Nothing is read from inside a vault: no keys, secrets or certificates.

Defaults are Azure's when a property is absent: soft delete is on (it cannot be turned off since 2020;
retention 90 days), purge protection and RBAC authorization are off, and a vault without network ACLs
accepts every network (``network_default_action`` "Allow")."""

from __future__ import annotations

from collections.abc import Iterator

from inventory.collectors.azure._util import props, record
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import ResourceRecord, collector


@collector("azure", "keyvault.vault", service="Microsoft.KeyVault", regional=False)
def vaults(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for vault in ctx.items("keyvault", "vaults.list_by_subscription"):
        p = props(vault)
        acls = p.get("networkAcls")
        soft_delete = p.get("enableSoftDelete")
        config = {
            "sku": str((p.get("sku") or {}).get("name") or "").lower() or None,
            "vault_uri": p.get("vaultUri"),
            "tenant_id": p.get("tenantId"),
            "soft_delete": True if soft_delete is None else bool(soft_delete),
            "soft_delete_retention_days": p.get("softDeleteRetentionInDays") or 90,
            "purge_protection": bool(p.get("enablePurgeProtection")),
            "public_network_access": p.get("publicNetworkAccess") or "Enabled",
            "network_default_action": (acls or {}).get("defaultAction") or "Allow",
            "network_bypass": (acls or {}).get("bypass"),
            "ip_rule_count": len((acls or {}).get("ipRules") or []),
            "vnet_rule_count": len((acls or {}).get("virtualNetworkRules") or []),
            "enable_rbac_authorization": bool(p.get("enableRbacAuthorization")),
            "access_policy_count": len(p.get("accessPolicies") or []),
            "enabled_for_deployment": bool(p.get("enabledForDeployment")),
            "enabled_for_disk_encryption": bool(p.get("enabledForDiskEncryption")),
            "enabled_for_template_deployment": bool(p.get("enabledForTemplateDeployment")),
            "private_endpoint_count": len(p.get("privateEndpointConnections") or []),
        }
        yield record(vault, config)
