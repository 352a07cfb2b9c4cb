"""Resource groups, and every other resource of the subscription from the generic resources list, so that
nothing in a subscription is invisible even when no collector describes its type in detail.

The generic list skips the ARM types that have a detailed collector (``DETAILED_ARM_TYPES``): a resource
has one identity (its id) and so one record, the detailed one. Were a detailed collector denied (403
on its provider), the engine reports that type as not collected; the generic list does not stand in.
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.collectors.azure._util import location, props, record, rid, sku_name, tags_of
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import ResourceRecord, collector

# ARM type (lowercase) → the Cloustral type that records it in detail.
DETAILED_ARM_TYPES: dict[str, str] = {
    "microsoft.network/virtualnetworks": "azure.network.vnet",
    "microsoft.network/networksecuritygroups": "azure.network.nsg",
    "microsoft.network/publicipaddresses": "azure.network.public_ip",
    "microsoft.network/networkinterfaces": "azure.network.network_interface",
    "microsoft.network/loadbalancers": "azure.network.load_balancer",
    "microsoft.compute/virtualmachines": "azure.compute.vm",
    "microsoft.compute/disks": "azure.compute.disk",
    "microsoft.compute/snapshots": "azure.compute.snapshot",
    "microsoft.storage/storageaccounts": "azure.storage.account",
    "microsoft.sql/servers": "azure.sql.server",
    "microsoft.sql/servers/databases": "azure.sql.database",
    "microsoft.keyvault/vaults": "azure.keyvault.vault",
    "microsoft.containerservice/managedclusters": "azure.aks.cluster",
    "microsoft.web/sites": "azure.appservice.web_app",  # and azure.appservice.function_app, by kind
    "microsoft.web/serverfarms": "azure.appservice.plan",
    "microsoft.documentdb/databaseaccounts": "azure.cosmosdb.account",
    "microsoft.containerregistry/registries": "azure.containerregistry.registry",
    "microsoft.network/applicationgateways": "azure.network.application_gateway",
    "microsoft.network/azurefirewalls": "azure.network.firewall",
    "microsoft.operationalinsights/workspaces": "azure.monitor.log_analytics_workspace",
}


@collector("azure", "resource.resource_group", service="Microsoft.Resources", regional=False)
def resource_groups(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for group in ctx.items("resource", "resource_groups.list"):
        yield ResourceRecord(
            native_id=rid(group.get("id")),
            name=str(group.get("name") or ""),
            config={
                "provisioning_state": props(group).get("provisioningState"),
                "managed_by": rid(group.get("managedBy")) or None,
            },
            tags=tags_of(group),
            region=location(group),
        )


@collector("azure", "resource.generic", service="Microsoft.Resources", regional=False)
def generic_resources(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for item in ctx.items("resource", "resources.list"):
        arm_type = str(item.get("type") or "")
        if arm_type.lower() in DETAILED_ARM_TYPES:
            continue
        sku = item.get("sku") if isinstance(item.get("sku"), dict) else {}
        identity = item.get("identity") if isinstance(item.get("identity"), dict) else {}
        yield record(
            item,
            {
                "type": arm_type,
                "provider_namespace": arm_type.split("/", 1)[0],
                "kind": item.get("kind"),
                "sku": sku_name(item),
                "sku_tier": sku.get("tier"),
                "managed_by": rid(item.get("managedBy")) or None,
                "identity_type": identity.get("type"),
                "zones": sorted(item.get("zones") or []),
            },
        )
