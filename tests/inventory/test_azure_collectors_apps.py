"""Azure collectors of the application platform (AKS, App Service plans, web apps and function apps, Cosmos DB,
Container Registry) through the real SDK pipeline against the fake Resource Manager, with ARM JSON shaped
as the REST reference documents it."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from inventory.collectors.azure.appservice import WEB_CONFIG_KEYS, runtime
from inventory.collectors.base import Rel
from tests.fakes.azure_arm import arm_error
from tests.inventory.test_azure_collectors import CLIENT, SECRET, SUB, TENANT, by_name, collect, make_context, rels

RG = "rg-Apps"
LOC = "westeurope"
GROUP = f"/subscriptions/{SUB}/resourcegroups/rg-apps"
SITES = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Web/sites"


@pytest.fixture
def fake(fake_azure):
    fake_azure.add_tenant(TENANT, domain="contoso.onmicrosoft.com")
    fake_azure.add_app(TENANT, CLIENT, SECRET)
    fake_azure.add_subscription(TENANT, SUB, "Contoso Production")
    fake_azure.add_resource_group(SUB, RG, LOC)
    return fake_azure


@pytest.fixture
def ctx(fake):
    context = make_context()
    yield context
    context.close()


def low(value: str) -> str:
    return value.lower()


# --- AKS ---------------------------------------------------------------------------------------------


def add_clusters(fake) -> dict[str, dict]:
    subnet = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/aks"
    workspace = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.OperationalInsights/workspaces/law"
    open_cluster = fake.add_resource(
        SUB,
        RG,
        "Microsoft.ContainerService/managedClusters",
        "aks-open",
        location=LOC,
        tags={"env": "dev"},
        sku={"name": "Base", "tier": "Free"},
        identity={"type": "SystemAssigned", "principalId": "p1", "tenantId": TENANT},
        properties={
            "powerState": {"code": "Running"},
            "kubernetesVersion": "1.27.3",
            "currentKubernetesVersion": "1.27.3",
            "dnsPrefix": "aks-open",
            "fqdn": "aks-open-abc.hcp.westeurope.azmk8s.io",
            "enableRBAC": False,
            "nodeResourceGroup": "MC_rg-Apps_aks-open_westeurope",
            "agentPoolProfiles": [
                {
                    "name": "system",
                    "count": 3,
                    "vmSize": "Standard_D2s_v5",
                    "osType": "Linux",
                    "osSKU": "Ubuntu",
                    "mode": "System",
                    "type": "VirtualMachineScaleSets",
                    "vnetSubnetID": subnet,
                    "enableNodePublicIP": True,
                    "enableAutoScaling": False,
                    "orchestratorVersion": "1.27.3",
                    "osDiskType": "Managed",
                    "powerState": {"code": "Running"},
                }
            ],
            "networkProfile": {"networkPlugin": "kubenet", "outboundType": "loadBalancer"},
            "addonProfiles": {"omsAgent": {"enabled": False}, "azurepolicy": {"enabled": False}},
            "servicePrincipalProfile": {"clientId": "msi"},
        },
    )
    strict = fake.add_resource(
        SUB,
        RG,
        "Microsoft.ContainerService/managedClusters",
        "aks-prod",
        location=LOC,
        sku={"name": "Base", "tier": "Standard"},
        identity={"type": "UserAssigned"},
        properties={
            "powerState": {"code": "Running"},
            "kubernetesVersion": "1.30",
            "currentKubernetesVersion": "1.30.4",
            "privateFQDN": "aks-prod-xyz.privatelink.westeurope.azmk8s.io",
            "enableRBAC": True,
            "aadProfile": {"managed": True, "enableAzureRBAC": True, "tenantID": TENANT},
            "disableLocalAccounts": True,
            "apiServerAccessProfile": {"enablePrivateCluster": True},
            "agentPoolProfiles": [
                {
                    "name": "system",
                    "count": 2,
                    "vmSize": "Standard_D4s_v5",
                    "mode": "System",
                    "osType": "Linux",
                    "vnetSubnetID": subnet.upper(),
                    "enableAutoScaling": True,
                    "minCount": 2,
                    "maxCount": 5,
                    "enableEncryptionAtHost": True,
                },
                {"name": "user", "count": 4, "vmSize": "Standard_D8s_v5", "mode": "User", "vnetSubnetID": subnet},
            ],
            "networkProfile": {
                "networkPlugin": "azure",
                "networkPolicy": "calico",
                "outboundType": "userDefinedRouting",
            },
            "addonProfiles": {
                "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": workspace}},
                "azurepolicy": {"enabled": True},
            },
            "securityProfile": {
                "defender": {"logAnalyticsWorkspaceResourceId": workspace, "securityMonitoring": {"enabled": True}},
                "workloadIdentity": {"enabled": True},
            },
            "oidcIssuerProfile": {"enabled": True},
            "autoUpgradeProfile": {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"},
        },
    )
    return {"open": open_cluster, "strict": strict, "subnet": {"id": subnet}, "workspace": {"id": workspace}}


def test_aks_clusters(fake, ctx):
    found = add_clusters(fake)
    clusters = by_name(collect(ctx, "azure.aks.cluster"))
    assert set(clusters) == {"aks-open", "aks-prod"}
    open_cluster = clusters["aks-open"]
    assert open_cluster.native_id == low(found["open"]["id"]) and open_cluster.region == LOC
    assert open_cluster.tags == {"env": "dev"}
    assert open_cluster.config == {
        "resource_group": RG,
        "kubernetes_version": "1.27.3",
        "power_state": "Running",
        "provisioning_state": "Succeeded",
        "sku_tier": "Free",
        "fqdn": "aks-open-abc.hcp.westeurope.azmk8s.io",
        "rbac_enabled": False,
        "entra_integration": False,
        "azure_rbac_enabled": False,
        "local_accounts_disabled": False,
        "private_cluster": False,
        "public_network_access": None,
        "authorized_ip_ranges": [],
        "run_command_disabled": False,
        "network_plugin": "kubenet",
        "network_plugin_mode": None,
        "network_policy": None,
        "outbound_type": "loadBalancer",
        "azure_policy_addon": False,
        "monitoring_addon": False,
        "monitoring_workspace_id": None,
        "defender_enabled": False,
        "workload_identity": False,
        "image_cleaner": False,
        "oidc_issuer": False,
        "auto_upgrade_channel": "none",
        "node_os_upgrade_channel": None,
        "disk_encryption_set_id": None,
        "node_resource_group": "MC_rg-Apps_aks-open_westeurope",
        "identity_type": "SystemAssigned",
        "node_pools": [
            {
                "name": "system",
                "mode": "System",
                "count": 3,
                "vm_size": "Standard_D2s_v5",
                "os_type": "Linux",
                "os_sku": "Ubuntu",
                "orchestrator_version": "1.27.3",
                "subnet_id": low(found["subnet"]["id"]),
                "autoscaling": False,
                "min_count": None,
                "max_count": None,
                "node_public_ip": True,
                "encryption_at_host": False,
                "fips": False,
                "os_disk_type": "Managed",
                "power_state": "Running",
            }
        ],
        "node_count": 3,
    }
    assert rels(open_cluster) == {("in_subnet", low(found["subnet"]["id"])), ("in_resource_group", GROUP)}

    strict = clusters["aks-prod"].config
    assert strict["kubernetes_version"] == "1.30.4" and strict["fqdn"].startswith("aks-prod-xyz.privatelink")
    assert strict["entra_integration"] and strict["azure_rbac_enabled"] and strict["local_accounts_disabled"]
    assert strict["private_cluster"] and strict["network_policy"] == "calico"
    assert strict["monitoring_addon"] and strict["monitoring_workspace_id"] == low(found["workspace"]["id"])
    assert strict["defender_enabled"] and strict["azure_policy_addon"] and strict["auto_upgrade_channel"] == "patch"
    assert strict["node_count"] == 6 and [p["name"] for p in strict["node_pools"]] == ["system", "user"]
    assert strict["node_pools"][0]["autoscaling"] and strict["node_pools"][0]["max_count"] == 5
    assert rels(clusters["aks-prod"]) == {
        ("in_subnet", low(found["subnet"]["id"])),  # two pools, one subnet (ids compared lowercased)
        ("logs_to", low(found["workspace"]["id"])),
        ("in_resource_group", GROUP),
    }


def test_aks_denied_raises_for_the_engine(fake, ctx):
    add_clusters(fake)
    fake.deny_provider("Microsoft.ContainerService")
    with pytest.raises(HttpResponseError) as raised:
        collect(ctx, "azure.aks.cluster")
    assert raised.value.status_code == 403 and raised.value.error.code == "AuthorizationFailed"


# --- App Service -------------------------------------------------------------------------------------


def add_sites(fake) -> dict[str, dict]:
    plan = fake.add_resource(
        SUB,
        RG,
        "Microsoft.Web/serverfarms",
        "plan-linux",
        location=LOC,
        kind="linux",
        sku={"name": "P1v3", "tier": "PremiumV3", "size": "P1v3", "family": "Pv3", "capacity": 2},
        properties={
            "numberOfSites": 2,
            "numberOfWorkers": 2,
            "reserved": True,
            "status": "Ready",
            "zoneRedundant": False,
        },
    )
    empty = fake.add_resource(
        SUB,
        RG,
        "Microsoft.Web/serverfarms",
        "plan-empty",
        location=LOC,
        kind="app",
        sku={"name": "S1", "tier": "Standard", "capacity": 1},
        properties={"numberOfSites": 0, "reserved": False, "status": "Ready"},
    )
    subnet = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/apps"
    web = fake.add_resource(
        SUB,
        RG,
        "Microsoft.Web/sites",
        "app-shop",
        location="West Europe",
        kind="app,linux",
        identity={"type": "SystemAssigned", "principalId": "p2", "tenantId": TENANT},
        properties={
            "state": "Running",
            "enabled": True,
            "defaultHostName": "app-shop.azurewebsites.net",
            "serverFarmId": plan["id"],
            "reserved": True,
            "httpsOnly": False,
            "clientCertEnabled": False,
            "publicNetworkAccess": "Enabled",
            "virtualNetworkSubnetId": subnet,
            "siteConfig": {"numberOfWorkers": 1, "linuxFxVersion": "PYTHON|3.8"},
            "lastModifiedTimeUtc": "2025-01-01T00:00:00Z",
        },
    )
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.Web/sites/config",
        "app-shop/web",
        location=None,
        properties={
            "linuxFxVersion": "PYTHON|3.8",
            "minTlsVersion": "1.0",
            "scmMinTlsVersion": "1.2",
            "ftpsState": "AllAllowed",
            "http20Enabled": False,
            "remoteDebuggingEnabled": True,
            "alwaysOn": True,
            "ipSecurityRestrictions": [
                {"ipAddress": "Any", "action": "Allow", "priority": 2147483647, "name": "Allow all"}
            ],
            "scmIpSecurityRestrictionsUseMain": False,
            "cors": {"allowedOrigins": ["*"], "supportCredentials": False},
            "httpLoggingEnabled": False,
            "appSettings": None,  # the GET never carries them; the collector would not keep them anyway
            "connectionStrings": None,
        },
    )
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.Web/sites/config",
        "app-shop/authsettingsV2",
        location=None,
        properties={
            "platform": {"enabled": False},
            "identityProviders": {"azureActiveDirectory": {"registration": {"clientSecretSettingName": "X"}}},
        },
    )
    for kind, allow in (("ftp", True), ("scm", True)):
        fake.add_resource(
            SUB,
            RG,
            "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
            f"app-shop/{kind}",
            location=None,
            properties={"allow": allow},
        )
    func = fake.add_resource(
        SUB,
        RG,
        "Microsoft.Web/sites",
        "func-orders",
        location=LOC,
        kind="functionapp,linux",
        properties={"state": "Running", "serverFarmId": plan["id"], "httpsOnly": True, "reserved": True},
    )
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.Web/sites/config",
        "func-orders/web",
        location=None,
        properties={
            "linuxFxVersion": "Node|20",
            "minTlsVersion": "1.2",
            "ftpsState": "Disabled",
            "http20Enabled": True,
            "ipSecurityRestrictions": [
                {"ipAddress": "203.0.113.0/24", "action": "Allow", "priority": 100, "name": "office"}
            ],
            "ipSecurityRestrictionsDefaultAction": "Deny",
        },
    )
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.Web/sites/config",
        "func-orders/authsettingsV2",
        location=None,
        properties={"platform": {"enabled": True}},
    )
    for kind in ("ftp", "scm"):
        fake.add_resource(
            SUB,
            RG,
            "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
            f"func-orders/{kind}",
            location=None,
            properties={"allow": False},
        )
    return {"plan": plan, "empty": empty, "web": web, "func": func, "subnet": {"id": subnet}}


def test_web_apps(fake, ctx):
    found = add_sites(fake)
    apps = collect(ctx, "azure.appservice.web_app")
    assert set(apps) == {low(found["web"]["id"])}  # the function app is the other type's
    app = apps[low(found["web"]["id"])]
    assert app.name == "app-shop" and app.region == "westeurope"
    assert app.config == {
        "resource_group": RG,
        "kind": "app,linux",
        "state": "Running",
        "enabled": True,
        "default_host_name": "app-shop.azurewebsites.net",
        "plan_id": low(found["plan"]["id"]),
        "os": "linux",
        "https_only": False,
        "client_cert_enabled": False,
        "client_cert_mode": None,
        "public_network_access": "Enabled",
        "vnet_subnet_id": low(found["subnet"]["id"]),
        "identity_type": "SystemAssigned",
        "managed_identity": True,
        "key_vault_reference_identity": None,
        "min_tls_version": "1.0",
        "scm_min_tls_version": "1.2",
        "ftps_state": "AllAllowed",
        "http20_enabled": False,
        "remote_debugging": True,
        "always_on": True,
        "runtime": {"stack": "python", "version": "3.8"},
        "linux_fx_version": "PYTHON|3.8",
        "access_restrictions": [
            {"name": "Allow all", "action": "Allow", "priority": 2147483647, "source": "Any", "tag": None}
        ],
        "access_restrictions_default_action": None,
        "open_to_all": True,
        "scm_uses_main_restrictions": False,
        "cors_allowed_origins": ["*"],
        "cors_support_credentials": False,
        "http_logging": False,
        "health_check_path": None,
        "auth_enabled": False,
        "basic_auth_ftp": True,
        "basic_auth_scm": True,
        "private_endpoint_count": 0,
        "unreadable": [],
    }
    assert rels(app) == {
        ("member_of", low(found["plan"]["id"])),
        ("in_subnet", low(found["subnet"]["id"])),
        ("in_resource_group", GROUP),
    }
    assert "clientSecretSettingName" not in repr(app) and "X" not in app.config.values()


def test_function_apps_and_plans(fake, ctx):
    found = add_sites(fake)
    funcs = collect(ctx, "azure.appservice.function_app")
    func = funcs[low(found["func"]["id"])]
    assert set(funcs) == {low(found["func"]["id"])}
    assert func.config["runtime"] == {"stack": "node", "version": "20"}
    assert func.config["open_to_all"] is False and func.config["access_restrictions_default_action"] == "Deny"
    assert (func.config["auth_enabled"], func.config["basic_auth_ftp"], func.config["basic_auth_scm"]) == (
        True,
        False,
        False,
    )
    assert func.config["https_only"] is True and func.config["min_tls_version"] == "1.2"
    assert rels(func, "member_of") == {low(found["plan"]["id"])}

    plans = by_name(collect(ctx, "azure.appservice.plan"))
    assert plans["plan-linux"].config == {
        "resource_group": RG,
        "sku": "P1v3",
        "tier": "PremiumV3",
        "kind": "linux",
        "os": "linux",
        "workers": 2,
        "max_workers": None,
        "number_of_sites": 2,
        "status": "Ready",
        "zone_redundant": False,
        "per_site_scaling": False,
        "elastic_scale": False,
        "hosting_environment_id": None,
        "provisioning_state": "Succeeded",
    }
    assert plans["plan-empty"].config["number_of_sites"] == 0 and plans["plan-empty"].config["os"] == "windows"


def test_a_denied_site_detail_is_unreadable_not_off(fake, ctx):
    found = add_sites(fake)
    web_id = found["web"]["id"]
    fake.fail(f"{web_id}/config/web", 403, arm_error("AuthorizationFailed", "no"))
    fake.fail(f"{web_id}/config/authsettingsV2", 403, arm_error("AuthorizationFailed", "no"))
    app = collect(ctx, "azure.appservice.web_app")[low(web_id)]
    assert app.config["unreadable"] == sorted(["auth_enabled", *WEB_CONFIG_KEYS])
    assert app.config["min_tls_version"] is None and app.config["ftps_state"] is None
    assert app.config["runtime"] is None and app.config["auth_enabled"] is None
    assert app.config["https_only"] is False  # from the site itself: still known
    assert app.config["basic_auth_scm"] is True


def test_a_throttled_site_detail_is_retried_then_read(fake, ctx):
    found = add_sites(fake)
    fake.throttle(f"{found['web']['id']}/config/web", times=1, retry_after=0)
    app = collect(ctx, "azure.appservice.web_app")[low(found["web"]["id"])]
    assert app.config["unreadable"] == [] and app.config["min_tls_version"] == "1.0"


@pytest.mark.parametrize(
    ("web", "expected"),
    [
        ({"linuxFxVersion": "JAVA|17-java17"}, {"stack": "java", "version": "17"}),
        ({"linuxFxVersion": "TOMCAT|10.0-java17"}, {"stack": "java", "version": "10.0"}),
        ({"linuxFxVersion": "DOCKER|nginx:latest"}, {"stack": "container", "version": None}),
        ({"linuxFxVersion": "DOTNETCORE|8.0"}, {"stack": "dotnet", "version": "8.0"}),
        ({"linuxFxVersion": "", "phpVersion": "7.4"}, {"stack": "php", "version": "7.4"}),
        ({"phpVersion": "Off", "javaVersion": "1.8"}, {"stack": "java", "version": "1.8"}),
        ({"phpVersion": "", "netFrameworkVersion": "v4.0"}, {"stack": "dotnet", "version": "4.0"}),
        ({}, {"stack": None, "version": None}),
    ],
)
def test_runtime(web, expected):
    assert runtime(web) == expected


# --- Cosmos DB and Container Registry -----------------------------------------------------------------


def test_cosmos_accounts(fake, ctx):
    subnet = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/db"
    open_account = fake.add_resource(
        SUB,
        RG,
        "Microsoft.DocumentDB/databaseAccounts",
        "cosmos-open",
        location=LOC,
        kind="GlobalDocumentDB",
        properties={
            "publicNetworkAccess": "Enabled",
            "isVirtualNetworkFilterEnabled": False,
            "ipRules": [],
            "disableLocalAuth": False,
            "minimalTlsVersion": "Tls",
            "consistencyPolicy": {"defaultConsistencyLevel": "Session"},
            "locations": [
                {"locationName": "North Europe", "failoverPriority": 1},
                {"locationName": "West Europe", "failoverPriority": 0, "isZoneRedundant": False},
            ],
            "backupPolicy": {
                "type": "Periodic",
                "periodicModeProperties": {
                    "backupIntervalInMinutes": 240,
                    "backupRetentionIntervalInHours": 8,
                    "backupStorageRedundancy": "Geo",
                },
            },
            "capabilities": [{"name": "EnableServerless"}],
            "documentEndpoint": "https://cosmos-open.documents.azure.com:443/",
        },
    )
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.DocumentDB/databaseAccounts",
        "cosmos-private",
        location=LOC,
        kind="MongoDB",
        identity={"type": "SystemAssigned"},
        properties={
            "publicNetworkAccess": "Disabled",
            "isVirtualNetworkFilterEnabled": True,
            "virtualNetworkRules": [{"id": subnet, "ignoreMissingVNetServiceEndpoint": False}],
            "ipRules": [{"ipAddressOrRange": "203.0.113.7"}],
            "privateEndpointConnections": [{"id": "pe"}],
            "disableLocalAuth": True,
            "disableKeyBasedMetadataWriteAccess": True,
            "minimalTlsVersion": "Tls12",
            "keyVaultKeyUri": "https://kv.vault.azure.net/keys/cosmos",
            "enableAutomaticFailover": True,
            "locations": [{"locationName": "West Europe", "failoverPriority": 0, "isZoneRedundant": True}],
            "backupPolicy": {"type": "Continuous"},
            "capabilities": [{"name": "EnableMongo"}],
        },
    )
    accounts = by_name(collect(ctx, "azure.cosmosdb.account"))
    assert accounts["cosmos-open"].native_id == low(open_account["id"])
    assert accounts["cosmos-open"].config == {
        "resource_group": RG,
        "kind": "GlobalDocumentDB",
        "api": [],
        "public_network_access": "Enabled",
        "vnet_filter_enabled": False,
        "ip_rules": [],
        "vnet_rule_subnet_ids": [],
        "network_acl_bypass": None,
        "private_endpoint_count": 0,
        "local_auth_disabled": False,
        "key_based_metadata_write_disabled": False,
        "minimal_tls_version": "Tls",
        "customer_managed_key": False,
        "automatic_failover": False,
        "multiple_write_locations": False,
        "consistency_level": "Session",
        "locations": ["West Europe", "North Europe"],
        "zone_redundant": False,
        "backup_type": "Periodic",
        "backup_interval_minutes": 240,
        "backup_retention_hours": 8,
        "backup_storage_redundancy": "Geo",
        "serverless": True,
        "free_tier": False,
        "analytical_storage": False,
        "identity_type": None,
        "provisioning_state": "Succeeded",
    }
    private = accounts["cosmos-private"].config
    assert private["api"] == ["Mongo"] and private["vnet_rule_subnet_ids"] == [low(subnet)]
    assert private["ip_rules"] == ["203.0.113.7"] and private["private_endpoint_count"] == 1
    assert private["local_auth_disabled"] and private["customer_managed_key"] and private["zone_redundant"]
    assert rels(accounts["cosmos-private"]) == {("in_resource_group", GROUP)}


def test_container_registries(fake, ctx):
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.ContainerRegistry/registries",
        "acrdev",
        location=LOC,
        sku={"name": "Basic", "tier": "Basic"},
        properties={
            "loginServer": "acrdev.azurecr.io",
            "adminUserEnabled": True,
            "anonymousPullEnabled": False,
            "creationDate": "2023-03-01T10:00:00.1234567Z",
            "policies": {"retentionPolicy": {"days": 7, "status": "disabled"}},
            "encryption": {"status": "disabled"},
        },
    )
    fake.add_resource(
        SUB,
        RG,
        "Microsoft.ContainerRegistry/registries",
        "acrprod",
        location=LOC,
        sku={"name": "Premium", "tier": "Premium"},
        properties={
            "loginServer": "acrprod.azurecr.io",
            "adminUserEnabled": False,
            "anonymousPullEnabled": True,
            "publicNetworkAccess": "Enabled",
            "networkRuleSet": {"defaultAction": "Deny", "ipRules": [{"action": "Allow", "value": "203.0.113.0/24"}]},
            "networkRuleBypassOptions": "AzureServices",
            "zoneRedundancy": "Enabled",
            "encryption": {"status": "enabled", "keyVaultProperties": {"keyIdentifier": "https://kv/keys/acr"}},
            "policies": {
                "retentionPolicy": {"days": 30, "status": "enabled"},
                "trustPolicy": {"type": "Notary", "status": "enabled"},
                "quarantinePolicy": {"status": "disabled"},
                "exportPolicy": {"status": "disabled"},
            },
        },
    )
    registries = by_name(collect(ctx, "azure.containerregistry.registry"))
    assert registries["acrdev"].config == {
        "resource_group": RG,
        "sku": "Basic",
        "login_server": "acrdev.azurecr.io",
        "admin_user_enabled": True,
        "anonymous_pull_enabled": False,
        "public_network_access": "Enabled",
        "network_default_action": "Allow",
        "ip_rule_count": 0,
        "network_rule_bypass": None,
        "private_endpoint_count": 0,
        "data_endpoint_enabled": False,
        "zone_redundancy": None,
        "customer_managed_key": False,
        "retention_policy_enabled": False,
        "retention_days": None,
        "trust_policy_enabled": False,
        "quarantine_policy_enabled": False,
        "export_policy_enabled": True,
        "entra_auth_as_arm": True,
        "identity_type": None,
        "creation_date": "2023-03-01T10:00:00.123456+00:00",
        "provisioning_state": "Succeeded",
    }
    prod = registries["acrprod"].config
    assert prod["anonymous_pull_enabled"] and prod["network_default_action"] == "Deny" and prod["ip_rule_count"] == 1
    assert prod["customer_managed_key"] and prod["retention_days"] == 30 and not prod["export_policy_enabled"]
    assert registries["acrprod"].relations == [Rel("in_resource_group", GROUP)]
