"""Azure Monitor collectors: Log Analytics workspaces and diagnostic settings (the activity log's and the
monitored resources'), against the fake Resource Manager."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from inventory.collectors.azure.context import namespace_of
from tests.fakes.azure_arm import arm_error
from tests.inventory.test_azure_collectors import (
    CLIENT,
    SECRET,
    SUB,
    TENANT,
    RecordingLimiter,
    by_name,
    collect,
    make_context,
    rels,
)

RG = "rg-Ops"
LOC = "westeurope"
GROUP = f"/subscriptions/{SUB}/resourcegroups/rg-ops"
BASE = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers"
WORKSPACE = f"{BASE}/Microsoft.OperationalInsights/workspaces/law-ops"
STORAGE = f"{BASE}/Microsoft.Storage/storageAccounts/stlogs"
VAULT = f"{BASE}/Microsoft.KeyVault/vaults/kv-ops"
VAULT_QUIET = f"{BASE}/Microsoft.KeyVault/vaults/kv-quiet"
SITE = f"{BASE}/Microsoft.Web/sites/app-ops"


def low(value: str) -> str:
    return value.lower()


@pytest.fixture
def fake(fake_azure):
    fake_azure.add_tenant(TENANT)
    fake_azure.add_app(TENANT, CLIENT, SECRET)
    fake_azure.add_subscription(TENANT, SUB, "Contoso Production")
    fake_azure.add_resource_group(SUB, RG, LOC)
    fake_azure.add_resource(
        SUB,
        RG,
        "Microsoft.OperationalInsights/workspaces",
        "law-ops",
        location=LOC,
        properties={
            "customerId": "0b7c9d3e-0000-4000-8000-0000000000aa",
            "sku": {"name": "PerGB2018"},
            "retentionInDays": 30,
            "workspaceCapping": {"dailyQuotaGb": -1},
            "publicNetworkAccessForIngestion": "Enabled",
            "publicNetworkAccessForQuery": "Disabled",
            "features": {"enableLogAccessUsingOnlyResourcePermissions": True, "disableLocalAuth": True},
            "createdDate": "2024-01-02T03:04:05.6789Z",
        },
    )
    fake_azure.add_resource(SUB, RG, "Microsoft.Storage/storageAccounts", "stlogs", location=LOC, kind="StorageV2")
    fake_azure.add_resource(SUB, RG, "Microsoft.KeyVault/vaults", "kv-ops", location=LOC)
    fake_azure.add_resource(SUB, RG, "Microsoft.KeyVault/vaults", "kv-quiet", location="northeurope")
    fake_azure.add_resource(SUB, RG, "Microsoft.Web/sites", "app-ops", location=LOC, kind="app")
    fake_azure.register_list(
        f"/subscriptions/{SUB}/providers/Microsoft.Insights/diagnosticSettings",
        [
            {
                "id": f"/subscriptions/{SUB}/providers/microsoft.insights/diagnosticSettings/activity-to-law",
                "name": "activity-to-law",
                "type": "Microsoft.Insights/diagnosticSettings",
                "properties": {
                    "workspaceId": WORKSPACE,
                    "logs": [
                        {"category": "Administrative", "enabled": True},
                        {"category": "Security", "enabled": True},
                        {"category": "Policy", "enabled": False},
                        {"category": "Alert", "enabled": True},
                    ],
                },
            }
        ],
    )
    fake_azure.register_list(
        f"{VAULT}/providers/Microsoft.Insights/diagnosticSettings",
        [
            {
                "id": f"{VAULT}/providers/microsoft.insights/diagnosticSettings/audit",
                "name": "audit",
                "properties": {
                    "storageAccountId": STORAGE,
                    "eventHubAuthorizationRuleId": f"{BASE}/Microsoft.EventHub/namespaces/eh/authorizationRules/send",
                    "eventHubName": "audit",
                    "logs": [
                        {"categoryGroup": "audit", "enabled": True, "retentionPolicy": {"enabled": False, "days": 0}}
                    ],
                    "metrics": [{"category": "AllMetrics", "enabled": True}],
                },
            }
        ],
    )
    fake_azure.register_list(
        f"{SITE}/providers/Microsoft.Insights/diagnosticSettings",
        [
            {
                "id": f"{SITE}/providers/microsoft.insights/diagnosticSettings/metrics-only",
                "name": "metrics-only",
                "properties": {
                    "workspaceId": WORKSPACE,
                    "logs": [{"category": "AppServiceHTTPLogs", "enabled": False}],
                    "metrics": [{"category": "AllMetrics", "enabled": True}],
                },
            }
        ],
    )
    return fake_azure


@pytest.fixture
def ctx(fake):
    context = make_context()
    yield context
    context.close()


def test_log_analytics_workspaces(ctx):
    [workspace] = collect(ctx, "azure.monitor.log_analytics_workspace").values()
    assert workspace.native_id == low(WORKSPACE) and workspace.name == "law-ops"
    assert workspace.config == {
        "resource_group": RG,
        "customer_id": "0b7c9d3e-0000-4000-8000-0000000000aa",
        "sku": "PerGB2018",
        "retention_days": 30,
        "daily_quota_gb": None,  # -1: no cap
        "public_network_access_ingestion": "Enabled",
        "public_network_access_query": "Disabled",
        "local_auth_disabled": True,
        "dedicated_cluster_id": None,
        "created": "2024-01-02T03:04:05.678900+00:00",
        "provisioning_state": "Succeeded",
    }


def test_diagnostic_settings_of_the_activity_log_and_monitored_resources(fake, ctx):
    settings = collect(ctx, "azure.monitor.diagnostic_setting")
    activity = settings[f"/subscriptions/{SUB}/providers/microsoft.insights/diagnosticsettings/activity-to-law"]
    assert activity.name == "activity-to-law" and activity.region == "global"
    assert activity.config == {
        "resource_group": "",
        "target_id": f"/subscriptions/{SUB}",
        "target_type": "subscription",
        "workspace_id": low(WORKSPACE),
        "storage_account_id": None,
        "event_hub_rule_id": None,
        "event_hub_name": None,
        "partner_id": None,
        "has_destination": True,
        "logs": [
            {"category": "Administrative", "category_group": None, "enabled": True},
            {"category": "Security", "category_group": None, "enabled": True},
            {"category": "Policy", "category_group": None, "enabled": False},
            {"category": "Alert", "category_group": None, "enabled": True},
        ],
        "log_categories": ["Administrative", "Alert", "Security"],
        "log_category_groups": [],
        "logs_enabled": True,
        "metrics_enabled": False,
    }
    assert rels(activity) == {("attached_to", f"/subscriptions/{SUB}"), ("logs_to", low(WORKSPACE))}

    audit = settings[low(f"{VAULT}/providers/microsoft.insights/diagnosticSettings/audit")]
    assert audit.region == LOC and audit.config["target_type"] == "Microsoft.KeyVault/vaults"
    assert audit.config["log_category_groups"] == ["audit"] and audit.config["logs_enabled"] is True
    assert audit.config["event_hub_name"] == "audit" and audit.config["metrics_enabled"] is True
    assert rels(audit) == {("attached_to", low(VAULT)), ("logs_to", low(STORAGE)), ("in_resource_group", GROUP)}

    site = settings[low(f"{SITE}/providers/microsoft.insights/diagnosticSettings/metrics-only")]
    assert site.config["logs_enabled"] is False and site.config["log_categories"] == []
    assert len(settings) == 3  # kv-quiet has none; the workspace and storage account are not monitored types
    asked = {c.path.lower() for c in fake.calls() if "diagnosticsettings" in c.path.lower()}
    assert low(f"{VAULT_QUIET}/providers/Microsoft.Insights/diagnosticSettings") in asked
    assert not any("storageaccounts" in path for path in asked)


def test_diagnostic_settings_calls_are_paced_as_microsoft_insights(fake):
    limiter = RecordingLimiter()
    context = make_context(limiter)
    try:
        collect(context, "azure.monitor.diagnostic_setting")
    finally:
        context.close()
    services = [service for service, _ in limiter.acquired]
    assert services.count("Microsoft.Insights") == 4  # the activity log and three monitored resources
    assert set(services) == {"Microsoft.Insights", "Microsoft.Resources"}  # and the resource list
    assert namespace_of(f"https://x{VAULT}/providers/Microsoft.Insights/diagnosticSettings?a=1") == "Microsoft.Insights"


def test_a_resource_gone_since_the_list_has_no_settings(fake, ctx):
    fake.fail(f"{VAULT}/providers/Microsoft.Insights/diagnosticSettings", 404, arm_error("ResourceNotFound", "gone"))
    settings = collect(ctx, "azure.monitor.diagnostic_setting")
    assert len(settings) == 2


def test_denied_settings_fail_the_type_rather_than_read_as_no_logging(fake, ctx):
    fake.deny_provider("Microsoft.Insights")
    with pytest.raises(HttpResponseError) as raised:
        collect(ctx, "azure.monitor.diagnostic_setting")
    assert raised.value.status_code == 403


def test_one_denied_resource_fails_the_type_too(fake, ctx):
    fake.fail(f"{SITE}/providers/Microsoft.Insights/diagnosticSettings", 403, arm_error("AuthorizationFailed", "no"))
    with pytest.raises(HttpResponseError):
        collect(ctx, "azure.monitor.diagnostic_setting")
    assert by_name(collect(ctx, "azure.monitor.log_analytics_workspace"))["law-ops"].config["retention_days"] == 30
