"""Azure collectors through the real SDK clients (and the real ClientSecretCredential) against the fake
Entra ID + Resource Manager of tests/fakes/azure_arm.py, with realistic ARM JSON for every type."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pytest
from azure.core.exceptions import HttpResponseError

from connections.providers import azure
from inventory.collectors.azure.context import AzureContext, namespace_of
from inventory.collectors.azure.network import normalize_nsg_rules
from inventory.collectors.azure.resources import DETAILED_ARM_TYPES
from inventory.collectors.base import Rel, ResourceRecord, collectors_for, get_collector
from inventory.collectors.registry import load_all
from tests.fakes.azure_arm import FakeAzure, arm_error

SECRET = "Xy7~Qp2.nM_4sRt8-AZURE-SECRET-9kLw3"
TENANT = "6f1c2a3b-1111-4a5b-9c8d-0123456789ab"
CLIENT = "0d9e8f7a-2222-4b6c-8d9e-abcdefabcdef"
SUB = "22222222-aaaa-4bbb-8ccc-000000000001"
RG = "rg-Prod"  # mixed case on purpose: ids are compared lowercased
RG_DATA = "rg-data"
LOC = "westeurope"
NO_IP = "0.0.0.0"  # noqa: S104 - an address in an Azure SQL firewall rule, not a bind

AZURE_TYPES = [
    "azure.aks.cluster",
    "azure.appservice.function_app",
    "azure.appservice.plan",
    "azure.appservice.web_app",
    "azure.authorization.role_assignment",
    "azure.authorization.role_definition",
    "azure.compute.disk",
    "azure.compute.snapshot",
    "azure.compute.vm",
    "azure.containerregistry.registry",
    "azure.cosmosdb.account",
    "azure.keyvault.vault",
    "azure.monitor.diagnostic_setting",
    "azure.monitor.log_analytics_workspace",
    "azure.network.application_gateway",
    "azure.network.firewall",
    "azure.network.load_balancer",
    "azure.network.network_interface",
    "azure.network.nsg",
    "azure.network.public_ip",
    "azure.network.subnet",
    "azure.network.vnet",
    "azure.resource.generic",
    "azure.resource.resource_group",
    "azure.resource.subscription",
    "azure.security.defender_plan",
    "azure.security.settings",
    "azure.sql.database",
    "azure.sql.server",
    "azure.storage.account",
]


def low(resource: dict | str) -> str:
    return (resource["id"] if isinstance(resource, dict) else resource).lower()


@dataclass
class Estate:
    fake: FakeAzure
    ids: dict[str, str] = field(default_factory=dict)  # short name → ARM id as Azure spells it

    def id(self, name: str) -> str:
        return self.ids[name].lower()


class RecordingLimiter:
    def __init__(self) -> None:
        self.acquired: list[tuple[str, str]] = []

    def acquire(self, service: str, region: str) -> None:
        self.acquired.append((service, region))


def make_context(limiter=None) -> AzureContext:
    cred = azure.credential(TENANT, CLIENT, SECRET, "public")
    kwargs = {"limiter": limiter} if limiter is not None else {}
    return AzureContext(credential=cred, account_id=SUB, cloud="public", **kwargs)


def collect(ctx: AzureContext, full_type: str) -> dict[str, ResourceRecord]:
    load_all()
    found: dict[str, ResourceRecord] = {}
    for rec in get_collector(full_type).func(ctx):
        assert rec.native_id == rec.native_id.lower()
        assert rec.native_id not in found, f"duplicate {rec.native_id}"
        found[rec.native_id] = rec
    return found


def by_name(records: dict[str, ResourceRecord]) -> dict[str, ResourceRecord]:
    return {rec.name: rec for rec in records.values()}


def rels(rec: ResourceRecord, kind: str | None = None) -> set[tuple[str, str]] | set[str]:
    if kind is not None:
        return {r.target_native_id for r in rec.relations if r.kind == kind}
    return {(r.kind, r.target_native_id) for r in rec.relations}


# --- The estate ----------------------------------------------------------------------------------


def _sub_path(rest: str) -> str:
    return f"/subscriptions/{SUB}/{rest}"


def build_estate(fake: FakeAzure) -> Estate:
    est = Estate(fake)
    ids = est.ids
    fake.add_tenant(TENANT, domain="contoso.onmicrosoft.com", display_name="Contoso")
    fake.add_app(TENANT, CLIENT, SECRET)
    fake.add_subscription(TENANT, SUB, "Contoso Production")
    fake.add_resource_group(SUB, RG, LOC, {"env": "prod", "owner": "platform"})
    fake.add_resource_group(SUB, RG_DATA, "northeurope")
    rg_id = f"/subscriptions/{SUB}/resourceGroups/{RG}"

    def add(rtype: str, name: str, short: str, *, group: str = RG, **kwargs) -> dict:
        body = fake.add_resource(SUB, group, rtype, name, **kwargs)
        ids[short] = body["id"]
        return body

    def ref(short: str, *, upper: bool = False) -> dict:
        # Azure is not consistent about the case of ids it returns in references.
        value = ids[short]
        return {"id": value.replace("resourceGroups/rg-Prod", "resourceGroups/RG-PROD") if upper else value}

    net = f"{rg_id}/providers/Microsoft.Network"
    comp = f"{rg_id}/providers/Microsoft.Compute"
    ids["vm"] = f"{comp}/virtualMachines/vm-web"
    ids["vm_old"] = f"{comp}/virtualMachines/vm-legacy"
    ids["nic"] = f"{net}/networkInterfaces/nic-web"
    ids["nic_ipconfig"] = f"{ids['nic']}/ipConfigurations/ipconfig1"
    ids["lb"] = f"{net}/loadBalancers/lb-web"
    ids["lb_frontend"] = f"{ids['lb']}/frontendIPConfigurations/fe-public"
    ids["asg"] = f"{net}/applicationSecurityGroups/asg-admins"

    # Network security group, with custom rules of each shape and one default rule.
    nsg = add(
        "Microsoft.Network/networkSecurityGroups",
        "nsg-web",
        "nsg",
        location=LOC,
        tags={"env": "prod"},
        etag='W/"1c8e5f0b"',
        properties={
            "resourceGuid": "3f1c9d2e-0000-4000-8000-000000000001",
            "securityRules": [
                {
                    "name": "allow-web",
                    "id": f"{net}/networkSecurityGroups/nsg-web/securityRules/allow-web",
                    "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "protocol": "Tcp",
                        "sourcePortRange": "*",
                        "destinationPortRanges": ["80", "443"],
                        "sourceAddressPrefix": "Internet",
                        "destinationAddressPrefix": "*",
                        "access": "Allow",
                        "priority": 200,
                        "direction": "Inbound",
                        "sourcePortRanges": [],
                        "destinationAddressPrefixes": [],
                        "sourceAddressPrefixes": [],
                    },
                },
                {
                    "name": "allow-ssh",
                    "properties": {
                        "description": "temporary",
                        "protocol": "Tcp",
                        "sourcePortRange": "*",
                        "destinationPortRange": "22",
                        "sourceAddressPrefix": "*",
                        "destinationAddressPrefix": "10.0.1.0/24",
                        "access": "Allow",
                        "priority": 100,
                        "direction": "Inbound",
                    },
                },
                {
                    "name": "allow-office",
                    "properties": {
                        "protocol": "*",
                        "sourcePortRange": "*",
                        "destinationPortRange": "8000-8100",
                        "sourceAddressPrefixes": ["203.0.113.0/24", "2001:db8::/32"],
                        "destinationAddressPrefixes": ["10.0.1.4", "10.0.1.5"],
                        "access": "Allow",
                        "priority": 300,
                        "direction": "Inbound",
                    },
                },
                {
                    "name": "allow-admins",
                    "properties": {
                        "protocol": "Tcp",
                        "sourcePortRange": "*",
                        "destinationPortRange": "3389",
                        "sourceApplicationSecurityGroups": [{"id": ids["asg"]}],
                        "destinationAddressPrefix": "VirtualNetwork",
                        "access": "Allow",
                        "priority": 310,
                        "direction": "Inbound",
                    },
                },
                {
                    "name": "deny-internet-out",
                    "properties": {
                        "protocol": "*",
                        "sourcePortRange": "*",
                        "destinationPortRange": "*",
                        "sourceAddressPrefix": "*",
                        "destinationAddressPrefix": "Internet",
                        "access": "Deny",
                        "priority": 4000,
                        "direction": "Outbound",
                    },
                },
            ],
            "defaultSecurityRules": [
                {
                    "name": "AllowVnetInBound",
                    "properties": {
                        "description": "Allow inbound traffic from all VMs in VNET",
                        "protocol": "*",
                        "sourcePortRange": "*",
                        "destinationPortRange": "*",
                        "sourceAddressPrefix": "VirtualNetwork",
                        "destinationAddressPrefix": "VirtualNetwork",
                        "access": "Allow",
                        "priority": 65000,
                        "direction": "Inbound",
                    },
                }
            ],
            "networkInterfaces": [{"id": ids["nic"]}],
        },
    )
    add("Microsoft.Network/networkSecurityGroups", "nsg-unused", "nsg_unused", location=LOC, properties={})

    # Virtual network with two subnets, embedded as Resource Manager returns them.
    vnet_id = f"{net}/virtualNetworks/vnet-prod"
    subnet_web = {
        "name": "web",
        "id": f"{vnet_id}/subnets/web",
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": {
            "provisioningState": "Succeeded",
            "addressPrefix": "10.0.1.0/24",
            "networkSecurityGroup": {"id": nsg["id"].upper()},
            "ipConfigurations": [{"id": ids["nic_ipconfig"].upper()}],
            "serviceEndpoints": [{"service": "Microsoft.Storage", "locations": [LOC]}],
            "delegations": [],
            "privateEndpointNetworkPolicies": "Disabled",
        },
    }
    subnet_data = {
        "name": "data",
        "id": f"{vnet_id}/subnets/data",
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": {
            "addressPrefixes": ["10.0.2.0/24", "10.0.3.0/24"],
            "delegations": [
                {"name": "sql", "properties": {"serviceName": "Microsoft.Sql/managedInstances"}},
            ],
            "defaultOutboundAccess": False,
        },
    }
    ids["subnet_web"], ids["subnet_data"] = subnet_web["id"], subnet_data["id"]
    nsg["properties"]["subnets"] = [{"id": subnet_web["id"]}]
    add(
        "Microsoft.Network/virtualNetworks",
        "vnet-prod",
        "vnet",
        location=LOC,
        tags={"env": "prod"},
        properties={
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "dhcpOptions": {"dnsServers": ["10.0.0.4"]},
            "subnets": [subnet_web, subnet_data],
            "virtualNetworkPeerings": [
                {
                    "name": "to-hub",
                    "properties": {
                        "peeringState": "Connected",
                        "remoteVirtualNetwork": {
                            "id": f"/subscriptions/{SUB}/resourceGroups/rg-hub/providers/"
                            "Microsoft.Network/virtualNetworks/vnet-hub"
                        },
                    },
                }
            ],
            "enableDdosProtection": False,
        },
    )
    # The same subnets as child resources (what subnets.list and a GET by id answer).
    add(
        "Microsoft.Network/virtualNetworks/subnets",
        "vnet-prod/web",
        "subnet_web_child",
        location=None,
        properties=subnet_web["properties"],
    )

    # Public IPs: one on the NIC, one on the load balancer, one idle.
    add(
        "Microsoft.Network/publicIPAddresses",
        "pip-web",
        "pip_web",
        location=LOC,
        sku={"name": "Standard", "tier": "Regional"},
        zones=["1", "2", "3"],
        properties={
            "publicIPAddressVersion": "IPv4",
            "publicIPAllocationMethod": "Static",
            "ipAddress": "20.61.10.4",
            "idleTimeoutInMinutes": 4,
            "dnsSettings": {"domainNameLabel": "web", "fqdn": "web.westeurope.cloudapp.azure.com"},
            "ipConfiguration": {"id": ids["nic_ipconfig"].replace("rg-Prod", "RG-PROD")},
        },
    )
    add(
        "Microsoft.Network/publicIPAddresses",
        "pip-lb",
        "pip_lb",
        location=LOC,
        sku={"name": "Standard", "tier": "Regional"},
        properties={
            "publicIPAddressVersion": "IPv4",
            "publicIPAllocationMethod": "Static",
            "ipAddress": "20.61.10.5",
            "ipConfiguration": {"id": ids["lb_frontend"]},
        },
    )
    add(
        "Microsoft.Network/publicIPAddresses",
        "pip-idle",
        "pip_idle",
        location=LOC,
        sku={"name": "Basic", "tier": "Regional"},
        properties={"publicIPAddressVersion": "IPv6", "publicIPAllocationMethod": "Dynamic"},
    )

    add(
        "Microsoft.Network/networkInterfaces",
        "nic-web",
        "nic",
        location=LOC,
        properties={
            "resourceGuid": "6a1b0000-0000-4000-8000-000000000002",
            "macAddress": "00-0D-3A-2B-4C-5D",
            "primary": True,
            "enableAcceleratedNetworking": True,
            "enableIPForwarding": False,
            "networkSecurityGroup": ref("nsg", upper=True),
            "virtualMachine": ref("vm", upper=True),
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "id": ids["nic_ipconfig"],
                    "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
                    "properties": {
                        "privateIPAddress": "10.0.1.4",
                        "privateIPAllocationMethod": "Dynamic",
                        "privateIPAddressVersion": "IPv4",
                        "primary": True,
                        "subnet": {"id": subnet_web["id"]},
                        "publicIPAddress": ref("pip_web"),
                        "loadBalancerBackendAddressPools": [{"id": f"{ids['lb']}/backendAddressPools/web"}],
                    },
                }
            ],
        },
    )
    add(
        "Microsoft.Network/loadBalancers",
        "lb-web",
        "lb",
        location=LOC,
        sku={"name": "Standard", "tier": "Regional"},
        properties={
            "frontendIPConfigurations": [
                {"name": "fe-public", "id": ids["lb_frontend"], "properties": {"publicIPAddress": ref("pip_lb")}}
            ],
            "backendAddressPools": [{"name": "web", "id": f"{ids['lb']}/backendAddressPools/web"}],
            "loadBalancingRules": [
                {"name": "https", "properties": {"protocol": "Tcp", "frontendPort": 443, "backendPort": 8443}}
            ],
            "probes": [{"name": "health", "properties": {"protocol": "Http", "port": 8443, "requestPath": "/"}}],
            "inboundNatRules": [],
        },
    )

    # Compute: a managed-disk Linux VM (stopped, still billed) and a legacy VM on unmanaged VHDs.
    add(
        "Microsoft.Compute/disks",
        "vm-web-os",
        "disk_os",
        location=LOC,
        managedBy=ids["vm"].replace("rg-Prod", "RG-PROD"),
        sku={"name": "Premium_LRS", "tier": "Premium"},
        zones=["1"],
        properties={
            "osType": "Linux",
            "creationData": {"createOption": "FromImage"},
            "diskSizeGB": 30,
            "diskIOPSReadWrite": 120,
            "diskMBpsReadWrite": 25,
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "networkAccessPolicy": "DenyAll",
            "publicNetworkAccess": "Disabled",
            "timeCreated": "2024-03-01T09:30:12.1234567+00:00",
            "diskState": "Reserved",
            "tier": "P4",
        },
    )
    des_id = f"{comp}/diskEncryptionSets/des-prod"
    add(
        "Microsoft.Compute/disks",
        "vm-web-data",
        "disk_data",
        location=LOC,
        managedBy=ids["vm"],
        sku={"name": "Premium_LRS", "tier": "Premium"},
        properties={
            "creationData": {"createOption": "Empty"},
            "diskSizeGB": 128,
            "encryption": {"type": "EncryptionAtRestWithCustomerKey", "diskEncryptionSetId": des_id},
            "networkAccessPolicy": "AllowPrivate",
            "diskState": "Reserved",
            "timeCreated": "2024-03-01T09:31:00Z",
        },
    )
    add(
        "Microsoft.Compute/disks",
        "orphan-disk",
        "disk_orphan",
        group=RG_DATA,
        location="northeurope",
        sku={"name": "StandardSSD_LRS", "tier": "Standard"},
        properties={
            "creationData": {"createOption": "Empty"},
            "diskSizeGB": 64,
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Enabled",
            "diskState": "Unattached",
            "timeCreated": "2023-11-05T12:00:00Z",
        },
    )
    add(
        "Microsoft.Compute/snapshots",
        "vm-web-os-snap",
        "snapshot",
        location=LOC,
        sku={"name": "Standard_LRS", "tier": "Standard"},
        properties={
            "osType": "Linux",
            "creationData": {"createOption": "Copy", "sourceResourceId": ids["disk_os"].upper()},
            "diskSizeGB": 30,
            "incremental": True,
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Enabled",
            "timeCreated": "2024-04-01T00:00:00Z",
        },
    )
    add(
        "Microsoft.Compute/virtualMachines",
        "vm-web",
        "vm",
        location=LOC,
        tags={"env": "prod", "role": "web"},
        zones=["1"],
        identity={"type": "SystemAssigned", "principalId": "aa000000-0000-4000-8000-000000000003"},
        properties={
            "vmId": "0f7c0b6e-0000-4000-8000-000000000004",
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {
                "imageReference": {
                    "publisher": "Canonical",
                    "offer": "0001-com-ubuntu-server-jammy",
                    "sku": "22_04-lts-gen2",
                    "version": "latest",
                    "exactVersion": "22.04.202403010",
                },
                "osDisk": {
                    "osType": "Linux",
                    "name": "vm-web-os",
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "managedDisk": {"storageAccountType": "Premium_LRS", "id": ids["disk_os"].upper()},
                    "deleteOption": "Delete",
                    "diskSizeGB": 30,
                },
                "dataDisks": [
                    {
                        "lun": 0,
                        "name": "vm-web-data",
                        "createOption": "Attach",
                        "caching": "None",
                        "managedDisk": {
                            "storageAccountType": "Premium_LRS",
                            "id": ids["disk_data"],
                            "diskEncryptionSet": {"id": des_id},
                        },
                    }
                ],
            },
            "osProfile": {
                "computerName": "vm-web",
                "adminUsername": "azureuser",
                "linuxConfiguration": {"disablePasswordAuthentication": True, "provisionVMAgent": True},
                "secrets": [],
            },
            "networkProfile": {"networkInterfaces": [{"id": ids["nic"], "properties": {"primary": True}}]},
            "securityProfile": {
                "securityType": "TrustedLaunch",
                "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
            },
            "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            "timeCreated": "2024-03-01T09:30:00.5+00:00",
        },
    )
    add(
        "Microsoft.Compute/virtualMachines",
        "vm-legacy",
        "vm_old",
        location=LOC,
        properties={
            "vmId": "0f7c0b6e-0000-4000-8000-000000000005",
            "hardwareProfile": {"vmSize": "Standard_A2"},
            "storageProfile": {
                "osDisk": {
                    "osType": "Windows",
                    "name": "legacy-os",
                    "createOption": "FromImage",
                    "vhd": {"uri": "https://stlegacy.blob.core.windows.net/vhds/legacy-os.vhd"},
                    "diskSizeGB": 127,
                },
                "dataDisks": [
                    {
                        "lun": 0,
                        "name": "legacy-data",
                        "createOption": "Empty",
                        "vhd": {"uri": "https://stlegacy.blob.core.windows.net/vhds/legacy-data.vhd"},
                        "diskSizeGB": 256,
                    }
                ],
            },
            "osProfile": {"computerName": "legacy", "adminUsername": "admin", "windowsConfiguration": {}},
            "securityProfile": {"encryptionAtHost": True},
            "networkProfile": {"networkInterfaces": []},
        },
    )
    # statusOnly=true answers only the instance views (what Resource Manager does).
    fake.register(
        _sub_path("providers/Microsoft.Compute/virtualMachines"),
        {
            "value": [
                {
                    "id": ids["vm"],
                    "name": "vm-web",
                    "properties": {
                        "instanceView": {
                            "statuses": [
                                {"code": "ProvisioningState/succeeded", "level": "Info"},
                                {"code": "PowerState/stopped", "level": "Info", "displayStatus": "VM stopped"},
                            ]
                        }
                    },
                },
                {
                    "id": ids["vm_old"].upper(),
                    "name": "vm-legacy",
                    "properties": {"instanceView": {"statuses": [{"code": "PowerState/deallocated"}]}},
                },
            ]
        },
        query={"statusOnly": "true"},
    )

    # Storage accounts: an open one and a locked-down one.
    add(
        "Microsoft.Storage/storageAccounts",
        "stprodweb",
        "st_open",
        location=LOC,
        kind="StorageV2",
        sku={"name": "Standard_LRS", "tier": "Standard"},
        properties={
            "supportsHttpsTrafficOnly": False,
            "allowBlobPublicAccess": True,
            "encryption": {
                "services": {"blob": {"enabled": True, "keyType": "Account"}, "file": {"enabled": True}},
                "keySource": "Microsoft.Storage",
            },
            "networkAcls": {
                "bypass": "AzureServices",
                "defaultAction": "Allow",
                "ipRules": [],
                "virtualNetworkRules": [],
            },
            "publicNetworkAccess": "Enabled",
            "accessTier": "Hot",
            "primaryLocation": LOC,
            "creationTime": "2022-06-01T10:00:00.0000000Z",
        },
    )
    add(
        "Microsoft.Storage/storageAccounts/blobServices",
        "stprodweb/default",
        "st_open_blob",
        location=None,
        properties={"deleteRetentionPolicy": {"enabled": False}, "isVersioningEnabled": False},
    )
    add(
        "Microsoft.Storage/storageAccounts",
        "stsecure",
        "st_secure",
        group=RG_DATA,
        location="northeurope",
        kind="StorageV2",
        sku={"name": "Standard_ZRS", "tier": "Standard"},
        properties={
            "supportsHttpsTrafficOnly": True,
            "allowBlobPublicAccess": False,
            "minimumTlsVersion": "TLS1_2",
            "allowSharedKeyAccess": False,
            "encryption": {
                "services": {"blob": {"enabled": True}},
                "keySource": "Microsoft.Keyvault",
                "keyvaultproperties": {"keyname": "st", "keyvaulturi": "https://kv-secure.vault.azure.net/"},
                "requireInfrastructureEncryption": True,
            },
            "networkAcls": {"bypass": "None", "defaultAction": "Deny", "ipRules": [{"value": "203.0.113.7"}]},
            "publicNetworkAccess": "Disabled",
            "isHnsEnabled": True,
        },
    )
    add(
        "Microsoft.Storage/storageAccounts/blobServices",
        "stsecure/default",
        "st_secure_blob",
        group=RG_DATA,
        location=None,
        properties={"deleteRetentionPolicy": {"enabled": True, "days": 14}},
    )

    # SQL: an open server (firewall open to Azure, TLS "None", no Entra admin, auditing off) and a strict one.
    sql = add(
        "Microsoft.Sql/servers",
        "sql-prod",
        "sql",
        location=LOC,
        kind="v12.0",
        properties={
            "administratorLogin": "sqladmin",
            "version": "12.0",
            "state": "Ready",
            "fullyQualifiedDomainName": "sql-prod.database.windows.net",
            "minimalTlsVersion": "None",
            "publicNetworkAccess": "Enabled",
            "restrictOutboundNetworkAccess": "Disabled",
        },
    )
    add(
        "Microsoft.Sql/servers/firewallRules",
        "sql-prod/AllowAllWindowsAzureIps",
        "fw_azure",
        location=None,
        properties={"startIpAddress": NO_IP, "endIpAddress": NO_IP},
    )
    add(
        "Microsoft.Sql/servers/firewallRules",
        "sql-prod/office",
        "fw_office",
        location=None,
        properties={"startIpAddress": "198.51.100.0", "endIpAddress": "198.51.100.255"},
    )
    add(
        "Microsoft.Sql/servers/auditingSettings",
        "sql-prod/default",
        "sql_audit",
        location=None,
        properties={"state": "Disabled", "retentionDays": 0},
    )
    add(
        "Microsoft.Sql/servers/databases",
        "sql-prod/master",
        "db_master",
        location=None,
        kind="v12.0,system",
        sku={"name": "System", "tier": "System", "capacity": 0},
        properties={"status": "Online"},
    )
    add(
        "Microsoft.Sql/servers/databases",
        "sql-prod/appdb",
        "db_app",
        location=LOC,
        kind="v12.0,user,vcore,serverless",
        sku={"name": "GP_S_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 2},
        properties={
            "status": "Online",
            "collation": "SQL_Latin1_General_CP1_CI_AS",
            "maxSizeBytes": 34359738368,
            "zoneRedundant": False,
            "creationDate": "2024-02-01T08:00:00.000Z",
            "currentBackupStorageRedundancy": "Geo",
        },
    )
    sql["tags"] = {"env": "prod"}
    add(
        "Microsoft.Sql/servers",
        "sql-strict",
        "sql_strict",
        group=RG_DATA,
        location="northeurope",
        properties={
            "version": "12.0",
            "state": "Ready",
            "minimalTlsVersion": "1.2",
            "publicNetworkAccess": "Disabled",
            "administrators": {
                "administratorType": "ActiveDirectory",
                "principalType": "Group",
                "login": "sql-admins",
                "sid": "bb000000-0000-4000-8000-000000000006",
                "tenantId": TENANT,
                "azureADOnlyAuthentication": True,
            },
            "privateEndpointConnections": [{"id": "pe1"}],
        },
    )
    add(
        "Microsoft.Sql/servers/auditingSettings",
        "sql-strict/default",
        "sql_strict_audit",
        group=RG_DATA,
        location=None,
        properties={"state": "Enabled", "retentionDays": 90},
    )

    # Key vaults.
    add(
        "Microsoft.KeyVault/vaults",
        "kv-prod",
        "kv",
        location=LOC,
        properties={
            "sku": {"family": "A", "name": "standard"},
            "tenantId": TENANT,
            "accessPolicies": [{"tenantId": TENANT, "objectId": "x", "permissions": {"secrets": ["get"]}}],
            "enabledForDeployment": False,
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 7,
            "vaultUri": "https://kv-prod.vault.azure.net/",
        },
    )
    add(
        "Microsoft.KeyVault/vaults",
        "kv-secure",
        "kv_secure",
        group=RG_DATA,
        location="northeurope",
        properties={
            "sku": {"family": "A", "name": "premium"},
            "tenantId": TENANT,
            "accessPolicies": [],
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90,
            "enablePurgeProtection": True,
            "enableRbacAuthorization": True,
            "publicNetworkAccess": "Disabled",
            "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny"},
            "vaultUri": "https://kv-secure.vault.azure.net/",
        },
    )

    # Types without a detailed collector: seen through the generic list.
    add(
        "Microsoft.Web/staticSites",
        "app-web",
        "site",
        location="West Europe",
        tags={"env": "prod"},
        identity={"type": "SystemAssigned"},
    )
    add(
        "Microsoft.ServiceBus/namespaces", "sbprod", "acr", location=LOC, sku={"name": "Basic", "tier": "Basic"}
    )
    return est


@pytest.fixture
def estate(fake_azure) -> Estate:
    return build_estate(fake_azure)


@pytest.fixture
def ctx(estate):
    context = make_context()
    yield context
    context.close()


# --- Registry --------------------------------------------------------------------------------------


def test_every_azure_type_is_registered():
    load_all()
    assert [c.full_type for c in collectors_for("azure")] == AZURE_TYPES
    assert all(not c.regional for c in collectors_for("azure"))


# --- Resource groups and the generic list ----------------------------------------------------------


def test_resource_groups(ctx, estate):
    groups = by_name(collect(ctx, "azure.resource.resource_group"))
    assert set(groups) == {RG, RG_DATA}
    prod = groups[RG]
    assert prod.native_id == f"/subscriptions/{SUB}/resourcegroups/rg-prod"
    assert prod.region == LOC
    assert prod.tags == {"env": "prod", "owner": "platform"}
    assert prod.config == {"provisioning_state": "Succeeded", "managed_by": None}
    assert groups[RG_DATA].region == "northeurope"


def test_generic_resources_cover_types_without_a_collector(ctx, estate):
    generic = by_name(collect(ctx, "azure.resource.generic"))
    # Detailed types are recorded by their own collectors, once.
    assert set(generic) == {"app-web", "sbprod"}
    site, acr = generic["app-web"], generic["sbprod"]
    assert site.native_id == estate.id("site")
    assert site.region == "westeurope"  # "West Europe" normalized
    assert site.tags == {"env": "prod"}
    assert site.config == {
        "resource_group": RG,
        "type": "Microsoft.Web/staticSites",
        "provider_namespace": "Microsoft.Web",
        "kind": None,
        "sku": None,
        "sku_tier": None,
        "managed_by": None,
        "identity_type": "SystemAssigned",
        "zones": [],
    }
    assert acr.config["sku"] == "Basic" and acr.config["type"] == "Microsoft.ServiceBus/namespaces"
    assert site.relations == [Rel("in_resource_group", f"/subscriptions/{SUB}/resourcegroups/rg-prod")]
    assert set(DETAILED_ARM_TYPES.values()) <= set(AZURE_TYPES)


# --- Network ---------------------------------------------------------------------------------------


def test_virtual_networks_and_subnets(ctx, estate):
    vnet = collect(ctx, "azure.network.vnet")[estate.id("vnet")]
    assert vnet.name == "vnet-prod" and vnet.region == LOC and vnet.tags == {"env": "prod"}
    assert vnet.config == {
        "resource_group": RG,
        "address_prefixes": ["10.0.0.0/16"],
        "dns_servers": ["10.0.0.4"],
        "subnet_count": 2,
        "peerings": [
            {
                "name": "to-hub",
                "remote_vnet_id": f"/subscriptions/{SUB}/resourcegroups/rg-hub/providers/microsoft.network/"
                "virtualnetworks/vnet-hub",
                "state": "Connected",
            }
        ],
        "ddos_protection": False,
        "provisioning_state": "Succeeded",
    }

    subnets = collect(ctx, "azure.network.subnet")
    assert set(subnets) == {estate.id("subnet_web"), estate.id("subnet_data")}
    web, data = subnets[estate.id("subnet_web")], subnets[estate.id("subnet_data")]
    assert web.name == "web" and web.region == LOC  # a subnet has no location: its vnet's
    assert web.config == {
        "resource_group": RG,
        "vnet_id": estate.id("vnet"),
        "address_prefix": "10.0.1.0/24",
        "address_prefixes": ["10.0.1.0/24"],
        "nsg_id": estate.id("nsg"),
        "route_table_id": None,
        "nat_gateway_id": None,
        "service_endpoints": ["Microsoft.Storage"],
        "delegations": [],
        "private_endpoint_network_policies": "Disabled",
        "default_outbound_access": None,
        "ip_configuration_count": 1,
        "provisioning_state": "Succeeded",
    }
    assert rels(web) == {
        ("in_vnet", estate.id("vnet")),
        ("uses_nsg", estate.id("nsg")),
        ("in_resource_group", f"/subscriptions/{SUB}/resourcegroups/rg-prod"),
    }
    assert data.config["address_prefix"] == "10.0.2.0/24"
    assert data.config["address_prefixes"] == ["10.0.2.0/24", "10.0.3.0/24"]
    assert data.config["nsg_id"] is None and data.config["delegations"] == ["Microsoft.Sql/managedInstances"]
    assert data.config["default_outbound_access"] is False
    assert rels(data, "uses_nsg") == set()


def test_nsg_rules_are_normalized_like_security_group_rules(ctx, estate):
    nsgs = collect(ctx, "azure.network.nsg")
    nsg = nsgs[estate.id("nsg")]
    common = {"description": ""}
    assert nsg.config["rules"] == [
        {
            **common,
            "name": "deny-internet-out",
            "direction": "egress",
            "access": "deny",
            "priority": 4000,
            "protocol": "all",
            "from_port": None,
            "to_port": None,
            "source": "*",
            "source_type": "any",
            "destination": "Internet",
        },
        {
            "name": "allow-ssh",
            "direction": "ingress",
            "access": "allow",
            "priority": 100,
            "protocol": "tcp",
            "from_port": 22,
            "to_port": 22,
            "source": "*",
            "source_type": "any",
            "destination": "10.0.1.0/24",
            "description": "temporary",
        },
        *[
            {
                **common,
                "name": "allow-web",
                "direction": "ingress",
                "access": "allow",
                "priority": 200,
                "protocol": "tcp",
                "from_port": port,
                "to_port": port,
                "source": "Internet",
                "source_type": "service_tag",
                "destination": "*",
            }
            for port in (80, 443)
        ],
        *[
            {
                **common,
                "name": "allow-office",
                "direction": "ingress",
                "access": "allow",
                "priority": 300,
                "protocol": "all",
                "from_port": 8000,
                "to_port": 8100,
                "source": source,
                "source_type": source_type,
                "destination": "10.0.1.4,10.0.1.5",
            }
            for source, source_type in (("203.0.113.0/24", "cidr_ipv4"), ("2001:db8::/32", "cidr_ipv6"))
        ],
        {
            **common,
            "name": "allow-admins",
            "direction": "ingress",
            "access": "allow",
            "priority": 310,
            "protocol": "tcp",
            "from_port": 3389,
            "to_port": 3389,
            "source": estate.id("asg"),
            "source_type": "application_security_group",
            "destination": "VirtualNetwork",
        },
    ]
    assert all(rule["name"] != "AllowVnetInBound" for rule in nsg.config["rules"])  # default rules excluded
    assert nsg.config["subnet_ids"] == [estate.id("subnet_web")]
    assert nsg.config["network_interface_ids"] == [estate.id("nic")]
    assert rels(nsg) == {("in_resource_group", f"/subscriptions/{SUB}/resourcegroups/rg-prod")}
    assert nsgs[estate.id("nsg_unused")].config["rules"] == []


def test_nsg_rules_edge_shapes():
    rules = normalize_nsg_rules(
        [
            {
                "name": "any",
                "properties": {
                    "protocol": "Any",
                    "direction": "Inbound",
                    "access": "Allow",
                    "priority": 1,
                    "sourceAddressPrefix": "0.0.0.0/0",
                    "destinationPortRange": "0-65535",
                },
            },
            {
                "name": "host",
                "properties": {
                    "protocol": "Icmp",
                    "direction": "Inbound",
                    "access": "Allow",
                    "priority": 2,
                    "sourceAddressPrefix": "198.51.100.7",
                    "destinationPortRange": "*",
                },
            },
        ]
    )
    assert [(r["protocol"], r["from_port"], r["to_port"], r["source_type"]) for r in rules] == [
        ("all", 0, 65535, "cidr_ipv4"),
        ("icmp", None, None, "cidr_ipv4"),
    ]


def test_public_ips(ctx, estate):
    pips = by_name(collect(ctx, "azure.network.public_ip"))
    web, lb, idle = pips["pip-web"], pips["pip-lb"], pips["pip-idle"]
    assert web.config == {
        "resource_group": RG,
        "ip_address": "20.61.10.4",
        "sku": "Standard",
        "sku_tier": "Regional",
        "allocation_method": "Static",
        "version": "IPv4",
        "associated": True,
        "ip_configuration_id": estate.id("nic_ipconfig"),
        "associated_resource_id": estate.id("nic"),
        "nat_gateway_id": None,
        "fqdn": "web.westeurope.cloudapp.azure.com",
        "idle_timeout_minutes": 4,
        "zones": ["1", "2", "3"],
        "ddos_protection_mode": None,
        "provisioning_state": "Succeeded",
    }
    assert rels(web, "associated_with") == {estate.id("nic")}
    assert rels(lb, "associated_with") == {estate.id("lb")}
    assert idle.config["associated"] is False and idle.config["ip_address"] is None
    assert idle.config["sku"] == "Basic" and idle.config["allocation_method"] == "Dynamic"
    assert idle.config["version"] == "IPv6"
    assert rels(idle) == {("in_resource_group", f"/subscriptions/{SUB}/resourcegroups/rg-prod")}


def test_network_interfaces(ctx, estate):
    nic = collect(ctx, "azure.network.network_interface")[estate.id("nic")]
    assert nic.config == {
        "resource_group": RG,
        "private_ip": "10.0.1.4",
        "private_ips": ["10.0.1.4"],
        "attached": True,
        "virtual_machine_id": estate.id("vm"),
        "nsg_id": estate.id("nsg"),
        "public_ip_ids": [estate.id("pip_web")],
        "subnet_ids": [estate.id("subnet_web")],
        "load_balancer_backend_pool_ids": [estate.id("lb") + "/backendaddresspools/web"],
        "mac_address": "00-0D-3A-2B-4C-5D",
        "primary": True,
        "accelerated_networking": True,
        "ip_forwarding": False,
        "provisioning_state": "Succeeded",
    }
    assert rels(nic) == {
        ("attached_to", estate.id("vm")),
        ("in_subnet", estate.id("subnet_web")),
        ("uses_nsg", estate.id("nsg")),
        ("uses_public_ip", estate.id("pip_web")),
        ("in_resource_group", f"/subscriptions/{SUB}/resourcegroups/rg-prod"),
    }


def test_load_balancers(ctx, estate):
    lb = collect(ctx, "azure.network.load_balancer")[estate.id("lb")]
    assert lb.config == {
        "resource_group": RG,
        "sku": "Standard",
        "sku_tier": "Regional",
        "public": True,
        "frontend_ips": [
            {"name": "fe-public", "private_ip": None, "public_ip_id": estate.id("pip_lb"), "subnet_id": None}
        ],
        "backend_pool_count": 1,
        "rules": [{"name": "https", "protocol": "tcp", "frontend_port": 443, "backend_port": 8443}],
        "probe_count": 1,
        "inbound_nat_rule_count": 0,
        "provisioning_state": "Succeeded",
    }
    assert rels(lb, "uses_public_ip") == {estate.id("pip_lb")}


# --- Compute ---------------------------------------------------------------------------------------


def test_virtual_machines(ctx, estate):
    vms = collect(ctx, "azure.compute.vm")
    vm, old = vms[estate.id("vm")], vms[estate.id("vm_old")]
    assert vm.name == "vm-web" and vm.region == LOC and vm.tags == {"env": "prod", "role": "web"}
    assert vm.config == {
        "resource_group": RG,
        "vm_id": "0f7c0b6e-0000-4000-8000-000000000004",
        "vm_size": "Standard_D2s_v5",
        "power_state": "stopped",  # from the statusOnly=true list
        "provisioning_state": "Succeeded",
        "os_type": "Linux",
        "computer_name": "vm-web",
        "admin_username": "azureuser",
        "password_authentication_disabled": True,
        "image": {
            "publisher": "Canonical",
            "offer": "0001-com-ubuntu-server-jammy",
            "sku": "22_04-lts-gen2",
            "version": "22.04.202403010",
            "id": None,
        },
        "managed_disks": True,
        "os_disk": {
            "name": "vm-web-os",
            "id": estate.id("disk_os"),
            "managed": True,
            "size_gb": 30,
            "storage_account_type": "Premium_LRS",
        },
        "os_disk_encryption": "platform_key",
        "encryption_at_host": False,
        "security_type": "TrustedLaunch",
        "secure_boot": True,
        "vtpm": True,
        "data_disks": [
            {
                "name": "vm-web-data",
                "lun": 0,
                "id": estate.id("disk_data"),
                "managed": True,
                "size_gb": 128,  # from the disk: the VM's reference has no size
                "encryption": "customer_key",
            }
        ],
        "nic_ids": [estate.id("nic")],
        "boot_diagnostics": True,
        "identity_type": "SystemAssigned",
        "availability_set_id": None,
        "zones": ["1"],
        "priority": None,
        "license_type": None,
        "time_created": "2024-03-01T09:30:00.500000+00:00",
        "unreadable": [],
    }
    assert old.config["power_state"] == "deallocated"
    assert old.config["os_type"] == "Windows"
    assert old.config["managed_disks"] is False
    assert old.config["os_disk_encryption"] == "none"
    assert old.config["encryption_at_host"] is True
    assert old.config["data_disks"] == [
        {"name": "legacy-data", "lun": 0, "id": None, "managed": False, "size_gb": 256, "encryption": "none"}
    ]
    # One list for config, one for run states, one for the disks: not one call per VM.
    vm_list = estate.fake.calls(_sub_path("providers/Microsoft.Compute/virtualMachines"))
    assert sorted(c.query.get("statusOnly", "") for c in vm_list) == ["", "true"]


def test_vm_power_state_unreadable_keeps_the_vm(ctx, estate):
    estate.fake.register(
        _sub_path("providers/Microsoft.Compute/virtualMachines"),
        arm_error("OperationNotAllowed", "Status is not available."),
        status=409,
        query={"statusOnly": "true"},
    )
    vm = collect(ctx, "azure.compute.vm")[estate.id("vm")]
    assert vm.config["power_state"] is None
    assert vm.config["unreadable"] == ["power_state"]
    assert vm.config["os_disk_encryption"] == "platform_key"


def test_disks_and_snapshots(ctx, estate):
    disks = collect(ctx, "azure.compute.disk")
    os_disk, data, orphan = (disks[estate.id(k)] for k in ("disk_os", "disk_data", "disk_orphan"))
    assert os_disk.config == {
        "resource_group": RG,
        "disk_state": "Reserved",
        "attached": True,
        "managed_by": estate.id("vm"),
        "size_gb": 30,
        "sku": "Premium_LRS",
        "tier": "P4",
        "os_type": "Linux",
        "encryption_type": "EncryptionAtRestWithPlatformKey",
        "disk_encryption_set_id": None,
        "ade_enabled": False,
        "network_access_policy": "DenyAll",
        "public_network_access": "Disabled",
        "create_option": "FromImage",
        "source_resource_id": None,
        "iops": 120,
        "mbps": 25,
        "zones": ["1"],
        "time_created": "2024-03-01T09:30:12.123456+00:00",
        "provisioning_state": "Succeeded",
    }
    assert rels(os_disk, "attached_to") == {estate.id("vm")}
    assert rels(data, "attached_to") == {estate.id("vm")}
    assert data.config["encryption_type"] == "EncryptionAtRestWithCustomerKey"
    assert data.config["disk_encryption_set_id"].endswith("/diskencryptionsets/des-prod")
    assert orphan.config["disk_state"] == "Unattached" and orphan.config["attached"] is False
    assert orphan.config["managed_by"] is None and orphan.config["sku"] == "StandardSSD_LRS"
    assert orphan.region == "northeurope" and orphan.config["resource_group"] == RG_DATA
    assert rels(orphan) == {("in_resource_group", f"/subscriptions/{SUB}/resourcegroups/rg-data")}

    snap = collect(ctx, "azure.compute.snapshot")[estate.id("snapshot")]
    assert snap.config == {
        "resource_group": RG,
        "size_gb": 30,
        "sku": "Standard_LRS",
        "incremental": True,
        "os_type": "Linux",
        "source_resource_id": estate.id("disk_os"),
        "create_option": "Copy",
        "encryption_type": "EncryptionAtRestWithPlatformKey",
        "disk_encryption_set_id": None,
        "network_access_policy": "AllowAll",
        "public_network_access": "Enabled",
        "disk_state": None,
        "time_created": "2024-04-01T00:00:00+00:00",
        "provisioning_state": "Succeeded",
    }
    assert rels(snap, "snapshot_of") == {estate.id("disk_os")}


# --- Storage, SQL, Key Vault -----------------------------------------------------------------------


def test_storage_accounts(ctx, estate):
    accounts = by_name(collect(ctx, "azure.storage.account"))
    assert accounts["stprodweb"].config == {
        "resource_group": RG,
        "kind": "StorageV2",
        "sku": "Standard_LRS",
        "sku_tier": "Standard",
        "access_tier": "Hot",
        "https_only": False,
        "allow_blob_public_access": True,
        "minimum_tls_version": None,  # unset: TLS 1.0 accepted
        "allow_shared_key_access": None,  # unset: allowed
        "infrastructure_encryption": False,
        "encryption": {"key_source": "Microsoft.Storage", "key_vault_uri": None, "services": ["blob", "file"]},
        "public_network_access": "Enabled",
        "network_default_action": "Allow",
        "network_bypass": "AzureServices",
        "ip_rule_count": 0,
        "vnet_rule_count": 0,
        "private_endpoint_count": 0,
        "allow_cross_tenant_replication": None,
        "hierarchical_namespace": False,
        "sftp_enabled": False,
        "blob_soft_delete_enabled": False,
        "blob_soft_delete_days": None,
        "primary_location": LOC,
        "creation_time": "2022-06-01T10:00:00+00:00",
        "provisioning_state": "Succeeded",
        "unreadable": [],
    }
    secure = accounts["stsecure"].config
    assert secure["https_only"] is True and secure["allow_blob_public_access"] is False
    assert secure["minimum_tls_version"] == "TLS1_2" and secure["allow_shared_key_access"] is False
    assert secure["infrastructure_encryption"] is True
    assert secure["encryption"]["key_source"] == "Microsoft.Keyvault"
    assert secure["encryption"]["key_vault_uri"] == "https://kv-secure.vault.azure.net/"
    assert secure["network_default_action"] == "Deny" and secure["public_network_access"] == "Disabled"
    assert secure["ip_rule_count"] == 1 and secure["hierarchical_namespace"] is True
    assert secure["blob_soft_delete_enabled"] is True and secure["blob_soft_delete_days"] == 14
    assert accounts["stsecure"].region == "northeurope"


def test_storage_blob_service_denied_marks_the_field_unreadable(ctx, estate):
    estate.fake.fail(
        estate.ids["st_open"] + "/blobServices/default",
        403,
        arm_error("AuthorizationFailed", "no Microsoft.Storage/storageAccounts/blobServices/read"),
    )
    accounts = by_name(collect(ctx, "azure.storage.account"))
    assert accounts["stprodweb"].config["blob_soft_delete_enabled"] is None
    assert accounts["stprodweb"].config["unreadable"] == ["blob_soft_delete"]
    assert accounts["stprodweb"].config["https_only"] is False  # the rest is still read
    assert accounts["stsecure"].config["unreadable"] == []


def test_sql_servers_and_databases(ctx, estate):
    servers = by_name(collect(ctx, "azure.sql.server"))
    assert servers["sql-prod"].tags == {"env": "prod"}
    assert servers["sql-prod"].config == {
        "resource_group": RG,
        "version": "12.0",
        "state": "Ready",
        "fqdn": "sql-prod.database.windows.net",
        "administrator_login": "sqladmin",
        "public_network_access": "Enabled",
        "minimal_tls_version": None,  # "None": no minimum
        "restrict_outbound_network_access": "Disabled",
        "firewall_rules": [
            {"name": "AllowAllWindowsAzureIps", "start_ip": NO_IP, "end_ip": NO_IP},
            {"name": "office", "start_ip": "198.51.100.0", "end_ip": "198.51.100.255"},
        ],
        "auditing_enabled": False,
        "aad_admin_configured": False,
        "aad_only_authentication": None,
        "private_endpoint_count": 0,
        "identity_type": None,
        "unreadable": [],
    }
    strict = servers["sql-strict"].config
    assert strict["minimal_tls_version"] == "1.2" and strict["public_network_access"] == "Disabled"
    assert strict["firewall_rules"] == [] and strict["auditing_enabled"] is True
    assert strict["aad_admin_configured"] is True and strict["aad_only_authentication"] is True
    assert strict["private_endpoint_count"] == 1
    # The inline administrator saves the administrators call.
    assert not estate.fake.calls(estate.ids["sql_strict"] + "/administrators")
    assert estate.fake.calls(estate.ids["sql"] + "/administrators")

    databases = collect(ctx, "azure.sql.database")
    assert set(databases) == {estate.id("db_app")}  # master (a system database) is left out
    app = databases[estate.id("db_app")]
    assert app.name == "appdb" and app.region == LOC
    assert app.config == {
        "resource_group": RG,
        "server_id": estate.id("sql"),
        "status": "Online",
        "sku": "GP_S_Gen5",
        "tier": "GeneralPurpose",
        "capacity": 2,
        "max_size_bytes": 34359738368,
        "zone_redundant": False,
        "collation": "SQL_Latin1_General_CP1_CI_AS",
        "elastic_pool_id": None,
        "backup_storage_redundancy": "Geo",
        "ledger_on": None,
        "creation_date": "2024-02-01T08:00:00+00:00",
    }
    assert rels(app) == {
        ("member_of", estate.id("sql")),
        ("in_resource_group", f"/subscriptions/{SUB}/resourcegroups/rg-prod"),
    }


def test_key_vaults(ctx, estate):
    vaults = by_name(collect(ctx, "azure.keyvault.vault"))
    assert vaults["kv-prod"].config == {
        "resource_group": RG,
        "sku": "standard",
        "vault_uri": "https://kv-prod.vault.azure.net/",
        "tenant_id": TENANT,
        "soft_delete": True,
        "soft_delete_retention_days": 7,
        "purge_protection": False,
        "public_network_access": "Enabled",
        "network_default_action": "Allow",  # no network ACLs: every network
        "network_bypass": None,
        "ip_rule_count": 0,
        "vnet_rule_count": 0,
        "enable_rbac_authorization": False,
        "access_policy_count": 1,
        "enabled_for_deployment": False,
        "enabled_for_disk_encryption": False,
        "enabled_for_template_deployment": False,
        "private_endpoint_count": 0,
    }
    secure = vaults["kv-secure"].config
    assert secure["sku"] == "premium" and secure["purge_protection"] is True
    assert secure["enable_rbac_authorization"] is True and secure["network_default_action"] == "Deny"
    assert secure["public_network_access"] == "Disabled" and secure["soft_delete_retention_days"] == 90


# --- Across collectors -----------------------------------------------------------------------------


def collect_all(ctx) -> dict[str, ResourceRecord]:
    everything: dict[str, ResourceRecord] = {}
    for full_type in AZURE_TYPES:
        for native_id, rec in collect(ctx, full_type).items():
            assert native_id not in everything, f"{native_id} collected twice"
            rec.resource_type = full_type
            everything[native_id] = rec
    return everything


def test_every_relationship_points_at_a_collected_resource(ctx, estate):
    everything = collect_all(ctx)
    outside = {
        (rec.resource_type, rel.kind, rel.target_native_id)
        for rec in everything.values()
        for rel in rec.relations
        if rel.target_native_id not in everything
    }
    # Ids of resources outside the estate (an ASG, a peered hub vnet, a disk encryption set) stay in config.
    assert outside == set()
    kinds = {
        (rec.resource_type, rel.kind, everything[rel.target_native_id].resource_type)
        for rec in everything.values()
        for rel in rec.relations
    }
    assert {
        ("azure.network.network_interface", "attached_to", "azure.compute.vm"),
        ("azure.network.network_interface", "in_subnet", "azure.network.subnet"),
        ("azure.network.network_interface", "uses_nsg", "azure.network.nsg"),
        ("azure.network.network_interface", "uses_public_ip", "azure.network.public_ip"),
        ("azure.network.subnet", "in_vnet", "azure.network.vnet"),
        ("azure.network.subnet", "uses_nsg", "azure.network.nsg"),
        ("azure.network.public_ip", "associated_with", "azure.network.network_interface"),
        ("azure.network.public_ip", "associated_with", "azure.network.load_balancer"),
        ("azure.network.load_balancer", "uses_public_ip", "azure.network.public_ip"),
        ("azure.compute.disk", "attached_to", "azure.compute.vm"),
        ("azure.compute.snapshot", "snapshot_of", "azure.compute.disk"),
        ("azure.sql.database", "member_of", "azure.sql.server"),
    } <= kinds
    # Every resource but the groups themselves (and subscription-level records) is in a resource group.
    for rec in everything.values():
        if rec.resource_type != "azure.resource.resource_group" and "/resourcegroups/" in rec.native_id:
            groups = rels(rec, "in_resource_group")
            assert len(groups) == 1 and everything[groups.pop()].resource_type == "azure.resource.resource_group"


def test_context_counts_and_paces_every_call(estate):
    limiter = RecordingLimiter()
    context = make_context(limiter)
    try:
        before = len(estate.fake.calls(method="GET"))
        collect(context, "azure.network.vnet")
        collect(context, "azure.sql.server")
        collect(context, "azure.resource.resource_group")
        assert context.client("network") is context.client("network")  # one client per kind
    finally:
        context.close()
    arm_calls = [c for c in estate.fake.calls(method="GET")[before:] if c.host == "127.0.0.1"]
    assert context.api_calls == len(arm_calls) == len(limiter.acquired)
    assert {service for service, _ in limiter.acquired} == {"Microsoft.Network", "Microsoft.Sql", "Microsoft.Resources"}
    assert {region for _, region in limiter.acquired} == {"global"}


def test_namespace_of():
    assert namespace_of(f"https://x/subscriptions/{SUB}/providers/Microsoft.Network/virtualNetworks?a=1") == (
        "Microsoft.Network"
    )
    assert namespace_of(f"https://x/subscriptions/{SUB}/resourcegroups?api-version=1") == "Microsoft.Resources"


def test_lists_follow_next_link(ctx, estate):
    estate.fake.page_size = 1
    disks = collect(ctx, "azure.compute.disk")
    assert len(disks) == 3
    pages = estate.fake.calls(_sub_path("providers/Microsoft.Compute/disks"))
    assert [c.query.get("$skiptoken") for c in pages] == [None, "1", "2"]
    groups = collect(ctx, "azure.resource.resource_group")
    assert len(groups) == 2
    subnets = collect(ctx, "azure.network.subnet")  # embedded lists are not paged; the vnet list is
    assert len(subnets) == 2


def test_throttling_is_retried_after_retry_after(ctx, estate):
    path = _sub_path("providers/Microsoft.Network/networkSecurityGroups")
    estate.fake.throttle(path, times=1, retry_after=1)
    started = time.monotonic()
    nsgs = collect(ctx, "azure.network.nsg")
    assert len(nsgs) == 2
    assert time.monotonic() - started >= 0.9  # waited for Retry-After
    assert [c.status for c in estate.fake.calls(path)] == [429, 200]
    assert ctx.api_calls == 1  # a retry is the same call


def test_denied_provider_raises_from_its_collector_only(ctx, estate):
    estate.fake.deny_provider("Microsoft.Sql")
    with pytest.raises(HttpResponseError) as raised:
        collect(ctx, "azure.sql.server")
    assert raised.value.status_code == 403
    assert raised.value.error.code == "AuthorizationFailed"
    assert type(raised.value) is HttpResponseError  # the SDK's error, unchanged, for the engine to classify
    with pytest.raises(HttpResponseError):
        collect(ctx, "azure.sql.database")
    # Other providers, and the generic list (which still shows the servers' existence), carry on.
    assert len(collect(ctx, "azure.network.vnet")) == 1
    assert len(collect(ctx, "azure.keyvault.vault")) == 2
    assert len(collect(ctx, "azure.resource.generic")) == 2


def test_no_secret_in_logs(estate, caplog):
    caplog.set_level(logging.DEBUG)
    context = make_context()
    try:
        everything = collect_all(context)
    finally:
        context.close()
    assert everything
    assert caplog.records  # the SDKs did log (HTTP requests, token acquisition)
    tokens = list(estate.fake.tokens)
    assert tokens
    for secret in [SECRET, *tokens]:
        assert secret not in caplog.text
        for rec in everything.values():
            assert secret not in repr(rec)
    assert SECRET not in repr(context)
