"""The fake Azure's demo tenant: one service principal, two subscriptions, each with a small web tier, an
application platform and Defender / RBAC settings, and the tenant's subscription policy.
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
        add_demo_platform(fake, sub.subscription_id, env)
        add_demo_governance(fake, sub.subscription_id, env)
        subscriptions.append(sub.subscription_id)
    add_demo_tenant_settings(fake)
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


def add_demo_platform(fake: FakeAzure, subscription_id: str, env: str, location: str = "westeurope") -> dict[str, dict]:
    """The application platform of resource group ``rg-apps-{env}``. Production: a Log Analytics
    workspace, an App Service plan with a web app and a function app, an AKS cluster, a Cosmos DB account,
    a container registry, an application gateway with no backend yet, and diagnostic settings (the
    activity log and the web app, to the workspace). Dev: an App Service plan with no app and an Azure
    Firewall that is deallocated. Returns the resources' JSON by short name."""
    sid, rg = subscription_id, f"rg-apps-{env}"
    base = f"/subscriptions/{sid}/resourceGroups/{rg}/providers"
    found: dict[str, dict] = {}

    def add(short: str, resource_type: str, name: str, **kwargs: Any) -> dict:
        kwargs.setdefault("location", location)
        found[short] = fake.add_resource(sid, rg, resource_type, name, **kwargs)
        return found[short]

    fake.add_resource_group(sid, rg, location, {"env": env})
    if env != "prod":
        add(
            "plan_idle",
            "Microsoft.Web/serverfarms",
            f"plan-idle-{env}",
            kind="app",
            sku={"name": "S1", "tier": "Standard", "capacity": 1},
            properties={"numberOfSites": 0, "reserved": False, "status": "Ready"},
        )
        add(
            "firewall",
            "Microsoft.Network/azureFirewalls",
            f"fw-{env}",
            properties={
                "sku": {"name": "AZFW_VNet", "tier": "Standard"},
                "threatIntelMode": "Off",
                "ipConfigurations": [],
                "networkRuleCollections": [],
            },
        )
        return found
    workspace = add(
        "workspace",
        "Microsoft.OperationalInsights/workspaces",
        f"law-{env}",
        properties={
            "customerId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base}/law-{env}")),
            "sku": {"name": "PerGB2018"},
            "retentionInDays": 30,
            "workspaceCapping": {"dailyQuotaGb": -1},
            "features": {"disableLocalAuth": False},
        },
    )
    plan = add(
        "plan",
        "Microsoft.Web/serverfarms",
        f"plan-web-{env}",
        kind="linux",
        sku={"name": "P1v3", "tier": "PremiumV3", "capacity": 1},
        properties={"numberOfSites": 2, "reserved": True, "status": "Ready"},
    )
    sites = {
        "web": (f"app-shop-{env}", "app,linux", "PYTHON|3.8", "1.0", "AllAllowed"),
        "func": (f"func-jobs-{env}", "functionapp,linux", "Node|20", "1.2", "Disabled"),
    }
    for short, (name, kind, fx, tls, ftp) in sites.items():
        add(
            short,
            "Microsoft.Web/sites",
            name,
            kind=kind,
            identity={"type": "SystemAssigned"} if short == "func" else None,
            properties={
                "state": "Running",
                "serverFarmId": plan["id"],
                "reserved": True,
                "httpsOnly": short == "func",
                "defaultHostName": f"{name}.azurewebsites.net",
            },
        )
        fake.add_resource(
            sid,
            rg,
            "Microsoft.Web/sites/config",
            f"{name}/web",
            location=None,
            properties={
                "linuxFxVersion": fx,
                "minTlsVersion": tls,
                "ftpsState": ftp,
                "http20Enabled": short == "func",
                "cors": {"allowedOrigins": []},
            },
        )
        fake.add_resource(
            sid,
            rg,
            "Microsoft.Web/sites/config",
            f"{name}/authsettingsV2",
            location=None,
            properties={"platform": {"enabled": short == "func"}},
        )
        for publishing in ("ftp", "scm"):
            fake.add_resource(
                sid,
                rg,
                "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
                f"{name}/{publishing}",
                location=None,
                properties={"allow": short == "web"},
            )
    add(
        "aks",
        "Microsoft.ContainerService/managedClusters",
        f"aks-{env}",
        sku={"name": "Base", "tier": "Free"},
        identity={"type": "SystemAssigned"},
        properties={
            "powerState": {"code": "Running"},
            "kubernetesVersion": "1.29.7",
            "enableRBAC": True,
            "aadProfile": {"managed": True, "enableAzureRBAC": True},
            "agentPoolProfiles": [
                {"name": "system", "count": 2, "vmSize": "Standard_D2s_v5", "mode": "System", "osType": "Linux"}
            ],
            "networkProfile": {"networkPlugin": "kubenet"},
            "addonProfiles": {
                "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": workspace["id"]}}
            },
            "autoUpgradeProfile": {"upgradeChannel": "patch"},
        },
    )
    add(
        "cosmos",
        "Microsoft.DocumentDB/databaseAccounts",
        f"cosmos-shop-{env}",
        kind="GlobalDocumentDB",
        properties={
            "publicNetworkAccess": "Enabled",
            "isVirtualNetworkFilterEnabled": False,
            "ipRules": [],
            "disableLocalAuth": False,
            "minimalTlsVersion": "Tls12",
            "locations": [{"locationName": "West Europe", "failoverPriority": 0}],
            "backupPolicy": {"type": "Continuous"},
        },
    )
    add(
        "acr",
        "Microsoft.ContainerRegistry/registries",
        f"acrcontoso{env}",
        sku={"name": "Basic", "tier": "Basic"},
        properties={"loginServer": f"acrcontoso{env}.azurecr.io", "adminUserEnabled": True},
    )
    add(
        "appgw",
        "Microsoft.Network/applicationGateways",
        f"agw-{env}",
        properties={
            "sku": {"name": "Standard_v2", "tier": "Standard_v2", "capacity": 1},
            "operationalState": "Running",
            "frontendIPConfigurations": [{"name": "fe-private", "properties": {"privateIPAddress": "10.0.2.10"}}],
            "backendAddressPools": [{"name": "pending", "properties": {"backendAddresses": []}}],
            "sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101"},
        },
    )
    insights = "providers/Microsoft.Insights/diagnosticSettings"
    fake.register_list(
        f"/subscriptions/{sid}/{insights}",
        [
            {
                "id": f"/subscriptions/{sid}/{insights}/activity-to-law",
                "name": "activity-to-law",
                "properties": {
                    "workspaceId": workspace["id"],
                    "logs": [
                        {"category": c, "enabled": True} for c in ("Administrative", "Security", "Policy", "Alert")
                    ],
                },
            },
        ],
    )
    web_id = found["web"]["id"]
    fake.register_list(
        f"{web_id}/{insights}",
        [
            {
                "id": f"{web_id}/{insights}/http-logs",
                "name": "http-logs",
                "properties": {
                    "workspaceId": workspace["id"],
                    "logs": [{"category": "AppServiceHTTPLogs", "enabled": True}],
                },
            },
        ],
    )
    return found


OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR_ROLE = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def add_demo_governance(fake: FakeAzure, subscription_id: str, env: str) -> None:
    """Defender for Cloud plans and settings, role assignments and a custom role for one subscription.
    Production: Defender for Servers on, Storage and Containers off, a security contact, an Owner and a
    resource-group Reader, and an everything-allowed custom role. Dev: every plan off, no contact, and a
    Contributor user."""
    sub = f"/subscriptions/{subscription_id}"
    auth = f"{sub}/providers/Microsoft.Authorization"
    tiers = (
        {"VirtualMachines": "Standard", "StorageAccounts": "Free", "Containers": "Free"}
        if env == "prod"
        else {"VirtualMachines": "Free"}
    )
    fake.register_list(
        f"{sub}/providers/Microsoft.Security/pricings",
        [
            {
                "id": f"{sub}/providers/Microsoft.Security/pricings/{plan}",
                "name": plan,
                "properties": {"pricingTier": tier, "subPlan": "P2" if tier == "Standard" else None},
            }
            for plan, tier in tiers.items()
        ],
    )
    if env == "prod":
        fake.register_list(
            f"{sub}/providers/Microsoft.Security/securityContacts",
            [
                {
                    "id": f"{sub}/providers/Microsoft.Security/securityContacts/default",
                    "name": "default",
                    "properties": {
                        "emails": "secops@contoso.example",
                        "alertNotifications": {"state": "On", "minimalSeverity": "High"},
                        "notificationsByRole": {"state": "On", "roles": ["Owner"]},
                    },
                },
            ],
        )
    custom = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sub}/custom-admin"))
    assignments = (
        [
            ("owner", OWNER_ROLE, "User", sub),
            ("reader", READER_ROLE, "Group", f"{sub}/resourceGroups/rg-web-{env}"),
            ("ops", custom, "ServicePrincipal", f"{sub}/resourceGroups/rg-apps-{env}"),
        ]
        if env == "prod"
        else [("dev", CONTRIBUTOR_ROLE, "User", sub)]
    )
    fake.register_list(f"{auth}/roleAssignments", [_assignment(auth, *a) for a in assignments])
    if env == "prod":
        definition = {
            "id": f"{auth}/roleDefinitions/{custom}",
            "name": custom,
            "properties": {
                "roleName": "Contoso Operator",
                "type": "CustomRole",
                "assignableScopes": [sub],
                "permissions": [{"actions": ["*"], "notActions": []}],
            },
        }
        fake.register(f"{auth}/roleDefinitions/{custom}", definition)
        fake.register_list(f"{auth}/roleDefinitions", [definition])


def _assignment(auth: str, who: str, role: str, kind: str, scope: str) -> dict:
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, scope + who))
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name,
        "properties": {
            "roleDefinitionId": f"{auth}/roleDefinitions/{role}",
            "scope": scope,
            "principalType": kind,
            "principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, who)),
        },
    }


def add_demo_tenant_settings(fake: FakeAzure) -> None:
    """The tenant's subscription policy: subscriptions cannot leave the directory, but may enter it."""
    fake.register(
        "/providers/Microsoft.Subscription/policies/default",
        {
            "id": "/providers/Microsoft.Subscription/policies/default",
            "name": "default",
            "properties": {"blockSubscriptionsLeavingTenant": True, "blockSubscriptionsIntoTenant": False},
        },
    )
