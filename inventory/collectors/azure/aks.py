"""Azure Kubernetes Service clusters (Microsoft.ContainerService/managedClusters), from one subscription-wide
list: the control plane's access (RBAC, Entra integration, local accounts, private or authorized-IP API
server), networking, add-ons and the node pools, embedded in the cluster's record.

Relationships: cluster → the node pools' subnets ``in_subnet``, cluster → the Log Analytics workspace its
monitoring add-on or Defender sensor sends to ``logs_to``, and ``in_resource_group``. Nothing is read
inside the cluster: no kubeconfig, no credentials (those are POST ``list*Credential`` calls, never made).
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.collectors.azure import _arm
from inventory.collectors.azure._util import props, record, rid
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import Rel, ResourceRecord, collector

API_VERSION = "2024-05-01"


def _addon(addons: dict, *names: str) -> dict:
    # Add-on keys are case-inconsistent across api-versions ("omsagent" / "omsAgent").
    lowered = {str(k).lower(): v for k, v in (addons or {}).items()}
    for name in names:
        found = lowered.get(name.lower())
        if isinstance(found, dict):
            return found
    return {}


def _node_pool(pool: dict) -> dict:
    p = pool.get("properties") if isinstance(pool.get("properties"), dict) else pool  # embedded pools are flat
    return {
        "name": pool.get("name"),
        "mode": p.get("mode"),
        "count": p.get("count"),
        "vm_size": p.get("vmSize"),
        "os_type": p.get("osType"),
        "os_sku": p.get("osSKU"),
        "orchestrator_version": p.get("currentOrchestratorVersion") or p.get("orchestratorVersion"),
        "subnet_id": rid(p.get("vnetSubnetID")) or None,
        "autoscaling": bool(p.get("enableAutoScaling")),
        "min_count": p.get("minCount"),
        "max_count": p.get("maxCount"),
        "node_public_ip": bool(p.get("enableNodePublicIP")),
        "encryption_at_host": bool(p.get("enableEncryptionAtHost")),
        "fips": bool(p.get("enableFIPS")),
        "os_disk_type": p.get("osDiskType"),
        "power_state": (p.get("powerState") or {}).get("code"),
    }


@collector("azure", "aks.cluster", service="Microsoft.ContainerService", regional=False)
def clusters(ctx: AzureContext) -> Iterator[ResourceRecord]:
    path = f"/subscriptions/{ctx.subscription_id}/providers/Microsoft.ContainerService/managedClusters"
    for cluster in _arm.items(ctx, path, API_VERSION):
        yield _cluster_record(cluster)


def _cluster_record(cluster: dict) -> ResourceRecord:
    p = props(cluster)
    aad = p.get("aadProfile") if isinstance(p.get("aadProfile"), dict) else None
    api = p.get("apiServerAccessProfile") or {}
    network = p.get("networkProfile") or {}
    addons = p.get("addonProfiles") or {}
    monitoring = _addon(addons, "omsagent", "omsAgent")
    monitoring_on = bool(monitoring.get("enabled"))
    monitoring_workspace = rid((monitoring.get("config") or {}).get("logAnalyticsWorkspaceResourceID")) or None
    security = p.get("securityProfile") or {}
    defender = security.get("defender") or {}
    defender_workspace = rid(defender.get("logAnalyticsWorkspaceResourceId")) or None
    upgrade = p.get("autoUpgradeProfile") or {}
    sku = cluster.get("sku") if isinstance(cluster.get("sku"), dict) else {}
    identity = cluster.get("identity") if isinstance(cluster.get("identity"), dict) else {}
    pools = [_node_pool(pool) for pool in p.get("agentPoolProfiles") or []]
    private = bool(api.get("enablePrivateCluster"))
    config = {
        "kubernetes_version": p.get("currentKubernetesVersion") or p.get("kubernetesVersion"),
        "power_state": (p.get("powerState") or {}).get("code"),
        "provisioning_state": p.get("provisioningState"),
        "sku_tier": sku.get("tier"),
        "fqdn": p.get("fqdn") or p.get("privateFQDN"),
        "rbac_enabled": p.get("enableRBAC"),
        "entra_integration": aad is not None,
        "azure_rbac_enabled": bool((aad or {}).get("enableAzureRBAC")),
        "local_accounts_disabled": bool(p.get("disableLocalAccounts")),
        "private_cluster": private,
        "public_network_access": p.get("publicNetworkAccess"),
        "authorized_ip_ranges": sorted(api.get("authorizedIPRanges") or []),
        "run_command_disabled": bool(api.get("disableRunCommand")),
        "network_plugin": network.get("networkPlugin"),
        "network_plugin_mode": network.get("networkPluginMode"),
        "network_policy": network.get("networkPolicy"),
        "outbound_type": network.get("outboundType"),
        "azure_policy_addon": bool(_addon(addons, "azurepolicy").get("enabled")),
        "monitoring_addon": monitoring_on,
        "monitoring_workspace_id": monitoring_workspace if monitoring_on else None,
        "defender_enabled": bool((defender.get("securityMonitoring") or {}).get("enabled")),
        "workload_identity": bool((security.get("workloadIdentity") or {}).get("enabled")),
        "image_cleaner": bool((security.get("imageCleaner") or {}).get("enabled")),
        "oidc_issuer": bool((p.get("oidcIssuerProfile") or {}).get("enabled")),
        "auto_upgrade_channel": upgrade.get("upgradeChannel") or "none",
        "node_os_upgrade_channel": upgrade.get("nodeOSUpgradeChannel"),
        "disk_encryption_set_id": rid(p.get("diskEncryptionSetID")) or None,
        "node_resource_group": p.get("nodeResourceGroup"),
        "identity_type": identity.get("type"),
        "node_pools": pools,
        "node_count": sum(int(pool["count"] or 0) for pool in pools),
    }
    rels = [Rel("in_subnet", pool["subnet_id"] or "") for pool in pools]
    rels += [Rel("logs_to", workspace or "") for workspace in (config["monitoring_workspace_id"], defender_workspace)]
    return record(cluster, config, rels)
