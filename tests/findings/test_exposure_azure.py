"""Severity by real exposure for Azure VMs, against the fake Resource Manager: the demo web tier (a VM whose
NIC holds a Standard public IP, behind one NSG on the NIC and its subnet allowing SSH from "*" and HTTPS
from "Internet") is exposed; with a link missing in turn it is latent and says which."""

from __future__ import annotations

import pytest

from demo import azure as demo_azure
from findings.exposure import EXPOSED, LATENT, NOT_APPLICABLE, exposure_of_resource
from findings.models import Finding
from inventory import ratelimit
from inventory.models import Resource
from tests.connections.conftest import _fake_azure_server, fake_azure  # noqa: F401
from tests.findings.exposure_estate import sync_and_evaluate
from tests.inventory.sync_helpers import PROD_NAME, PROD_SUB, make_azure_connection

RULE = "azure-compute-vm-public-ip"


@pytest.fixture
def estate(fake_azure, monkeypatch):  # noqa: F811
    """The demo tenant with one subscription; its resources' JSON by short name, to break a link."""
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})
    tenant = fake_azure.add_tenant(demo_azure.DEMO_TENANT_ID, domain="contoso.onmicrosoft.com")
    fake_azure.add_app(tenant.tenant_id, demo_azure.DEMO_CLIENT_ID, demo_azure.DEMO_CLIENT_SECRET)
    fake_azure.add_subscription(tenant.tenant_id, PROD_SUB, PROD_NAME)
    return demo_azure.add_demo_estate(fake_azure, PROD_SUB, "prod")


@pytest.fixture
def conn(org, estate):
    return make_azure_connection(org, subscriptions=[(PROD_SUB, PROD_NAME)])


def vm(org) -> Resource:
    return Resource.objects.for_org(org).get(resource_type="azure.compute.vm", name="vm-web-prod")


def test_exposed_vm_has_the_whole_path(org, conn):
    sync_and_evaluate(conn)
    exposure = exposure_of_resource(org, vm(org))
    assert exposure.state == EXPOSED
    assert exposure.ports == "tcp 22, tcp 443"
    assert [(s.resource_type, s.name) for s in exposure.path] == [
        ("internet", "Internet"),
        ("azure.network.public_ip", "pip-web-prod"),
        ("azure.network.nsg", "nsg-web-prod"),
        ("azure.network.network_interface", "nic-web-prod"),
        ("azure.compute.vm", "vm-web-prod"),
    ]
    assert exposure.path[1].link == "public IP 20.61.10.4"
    assert "rule allow-ssh: allows tcp 22 from *" in exposure.path[2].link
    found = Finding.objects.for_org(org).get(rule_id=RULE)
    assert found.severity == "high"
    assert found.detail["exposure"]["state"] == EXPOSED
    nsg = Finding.objects.for_org(org).get(rule_id="azure-network-nsg-ssh-open-internet")
    assert nsg.severity == "high" and nsg.detail["exposure"]["state"] == EXPOSED


def _no_rules(estate):
    estate["nsg"]["properties"]["securityRules"] = []


def _deny_first(estate):
    estate["nsg"]["properties"]["securityRules"].insert(
        0,
        {
            "name": "deny-internet",
            "properties": {
                "protocol": "*",
                "sourcePortRange": "*",
                "destinationPortRange": "*",
                "sourceAddressPrefix": "Internet",
                "destinationAddressPrefix": "*",
                "access": "Deny",
                "priority": 50,
                "direction": "Inbound",
            },
        },
    )


def _no_nsg(estate):
    estate["nic"]["properties"].pop("networkSecurityGroup")
    estate["subnet"]["properties"].pop("networkSecurityGroup")


def _stopped(estate):
    estate["vm"]["properties"]["instanceView"] = {
        "statuses": [{"code": "PowerState/deallocated", "displayStatus": "VM deallocated"}]
    }


@pytest.mark.parametrize(
    ("breaking", "expected"),
    [
        (_no_rules, "NSG nsg-web-prod (on web and nic-web-prod) allows no inbound traffic from the Internet"),
        (_deny_first, "NSG nsg-web-prod (on web and nic-web-prod) allows no inbound traffic from the Internet"),
        (_no_nsg, "no NSG allows inbound traffic to pip-web-prod (a Standard public IP is closed by default)"),
        (_stopped, "the VM is deallocated"),
    ],
    ids=["nsg without allow rules", "deny before allow", "no nsg, standard ip", "deallocated"],
)
def test_vm_with_a_link_missing_is_latent(org, conn, estate, breaking, expected):
    breaking(estate)
    sync_and_evaluate(conn)
    exposure = exposure_of_resource(org, vm(org))
    assert exposure.state == LATENT
    assert exposure.missing == expected
    found = Finding.objects.for_org(org).get(rule_id=RULE)
    assert found.severity == "low"
    assert found.detail["exposure"]["summary"] == f"latent: {expected}"


def test_basic_public_ip_without_nsg_is_open(org, conn, estate):
    _no_nsg(estate)
    estate["pip_nic"]["sku"] = {"name": "Basic", "tier": "Regional"}
    sync_and_evaluate(conn)
    exposure = exposure_of_resource(org, vm(org))
    assert exposure.state == EXPOSED
    assert exposure.ports == "all ports"


def test_vm_without_public_ip_is_not_applicable(org, conn, estate):
    estate["nic"]["properties"]["ipConfigurations"][0]["properties"].pop("publicIPAddress")
    sync_and_evaluate(conn)
    assert exposure_of_resource(org, vm(org)).state == NOT_APPLICABLE
    assert not Finding.objects.for_org(org).filter(rule_id=RULE).exists()
