"""Azure Monitor: Log Analytics workspaces, and diagnostic settings.

Diagnostic settings are recorded as resources of their own (``azure.monitor.diagnostic_setting``, one per
setting: they are ARM resources, ``{resource id}/providers/Microsoft.Insights/diagnosticSettings/{name}``),
related to what they export (``attached_to``: the monitored resource, or the subscription for the activity
log) and to where they send it (``logs_to``: a Log Analytics workspace or storage account). Rules judge
a resource's logging through that relationship ("a key vault with no setting exporting its audit logs"),
so a resource with no setting at all is judged too. They are read for the subscription's activity log and
for the types in ``MONITORED_TYPES``: one call per resource of those types.

Coverage is all or nothing: the settings of one resource being denied (403) fails the whole type for the
subscription, which is then "not evaluated" rather than wrongly judged "no logging". A resource deleted
between the list and its call (404), or of a kind that has no diagnostic settings (400), has none.
Workspace shared keys are never read (``sharedKeys`` is a POST).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from azure.core.exceptions import HttpResponseError

from inventory.collectors.aws._util import fan_out
from inventory.collectors.azure import _arm
from inventory.collectors.azure._util import iso, location, props, record, rid
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import Rel, ResourceRecord, collector

WORKSPACE_API_VERSION = "2022-10-01"
DIAGNOSTIC_API_VERSION = "2021-05-01-preview"
# The resource types whose diagnostic settings are read (those the rules judge).
MONITORED_TYPES = (
    "Microsoft.KeyVault/vaults",
    "Microsoft.Web/sites",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.Network/applicationGateways",
    "Microsoft.Network/azureFirewalls",
    "Microsoft.DocumentDB/databaseAccounts",
    "Microsoft.ContainerRegistry/registries",
)
_NO_SETTINGS = (400, 404)  # gone since the list, or a kind without diagnostic settings


@collector("azure", "monitor.log_analytics_workspace", service="Microsoft.OperationalInsights", regional=False)
def workspaces(ctx: AzureContext) -> Iterator[ResourceRecord]:
    path = f"/subscriptions/{ctx.subscription_id}/providers/Microsoft.OperationalInsights/workspaces"
    for workspace in _arm.items(ctx, path, WORKSPACE_API_VERSION):
        p = props(workspace)
        features = p.get("features") or {}
        capping = p.get("workspaceCapping") or {}
        quota = capping.get("dailyQuotaGb")
        config = {
            "customer_id": p.get("customerId"),
            "sku": (p.get("sku") or {}).get("name"),
            "retention_days": p.get("retentionInDays"),
            "daily_quota_gb": None if quota is None or quota < 0 else quota,  # -1: no cap
            "public_network_access_ingestion": p.get("publicNetworkAccessForIngestion") or "Enabled",
            "public_network_access_query": p.get("publicNetworkAccessForQuery") or "Enabled",
            "local_auth_disabled": bool(features.get("disableLocalAuth")),
            "dedicated_cluster_id": rid(features.get("clusterResourceId")) or None,
            "created": iso(p.get("createdDate")),
            "provisioning_state": p.get("provisioningState"),
        }
        yield record(workspace, config)


def setting_config(setting: dict, target_id: str, target_type: str) -> dict:
    p = props(setting)
    logs = [
        {
            "category": log.get("category"),
            "category_group": log.get("categoryGroup"),
            "enabled": bool(log.get("enabled")),
        }
        for log in p.get("logs") or []
    ]
    enabled = [log for log in logs if log["enabled"]]
    workspace = rid(p.get("workspaceId")) or None
    storage = rid(p.get("storageAccountId")) or None
    event_hub = rid(p.get("eventHubAuthorizationRuleId")) or None
    partner = rid(p.get("marketplacePartnerId")) or None
    return {
        "target_id": target_id,
        "target_type": target_type,
        "workspace_id": workspace,
        "storage_account_id": storage,
        "event_hub_rule_id": event_hub,  # the authorization rule's id, never its keys
        "event_hub_name": p.get("eventHubName"),
        "partner_id": partner,
        "has_destination": bool(workspace or storage or event_hub or partner),
        "logs": logs,
        "log_categories": sorted({str(log["category"]) for log in enabled if log["category"]}),
        "log_category_groups": sorted({str(log["category_group"]) for log in enabled if log["category_group"]}),
        "logs_enabled": bool(enabled),
        "metrics_enabled": any(bool(m.get("enabled")) for m in p.get("metrics") or []),
    }


def _setting_record(setting: dict, target_id: str, target_type: str, region: str) -> ResourceRecord:
    config = setting_config(setting, target_id, target_type)
    rels = [Rel("attached_to", target_id)]
    rels += [Rel("logs_to", dest) for dest in (config["workspace_id"], config["storage_account_id"]) if dest]
    return record(setting, config, rels, region=region)


def _resource_settings(ctx: AzureContext, resource: dict) -> list[ResourceRecord]:
    resource_id = str(resource.get("id") or "")
    try:
        found = list(
            _arm.items(ctx, f"{resource_id}/providers/Microsoft.Insights/diagnosticSettings", DIAGNOSTIC_API_VERSION)
        )
    except HttpResponseError as error:
        if getattr(error, "status_code", None) in _NO_SETTINGS:
            return []
        raise
    target_type = str(resource.get("type") or "")
    return [_setting_record(s, rid(resource_id), target_type, location(resource)) for s in found]


@collector("azure", "monitor.diagnostic_setting", service="Microsoft.Insights", regional=False)
def diagnostic_settings(ctx: AzureContext) -> Iterator[ResourceRecord]:
    subscription = f"/subscriptions/{ctx.subscription_id}"
    for setting in _arm.items(
        ctx, f"{subscription}/providers/Microsoft.Insights/diagnosticSettings", DIAGNOSTIC_API_VERSION
    ):
        yield _setting_record(setting, subscription, "subscription", "global")
    wanted = {t.lower() for t in MONITORED_TYPES}
    type_filter = " or ".join(f"resourceType eq '{t}'" for t in MONITORED_TYPES)
    monitored = [
        item
        for item in ctx.items("resource", "resources.list", filter=type_filter)
        if str(item.get("type") or "").lower() in wanted
    ]
    for batch in fan_out(ctx, partial(_resource_settings, ctx), monitored):
        yield from batch
