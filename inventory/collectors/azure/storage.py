"""Azure storage accounts (azure-mgmt-storage): the account settings the CIS benchmark reads, and the
blob service's soft-delete policy (one detail call per account with a blob service).

Settings Azure leaves unset keep their key with a null value (``minimum_tls_version``,
``allow_shared_key_access``): rules can tell "unset" (Azure's permissive default) from "unknown"."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from inventory.collectors.aws._util import fan_out
from inventory.collectors.azure._util import Details, iso, props, record, resource_group_of
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import ResourceRecord, collector

_NO_BLOB_SERVICE = ("FileStorage",)  # premium file shares only: no blob service to ask


@collector("azure", "storage.account", service="Microsoft.Storage", regional=False)
def storage_accounts(ctx: AzureContext) -> Iterator[ResourceRecord]:
    accounts = list(ctx.items("storage", "storage_accounts.list"))
    yield from fan_out(ctx, partial(_account_record, ctx), accounts)


def _account_record(ctx: AzureContext, account: dict) -> ResourceRecord:
    p = props(account)
    details = Details(ctx)
    encryption = p.get("encryption") or {}
    acls = p.get("networkAcls") or {}
    sku = account.get("sku") if isinstance(account.get("sku"), dict) else {}
    blob_soft_delete: dict = {}
    if account.get("kind") not in _NO_BLOB_SERVICE:
        group = resource_group_of(str(account.get("id") or ""))
        service = details.get(
            "blob_soft_delete", "storage", "blob_services.get_service_properties", group, account.get("name")
        )
        if service is not None:
            blob_soft_delete = props(service).get("deleteRetentionPolicy") or {"enabled": False}
    services = encryption.get("services") or {}
    config = {
        "kind": account.get("kind"),
        "sku": sku.get("name"),
        "sku_tier": sku.get("tier"),
        "access_tier": p.get("accessTier"),
        "https_only": p.get("supportsHttpsTrafficOnly"),
        "allow_blob_public_access": p.get("allowBlobPublicAccess"),
        "minimum_tls_version": p.get("minimumTlsVersion"),
        "allow_shared_key_access": p.get("allowSharedKeyAccess"),
        "infrastructure_encryption": bool(encryption.get("requireInfrastructureEncryption")),
        "encryption": {
            "key_source": encryption.get("keySource"),
            "key_vault_uri": (encryption.get("keyvaultproperties") or {}).get("keyvaulturi"),
            "services": sorted(name for name, svc in services.items() if (svc or {}).get("enabled")),
        },
        "public_network_access": p.get("publicNetworkAccess"),
        "network_default_action": acls.get("defaultAction"),
        "network_bypass": acls.get("bypass"),
        "ip_rule_count": len(acls.get("ipRules") or []),
        "vnet_rule_count": len(acls.get("virtualNetworkRules") or []),
        "private_endpoint_count": len(p.get("privateEndpointConnections") or []),
        "allow_cross_tenant_replication": p.get("allowCrossTenantReplication"),
        "hierarchical_namespace": bool(p.get("isHnsEnabled")),
        "sftp_enabled": bool(p.get("isSftpEnabled")),
        "blob_soft_delete_enabled": bool(blob_soft_delete.get("enabled")) if blob_soft_delete else None,
        "blob_soft_delete_days": blob_soft_delete.get("days") if blob_soft_delete.get("enabled") else None,
        "primary_location": p.get("primaryLocation"),
        "creation_time": iso(p.get("creationTime")),
        "provisioning_state": p.get("provisioningState"),
    }
    return record(account, details.finish(config))
