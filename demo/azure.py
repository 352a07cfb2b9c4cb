"""The fake Azure's demo tenant: one service principal, two subscriptions and a small web tier in each.
``python -m tests.fakes.azure_arm --seed-demo`` (scripts/demo) serves it, and tests use the same estate.
``fake`` is a ``tests.fakes.azure_arm.FakeAzure``; nothing in the product imports this module."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.azure_arm import FakeAzure


DEMO_TENANT_ID = "72f988bf-0000-4000-8000-00000000c0de"
DEMO_CLIENT_ID = "5a1c0000-0000-4000-8000-0000000000a1"
DEMO_CLIENT_SECRET = "demo-secret-not-for-production"  # noqa: S105 - the fake's demo app, printed on purpose
DEMO_SUBSCRIPTIONS = {
    "prod": ("00000000-0000-4000-8000-00000000a001", "Contoso Production"),
    "dev": ("00000000-0000-4000-8000-00000000a002", "Contoso Dev"),
}


def seed_demo(fake: FakeAzure) -> dict[str, str]:
    """A demo tenant with one service principal, two subscriptions and a small estate in each
    (``add_demo_estate``). Returns the principal and subscriptions as the CLI prints them."""
    tenant = fake.add_tenant(DEMO_TENANT_ID, domain="contoso.onmicrosoft.com", display_name="Contoso")
    app = fake.add_app(tenant.tenant_id, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    subscriptions = []
    for env, (subscription_id, name) in DEMO_SUBSCRIPTIONS.items():
        sub = fake.add_subscription(tenant.tenant_id, subscription_id, name)
        add_demo_estate(fake, sub.subscription_id, env)
        subscriptions.append(sub.subscription_id)
    return {
        "tenant_id": tenant.tenant_id,
        "client_id": app.client_id,
        "client_secret": app.secret,
        "subscriptions": ",".join(subscriptions),
    }


def add_demo_estate(fake: FakeAzure, subscription_id: str, env: str, location: str = "westeurope") -> dict[str, dict]:
    """One web tier in resource group ``rg-web-{env}``: a VM with its OS disk and NIC, in subnet ``web`` of
    ``vnet-{env}``, behind NSG ``nsg-web-{env}`` (SSH open to the Internet), a public IP on the NIC and one
    on a load balancer, a storage account with its blob service, and an unattached disk. Returns the
    resources' JSON by short name (vm, nic, subnet, vnet, nsg, pip_nic, pip_lb, lb, disk_os, disk_idle, storage)."""
    sid, rg = subscription_id, f"rg-web-{env}"
    base = f"/subscriptions/{sid}/resourceGroups/{rg}/providers"
    vm_id = f"{base}/Microsoft.Compute/virtualMachines/vm-web-{env}"
    nic_id = f"{base}/Microsoft.Network/networkInterfaces/nic-web-{env}"
    lb_id = f"{base}/Microsoft.Network/loadBalancers/lb-web-{env}"
    disk_os_id = f"{base}/Microsoft.Compute/disks/vm-web-{env}-os"
    found: dict[str, dict] = {}

    def add(short: str, resource_type: str, name: str, **kwargs: Any) -> dict:
        kwargs.setdefault("location", location)
        found[short] = fake.add_resource(sid, rg, resource_type, name, **kwargs)
        return found[short]

    fake.add_resource_group(sid, rg, location, {"env": env})
    nsg = add(
        "nsg",
        "Microsoft.Network/networkSecurityGroups",
        f"nsg-web-{env}",
        tags={"env": env},
        properties={
            "securityRules": [
                {
                    "name": "allow-ssh",
                    "properties": {
                        "protocol": "Tcp",
                        "sourcePortRange": "*",
                        "destinationPortRange": "22",
                        "sourceAddressPrefix": "*",
                        "destinationAddressPrefix": "*",
                        "access": "Allow",
                        "priority": 100,
                        "direction": "Inbound",
                    },
                },
                {
                    "name": "allow-https",
                    "properties": {
                        "protocol": "Tcp",
                        "sourcePortRange": "*",
                        "destinationPortRange": "443",
                        "sourceAddressPrefix": "Internet",
                        "destinationAddressPrefix": "*",
                        "access": "Allow",
                        "priority": 200,
                        "direction": "Inbound",
                    },
                },
            ],
            "networkInterfaces": [{"id": nic_id}],
        },
    )
    subnet = add(
        "subnet",
        "Microsoft.Network/virtualNetworks/subnets",
        f"vnet-{env}/web",
        location=None,
        properties={
            "addressPrefix": "10.0.1.0/24",
            "networkSecurityGroup": {"id": nsg["id"]},
            "ipConfigurations": [{"id": f"{nic_id}/ipConfigurations/ipconfig1"}],
        },
    )
    nsg["properties"]["subnets"] = [{"id": subnet["id"]}]
    add(
        "vnet",
        "Microsoft.Network/virtualNetworks",
        f"vnet-{env}",
        tags={"env": env},
        properties={"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [subnet]},
    )
    public_ip = {"publicIPAddressVersion": "IPv4", "publicIPAllocationMethod": "Static"}
    standard = {"name": "Standard", "tier": "Regional"}
    pip_nic = add(
        "pip_nic",
        "Microsoft.Network/publicIPAddresses",
        f"pip-web-{env}",
        sku=standard,
        properties={
            **public_ip,
            "ipAddress": "20.61.10.4" if env == "prod" else "20.61.20.4",
            "ipConfiguration": {"id": f"{nic_id}/ipConfigurations/ipconfig1"},
        },
    )
    pip_lb = add(
        "pip_lb",
        "Microsoft.Network/publicIPAddresses",
        f"pip-lb-{env}",
        sku=standard,
        properties={
            **public_ip,
            "ipAddress": "20.61.10.5" if env == "prod" else "20.61.20.5",
            "ipConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/fe-public"},
        },
    )
    add(
        "lb",
        "Microsoft.Network/loadBalancers",
        f"lb-web-{env}",
        sku=standard,
        properties={
            "frontendIPConfigurations": [
                {
                    "name": "fe-public",
                    "id": f"{lb_id}/frontendIPConfigurations/fe-public",
                    "properties": {"publicIPAddress": {"id": pip_lb["id"]}},
                }
            ],
            "backendAddressPools": [{"name": "web", "id": f"{lb_id}/backendAddressPools/web"}],
            "loadBalancingRules": [
                {"name": "https", "properties": {"protocol": "Tcp", "frontendPort": 443, "backendPort": 443}}
            ],
        },
    )
    add(
        "nic",
        "Microsoft.Network/networkInterfaces",
        f"nic-web-{env}",
        properties={
            "primary": True,
            "networkSecurityGroup": {"id": nsg["id"]},
            "virtualMachine": {"id": vm_id},
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "id": f"{nic_id}/ipConfigurations/ipconfig1",
                    "properties": {
                        "privateIPAddress": "10.0.1.4",
                        "primary": True,
                        "subnet": {"id": subnet["id"]},
                        "publicIPAddress": {"id": pip_nic["id"]},
                        "loadBalancerBackendAddressPools": [{"id": f"{lb_id}/backendAddressPools/web"}],
                    },
                }
            ],
        },
    )
    add(
        "disk_os",
        "Microsoft.Compute/disks",
        f"vm-web-{env}-os",
        managedBy=vm_id,
        sku={"name": "Premium_LRS", "tier": "Premium"},
        properties={
            "osType": "Linux",
            "creationData": {"createOption": "FromImage"},
            "diskSizeGB": 30,
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "diskState": "Attached",
        },
    )
    add(
        "disk_idle",
        "Microsoft.Compute/disks",
        f"disk-scratch-{env}",
        sku={"name": "Standard_LRS", "tier": "Standard"},
        properties={
            "creationData": {"createOption": "Empty"},
            "diskSizeGB": 128,
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "diskState": "Unattached",
        },
    )
    add(
        "vm",
        "Microsoft.Compute/virtualMachines",
        f"vm-web-{env}",
        tags={"env": env, "role": "web"},
        properties={
            "vmId": str(uuid.uuid5(uuid.NAMESPACE_URL, vm_id)),
            "hardwareProfile": {"vmSize": "Standard_B2s"},
            "storageProfile": {
                "imageReference": {
                    "publisher": "Canonical",
                    "offer": "0001-com-ubuntu-server-jammy",
                    "sku": "22_04-lts-gen2",
                    "version": "latest",
                },
                "osDisk": {
                    "osType": "Linux",
                    "name": f"vm-web-{env}-os",
                    "createOption": "FromImage",
                    "managedDisk": {"storageAccountType": "Premium_LRS", "id": disk_os_id},
                    "diskSizeGB": 30,
                },
                "dataDisks": [],
            },
            "osProfile": {
                "computerName": f"vm-web-{env}",
                "adminUsername": "azureuser",
                "linuxConfiguration": {"disablePasswordAuthentication": env == "prod"},
            },
            "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]},
        },
    )
    power = "running" if env == "prod" else "deallocated"
    fake.register(
        f"/subscriptions/{sid}/providers/Microsoft.Compute/virtualMachines",
        {"value": [{"id": vm_id, "properties": {"instanceView": {"statuses": [{"code": f"PowerState/{power}"}]}}}]},
        query={"statusOnly": "true"},
    )
    add(
        "storage",
        "Microsoft.Storage/storageAccounts",
        f"stcontoso{env}",
        kind="StorageV2",
        sku={"name": "Standard_LRS", "tier": "Standard"},
        properties={
            "supportsHttpsTrafficOnly": env == "prod",
            "allowBlobPublicAccess": env != "prod",
            "minimumTlsVersion": "TLS1_2" if env == "prod" else "TLS1_0",
            "primaryLocation": location,
        },
    )
    fake.add_resource(
        sid,
        rg,
        "Microsoft.Storage/storageAccounts/blobServices",
        f"stcontoso{env}/default",
        location=None,
        properties={"deleteRetentionPolicy": {"enabled": env == "prod", "days": 7}},
    )
    return found
