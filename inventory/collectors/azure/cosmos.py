"""Azure Cosmos DB accounts (Microsoft.DocumentDB/databaseAccounts), from one subscription-wide list: the
network exposure (public access, IP and virtual-network rules, private endpoints), authentication (keys
or Entra ID only), TLS, encryption key, backup and replication settings. Nothing is read from inside an
account: no keys (``listKeys`` is a POST, never made), databases or data.

Relationships: account → its resource group ``in_resource_group``. The subnets of its virtual-network
rules stay in config (``vnet_rule_subnet_ids``): they are allowed in, the account is not in them.
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.collectors.azure import _arm
from inventory.collectors.azure._util import ids, props, record
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import ResourceRecord, collector

API_VERSION = "2024-05-15"


@collector("azure", "cosmosdb.account", service="Microsoft.DocumentDB", regional=False)
def accounts(ctx: AzureContext) -> Iterator[ResourceRecord]:
    path = f"/subscriptions/{ctx.subscription_id}/providers/Microsoft.DocumentDB/databaseAccounts"
    for account in _arm.items(ctx, path, API_VERSION):
        yield _account_record(account)


def _account_record(account: dict) -> ResourceRecord:
    p = props(account)
    backup = p.get("backupPolicy") or {}
    periodic = backup.get("periodicModeProperties") or {}
    locations = p.get("locations") or []
    capabilities = {str(c.get("name") or "") for c in p.get("capabilities") or [] if isinstance(c, dict)}
    identity = account.get("identity") if isinstance(account.get("identity"), dict) else {}
    config = {
        "kind": account.get("kind"),
        "api": sorted(
            c.removeprefix("Enable")
            for c in capabilities
            if c in ("EnableMongo", "EnableCassandra", "EnableTable", "EnableGremlin")
        ),
        "public_network_access": p.get("publicNetworkAccess") or "Enabled",
        "vnet_filter_enabled": bool(p.get("isVirtualNetworkFilterEnabled")),
        "ip_rules": sorted(str(r.get("ipAddressOrRange")) for r in p.get("ipRules") or [] if r.get("ipAddressOrRange")),
        "vnet_rule_subnet_ids": ids(p.get("virtualNetworkRules")),
        "network_acl_bypass": p.get("networkAclBypass"),
        "private_endpoint_count": len(p.get("privateEndpointConnections") or []),
        "local_auth_disabled": bool(p.get("disableLocalAuth")),
        "key_based_metadata_write_disabled": bool(p.get("disableKeyBasedMetadataWriteAccess")),
        "minimal_tls_version": p.get("minimalTlsVersion"),
        "customer_managed_key": bool(p.get("keyVaultKeyUri")),
        "automatic_failover": bool(p.get("enableAutomaticFailover")),
        "multiple_write_locations": bool(p.get("enableMultipleWriteLocations")),
        "consistency_level": (p.get("consistencyPolicy") or {}).get("defaultConsistencyLevel"),
        "locations": [str(loc.get("locationName") or "") for loc in sorted(locations, key=_priority)],
        "zone_redundant": any(bool(loc.get("isZoneRedundant")) for loc in locations),
        "backup_type": backup.get("type"),
        "backup_interval_minutes": periodic.get("backupIntervalInMinutes"),
        "backup_retention_hours": periodic.get("backupRetentionIntervalInHours"),
        "backup_storage_redundancy": periodic.get("backupStorageRedundancy"),
        "serverless": "EnableServerless" in capabilities,
        "free_tier": bool(p.get("enableFreeTier")),
        "analytical_storage": bool(p.get("enableAnalyticalStorage")),
        "identity_type": identity.get("type"),
        "provisioning_state": p.get("provisioningState"),
    }
    return record(account, config)


def _priority(location: dict) -> int:
    value = location.get("failoverPriority")
    return int(value) if isinstance(value, int) else 0
