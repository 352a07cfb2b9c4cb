"""The Azure platform, monitoring and governance rules end to end on the demo tenant (demo/azure.py): synced
through the real collectors from the fake Resource Manager, evaluated by the sync hook. Findings land on
the right resources with their cost estimates, rules over diagnostic settings judge the resources
through the relationship, and a type that could not be read leaves its findings alone ("not evaluated")
instead of resolving or opening them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from demo import azure as demo
from findings import pricing
from findings.models import Finding, RuleStatus
from inventory import ratelimit
from tests.connections.conftest import _fake_azure_server, fake_azure  # noqa: F401
from tests.inventory import sync_helpers as helpers

azure = helpers.azure
PROD, DEV = (f"/subscriptions/{demo.DEMO_SUBSCRIPTIONS[env][0]}" for env in ("prod", "dev"))


@pytest.fixture(autouse=True)
def _full_speed(settings, monkeypatch):
    settings.SYNC_RATE_FRACTION = 1.0
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})


@pytest.fixture
def connection(org, azure):
    made = helpers.make_azure_connection(org)
    run = helpers.sync_now(made)
    assert run.status == "succeeded", run.warnings
    return made


def open_findings(connection) -> dict[str, set[str]]:
    """rule id → the names of the resources it is open on."""
    found: dict[str, set[str]] = {}
    for rule_id, name in (
        Finding.objects.for_org(connection.org)
        .filter(connection=connection, status="open")
        .values_list("rule_id", "resource_name")
    ):
        found.setdefault(rule_id, set()).add(name)
    return found


def verdict(connection, rule_id: str) -> str:
    return RuleStatus.objects.for_org(connection.org).get(connection=connection, rule_id=rule_id).verdict


def test_the_demo_tenant_findings(connection):
    found = open_findings(connection)
    assert found["azure-aks-api-server-open"] == {"aks-prod"}
    assert found["azure-appservice-ftp-allowed"] == {"app-shop-prod"}  # the function app has FTP disabled
    assert found["azure-appservice-python-outdated"] == {"app-shop-prod"}
    assert found["azure-cosmosdb-open-to-all-networks"] == {"cosmos-shop-prod"}
    assert found["azure-acr-admin-user-enabled"] == {"acrcontosoprod"}
    assert found["azure-firewall-threat-intel-off"] == {"fw-dev"}
    assert "azure-firewall-no-rules" not in found  # deallocated: not billed
    assert found["azure-defender-servers-off"] == {"VirtualMachines"}  # dev only: Free there, Standard in prod
    assert found["azure-defender-no-security-contact-email"] == {"Defender for Cloud settings"}
    assert found["azure-rbac-custom-subscription-admin-role"] == {"Contoso Operator"}
    assert len(found["azure-rbac-owner-at-subscription"]) == 1
    assert found["azure-subscription-transfer-not-blocked"] == {"Contoso Production", "Contoso Dev"}
    # Judged through diagnostic settings: the prod activity log and web app export, dev's activity log does not.
    assert found["azure-monitor-activity-log-not-exported"] == {"Contoso Dev"}
    assert "azure-appservice-http-logs-not-exported" not in found
    assert verdict(connection, "azure-appservice-http-logs-not-exported") == "pass"
    assert found["azure-aks-audit-logs-not-exported"] == {"aks-prod"}


def test_cost_findings_carry_their_estimates(connection):
    findings = Finding.objects.for_org(connection.org).filter(connection=connection, status="open")
    plan = findings.get(rule_id="azure-appservice-plan-empty")
    assert plan.resource_name == "plan-idle-dev"
    assert plan.monthly_usd == Decimal(str(round(pricing.monthly(0.10), 2)))  # S1 Windows, one instance
    gateway = findings.get(rule_id="azure-appgw-no-backend")
    assert gateway.resource_name == "agw-prod"
    assert gateway.monthly_usd == Decimal(str(round(pricing.monthly(0.246 + 10 * 0.008), 2)))  # fixed + 1 instance


def test_unreadable_diagnostic_settings_leave_logging_findings_alone(connection, azure):
    before = open_findings(connection)
    assert "aks-prod" in before["azure-aks-audit-logs-not-exported"]
    azure.deny_provider("Microsoft.Insights", PROD.rsplit("/", 1)[-1])
    azure.requests.clear()
    run = helpers.sync_now(connection)
    assert run.coverage["azure.monitor.diagnostic_setting"] == {PROD: "denied", DEV: "collected"}
    after = open_findings(connection)
    assert after["azure-aks-audit-logs-not-exported"] == {"aks-prod"}, "kept open, not resolved"
    # The prod web app, which does export its HTTP logs, is not judged "not exported" either.
    assert "azure-appservice-http-logs-not-exported" not in after
    status = RuleStatus.objects.for_org(connection.org).get(
        connection=connection, rule_id="azure-aks-audit-logs-not-exported"
    )
    assert status.not_evaluated_count >= 1


def test_estimators():
    linux = {"config": {"sku": "P1v3", "os": "linux", "workers": 2}}
    assert pricing.azure_app_service_plan(linux) == pytest.approx(pricing.monthly(0.155) * 2)
    assert pricing.azure_app_service_plan({"config": {"sku": "Y1", "os": "linux"}}) == 0.0
    assert pricing.azure_app_service_plan({"config": {"sku": "Z9"}}) is None
    v1 = {"config": {"sku": "WAF_Medium", "tier": "WAF", "capacity": None}}
    assert pricing.azure_application_gateway(v1) == pytest.approx(pricing.monthly(0.126 * 2))
    waf_v2 = {"config": {"sku": "WAF_v2", "tier": "WAF_v2", "capacity": None, "min_capacity": 0}}
    assert pricing.azure_application_gateway(waf_v2) == pytest.approx(pricing.monthly(0.443))
    assert pricing.azure_firewall({"config": {"sku_tier": "Premium"}}) == pytest.approx(pricing.monthly(1.75))
    assert pricing.azure_firewall({"config": {"sku_tier": None}}) is None
