"""The platform, monitoring and governance collectors as the engine sees them: every resource provider they
call is paced by a quota of its own (``AZURE_QUOTAS``), and a provider that denies its main listing makes
the type "denied" (never a crash, never an empty success)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from connections.providers import azure as provider
from demo import azure as demo
from inventory import sync
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import collectors_for
from inventory.collectors.registry import load_all
from inventory.ratelimit import AZURE_QUOTAS
from tests.inventory import sync_helpers as helpers
from tests.inventory.test_azure_collectors import RecordingLimiter, collect

azure = helpers.azure
PROD_SUB = demo.DEMO_SUBSCRIPTIONS["prod"][0]

# Each new type and the resource provider of its main listing.
MAIN_PROVIDER = {
    "azure.aks.cluster": "Microsoft.ContainerService",
    "azure.appservice.web_app": "Microsoft.Web",
    "azure.appservice.function_app": "Microsoft.Web",
    "azure.appservice.plan": "Microsoft.Web",
    "azure.cosmosdb.account": "Microsoft.DocumentDB",
    "azure.containerregistry.registry": "Microsoft.ContainerRegistry",
    "azure.network.application_gateway": "Microsoft.Network",
    "azure.network.firewall": "Microsoft.Network",
    "azure.monitor.log_analytics_workspace": "Microsoft.OperationalInsights",
    "azure.monitor.diagnostic_setting": "Microsoft.Insights",
    "azure.security.defender_plan": "Microsoft.Security",
    "azure.security.settings": "Microsoft.Security",
    "azure.authorization.role_assignment": "Microsoft.Authorization",
    "azure.authorization.role_definition": "Microsoft.Authorization",
}


def demo_context(limiter=None) -> AzureContext:
    cred = provider.credential(demo.DEMO_TENANT_ID, demo.DEMO_CLIENT_ID, demo.DEMO_CLIENT_SECRET, "public")
    kwargs = {"limiter": limiter} if limiter is not None else {}
    return AzureContext(credential=cred, account_id=PROD_SUB, **kwargs)


def test_every_provider_called_has_a_quota(azure):
    load_all()
    limiter = RecordingLimiter()
    ctx = demo_context(limiter)
    try:
        for entry in collectors_for("azure"):
            collect(ctx, entry.full_type)
    finally:
        ctx.close()
    called = {service for service, _ in limiter.acquired}
    assert set(MAIN_PROVIDER.values()) | {"Microsoft.Subscription", "Microsoft.ManagedServices"} <= called
    assert called <= set(AZURE_QUOTAS), f"no quota for {called - set(AZURE_QUOTAS)}"
    assert ctx.api_calls == len(limiter.acquired), "every call counted and paced"


@pytest.mark.parametrize(("full_type", "namespace"), sorted(MAIN_PROVIDER.items()))
def test_a_denied_provider_makes_the_type_denied(azure, full_type, namespace):
    azure.deny_provider(namespace, PROD_SUB)
    ctx = demo_context()
    try:
        with pytest.raises(HttpResponseError) as raised:
            collect(ctx, full_type)
    finally:
        ctx.close()
    assert sync.classify_azure_error(raised.value)[:2] == ("denied", "AuthorizationFailed")


def test_the_subscription_record_needs_the_subscription(azure):
    azure.deny_subscription(PROD_SUB)
    ctx = demo_context()
    try:
        with pytest.raises(HttpResponseError) as raised:
            collect(ctx, "azure.resource.subscription")
    finally:
        ctx.close()
    assert sync.classify_azure_error(raised.value)[0] == "denied"


def test_plain_reads_follow_next_link_on_the_resource_manager_host_only(azure):
    azure.page_size = 1
    ctx = demo_context()
    try:
        plans = collect(ctx, "azure.security.defender_plan")
        assert len(plans) == 3
        pages = azure.calls(f"/subscriptions/{PROD_SUB}/providers/Microsoft.Security/pricings")
        assert [c.query.get("$skiptoken") for c in pages] == [None, "1", "2"]
        assert {c.query["api-version"] for c in pages} == {"2024-01-01"}

        azure.fail(  # any status: here a 200 whose nextLink points elsewhere
            f"/subscriptions/{PROD_SUB}/providers/Microsoft.ContainerService/managedClusters",
            200,
            {"value": [], "nextLink": "https://attacker.example/steal?api-version=1"},
        )
        with pytest.raises(HttpResponseError, match="another host"):
            collect(ctx, "azure.aks.cluster")
    finally:
        ctx.close()
