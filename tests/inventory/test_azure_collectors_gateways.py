"""Azure Application Gateway and Azure Firewall collectors (azure-mgmt-network, and plain GETs for the
policies) against the fake Resource Manager."""

from __future__ import annotations

import pytest

from inventory.collectors.azure.appgateway import min_tls_version
from tests.fakes.azure_arm import arm_error
from tests.inventory.test_azure_collectors import CLIENT, SECRET, SUB, TENANT, by_name, collect, make_context, rels

RG = "rg-Edge"
LOC = "westeurope"
GROUP = f"/subscriptions/{SUB}/resourcegroups/rg-edge"
NET = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network"


def low(value: str) -> str:
    return value.lower()


@pytest.fixture
def fake(fake_azure):
    fake_azure.add_tenant(TENANT)
    fake_azure.add_app(TENANT, CLIENT, SECRET)
    fake_azure.add_subscription(TENANT, SUB, "Contoso Production")
    fake_azure.add_resource_group(SUB, RG, LOC)
    return fake_azure


@pytest.fixture
def ctx(fake):
    context = make_context()
    yield context
    context.close()


def add_gateways(fake) -> dict[str, str]:
    agw = f"{NET}/applicationGateways/agw-web"
    policy = fake.add_resource(
        SUB,
        RG,
        "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
        "waf-web",
        location=LOC,
        properties={
            "policySettings": {"state": "Enabled", "mode": "Detection", "requestBodyCheck": True},
            "managedRules": {"managedRuleSets": [{"ruleSetType": "OWASP", "ruleSetVersion": "3.2"}]},
        },
    )
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.Network/applicationGateways",
        "agw-web",
        location=LOC,
        zones=["1", "2"],
        properties={
            "sku": {"name": "WAF_v2", "tier": "WAF_v2"},
            "autoscaleConfiguration": {"minCapacity": 1, "maxCapacity": 4},
            "operationalState": "Running",
            "gatewayIPConfigurations": [
                {
                    "name": "gw",
                    "id": f"{agw}/gatewayIPConfigurations/gw",
                    "properties": {"subnet": {"id": f"{NET}/virtualNetworks/vnet/subnets/agw"}},
                }
            ],
            "frontendIPConfigurations": [
                {
                    "name": "fe-public",
                    "id": f"{agw}/frontendIPConfigurations/fe-public",
                    "properties": {"publicIPAddress": {"id": f"{NET}/publicIPAddresses/pip-agw"}},
                },
                {
                    "name": "fe-private",
                    "id": f"{agw}/frontendIPConfigurations/fe-private",
                    "properties": {
                        "privateIPAddress": "10.0.2.10",
                        "subnet": {"id": f"{NET}/virtualNetworks/vnet/subnets/agw"},
                    },
                },
            ],
            "frontendPorts": [
                {"name": "p80", "id": f"{agw}/frontendPorts/p80", "properties": {"port": 80}},
                {"name": "p443", "id": f"{agw}/frontendPorts/p443", "properties": {"port": 443}},
            ],
            "httpListeners": [
                {
                    "name": "http",
                    "properties": {
                        "frontendIPConfiguration": {"id": f"{agw}/frontendIPConfigurations/fe-public"},
                        "frontendPort": {"id": f"{agw}/frontendPorts/p80"},
                        "protocol": "Http",
                    },
                },
                {
                    "name": "https-internal",
                    "properties": {
                        "frontendIPConfiguration": {"id": f"{agw}/frontendIPConfigurations/fe-private"},
                        "frontendPort": {"id": f"{agw}/frontendPorts/p443"},
                        "protocol": "Https",
                        "hostName": "intranet.contoso.com",
                        "sslCertificate": {"id": f"{agw}/sslCertificates/intranet"},
                    },
                },
            ],
            "backendAddressPools": [
                {
                    "name": "vms",
                    "properties": {
                        "backendIPConfigurations": [
                            {"id": f"{NET}/networkInterfaces/nic-web/ipConfigurations/ipconfig1"}
                        ]
                    },
                },
                {"name": "apps", "properties": {"backendAddresses": [{"fqdn": "app-shop.azurewebsites.net"}]}},
            ],
            "sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20150501"},
            "firewallPolicy": {"id": policy["id"]},
            "enableHttp2": True,
            "sslCertificates": [{"name": "intranet", "properties": {"keyVaultSecretId": "https://kv/secrets/x"}}],
        },
    )
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.Network/applicationGateways",
        "agw-idle",
        location=LOC,
        properties={
            "sku": {"name": "Standard_v2", "tier": "Standard_v2", "capacity": 2},
            "frontendIPConfigurations": [
                {
                    "name": "fe",
                    "id": f"{NET}/applicationGateways/agw-idle/frontendIPConfigurations/fe",
                    "properties": {"privateIPAddress": "10.0.3.4"},
                }
            ],
            "backendAddressPools": [{"name": "empty", "properties": {"backendAddresses": []}}],
            "sslPolicy": {"policyType": "Custom", "minProtocolVersion": "TLSv1_2"},
            "webApplicationFirewallConfiguration": None,
        },
    )
    return {"agw": agw, "policy": policy["id"]}


def test_application_gateways(fake, ctx):
    ids = add_gateways(fake)
    gateways = by_name(collect(ctx, "azure.network.application_gateway"))
    web = gateways["agw-web"]
    assert web.native_id == low(ids["agw"]) and web.region == LOC
    assert web.config == {
        "resource_group": RG,
        "sku": "WAF_v2",
        "tier": "WAF_v2",
        "capacity": None,
        "min_capacity": 1,
        "max_capacity": 4,
        "operational_state": "Running",
        "public": True,
        "frontends": [
            {"name": "fe-private", "public_ip_id": None, "private_ip": "10.0.2.10"},
            {"name": "fe-public", "public_ip_id": low(f"{NET}/publicIPAddresses/pip-agw"), "private_ip": None},
        ],
        "listeners": [
            {"name": "http", "protocol": "Http", "port": 80, "public": True, "host_name": None},
            {
                "name": "https-internal",
                "protocol": "Https",
                "port": 443,
                "public": False,
                "host_name": "intranet.contoso.com",
            },
        ],
        "backend_pools": [{"name": "vms", "target_count": 1}, {"name": "apps", "target_count": 1}],
        "backend_target_count": 2,
        "ssl_policy": {
            "policy_type": "Predefined",
            "policy_name": "AppGwSslPolicy20150501",
            "min_protocol_version": "TLSv1_0",
        },
        "waf": {
            "enabled": True,
            "mode": "Detection",
            "source": "policy",
            "policy_id": low(ids["policy"]),
            "rule_sets": ["OWASP 3.2"],
        },
        "http2_enabled": True,
        "subnet_ids": [low(f"{NET}/virtualNetworks/vnet/subnets/agw")],
        "zones": ["1", "2"],
        "provisioning_state": "Succeeded",
        "unreadable": [],
    }
    assert "keyVaultSecretId" not in repr(web) and "https://kv/secrets" not in repr(web)
    assert rels(web) == {
        ("uses_public_ip", low(f"{NET}/publicIPAddresses/pip-agw")),
        ("in_subnet", low(f"{NET}/virtualNetworks/vnet/subnets/agw")),
        ("forwards_to", low(f"{NET}/networkInterfaces/nic-web")),
        ("in_resource_group", GROUP),
    }
    idle = gateways["agw-idle"].config
    assert idle["public"] is False and idle["backend_target_count"] == 0 and idle["capacity"] == 2
    assert idle["waf"] == {"enabled": False, "mode": None, "source": None, "policy_id": None, "rule_sets": []}
    assert idle["ssl_policy"]["min_protocol_version"] == "TLSv1_2"


def test_an_unreadable_waf_policy_leaves_the_waf_unknown(fake, ctx):
    ids = add_gateways(fake)
    fake.fail(ids["policy"], 403, arm_error("AuthorizationFailed", "denied"))
    web = by_name(collect(ctx, "azure.network.application_gateway"))["agw-web"]
    assert web.config["unreadable"] == ["waf"]
    assert web.config["waf"]["enabled"] is None and web.config["waf"]["mode"] is None
    assert by_name(collect(ctx, "azure.network.application_gateway"))["agw-idle"].config["unreadable"] == []


def test_min_tls_version():
    assert min_tls_version({"policyName": "AppGwSslPolicy20170401S"}) == "TLSv1_2"
    assert min_tls_version({"policyName": "AppGwSslPolicy20170401"}) == "TLSv1_1"
    assert min_tls_version({"policyType": "CustomV2", "minProtocolVersion": "TLSv1_3"}) == "TLSv1_3"
    assert min_tls_version({}) is None and min_tls_version(None) is None


def add_firewalls(fake) -> dict[str, str]:
    policy = fake.add_resource(
        SUB,
        RG,
        "Microsoft.Network/firewallPolicies",
        "fwp-hub",
        location=LOC,
        properties={
            "sku": {"tier": "Premium"},
            "threatIntelMode": "Deny",
            "intrusionDetection": {"mode": "Off"},
            "ruleCollectionGroups": [{"id": f"{NET}/firewallPolicies/fwp-hub/ruleCollectionGroups/default"}],
        },
    )
    subnet = f"{NET}/virtualNetworks/vnet-hub/subnets/AzureFirewallSubnet"
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.Network/azureFirewalls",
        "fw-hub",
        location=LOC,
        zones=["1", "2", "3"],
        properties={
            "sku": {"name": "AZFW_VNet", "tier": "Premium"},
            "firewallPolicy": {"id": policy["id"]},
            "ipConfigurations": [
                {
                    "name": "ipconfig",
                    "properties": {
                        "privateIPAddress": "10.1.0.4",
                        "subnet": {"id": subnet},
                        "publicIPAddress": {"id": f"{NET}/publicIPAddresses/pip-fw"},
                    },
                }
            ],
            "additionalProperties": {"Network.DNS.EnableProxy": "true"},
        },
    )
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.Network/azureFirewalls",
        "fw-classic",
        location=LOC,
        properties={
            "sku": {"name": "AZFW_VNet", "tier": "Standard"},
            "threatIntelMode": "Off",
            "ipConfigurations": [{"name": "ipconfig", "properties": {"subnet": {"id": subnet}}}],
            "applicationRuleCollections": [],
            "networkRuleCollections": [],
            "natRuleCollections": [],
        },
    )
    return {"policy": policy["id"], "subnet": subnet}


def test_firewalls(fake, ctx):
    ids = add_firewalls(fake)
    firewalls = by_name(collect(ctx, "azure.network.firewall"))
    assert firewalls["fw-hub"].config == {
        "resource_group": RG,
        "sku_name": "AZFW_VNet",
        "sku_tier": "Premium",
        "deployed": True,
        "virtual_hub_id": None,
        "firewall_policy_id": low(ids["policy"]),
        "classic_rule_count": 0,
        "threat_intel_mode": "Deny",  # the policy's
        "idps_mode": "Off",
        "policy_rule_collection_group_count": 1,
        "has_rules": True,
        "dns_proxy": True,
        "public_ip_ids": [low(f"{NET}/publicIPAddresses/pip-fw")],
        "subnet_ids": [low(ids["subnet"])],
        "zones": ["1", "2", "3"],
        "provisioning_state": "Succeeded",
        "unreadable": [],
    }
    assert rels(firewalls["fw-hub"]) == {
        ("uses_public_ip", low(f"{NET}/publicIPAddresses/pip-fw")),
        ("in_subnet", low(ids["subnet"])),
        ("in_resource_group", GROUP),
    }
    classic = firewalls["fw-classic"].config
    assert classic["threat_intel_mode"] == "Off" and classic["has_rules"] is False and classic["idps_mode"] is None
    assert classic["firewall_policy_id"] is None and classic["public_ip_ids"] == []


def test_an_unreadable_firewall_policy_is_unknown_not_off(fake, ctx):
    ids = add_firewalls(fake)
    fake.fail(ids["policy"], 403, arm_error("AuthorizationFailed", "denied"))
    hub = by_name(collect(ctx, "azure.network.firewall"))["fw-hub"].config
    assert hub["unreadable"] == ["threat_intel_mode", "idps_mode", "policy_rule_collection_group_count", "has_rules"]
    assert hub["threat_intel_mode"] is None and hub["has_rules"] is None
