"""Azure App Service (Microsoft.Web): App Service plans, web apps and function apps.

Sites are listed once per type (web apps and function apps are both ``Microsoft.Web/sites``, told apart by
``kind``), then each site's configuration is read with three detail calls: ``config/web`` (TLS, FTP,
HTTP/2, remote debugging, runtime, access restrictions, CORS), ``config/authsettingsV2`` (App Service
authentication on/off) and ``basicPublishingCredentialsPolicies/{ftp,scm}`` (basic-auth publishing). A
denied or failed detail call leaves its fields null and listed in ``config.unreadable``.

Never read: application settings and connection strings (``config/appsettings/list`` and
``config/connectionstrings/list`` are POSTs that return secret values), publishing profiles, the auth
settings' secrets. Only the settings named below are kept from the answers.

Relationships: site → its App Service plan ``member_of``, site → its VNet-integration subnet ``in_subnet``,
every resource → its resource group ``in_resource_group``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from inventory.collectors.aws._util import fan_out
from inventory.collectors.azure import _arm
from inventory.collectors.azure._util import props, record, rid
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import Rel, ResourceRecord, collector

API_VERSION = "2023-12-01"

# linuxFxVersion stacks → the runtime names the rules use.
_STACKS = {
    "python": "python",
    "php": "php",
    "node": "node",
    "java": "java",
    "tomcat": "java",
    "jbosseap": "java",
    "dotnetcore": "dotnet",
    "dotnet": "dotnet",
    "dotnet-isolated": "dotnet",
    "powershell": "powershell",
    "docker": "container",
    "compose": "container",
}


# The keys read from config/web (null, and listed as unreadable, when that call fails).
WEB_CONFIG_KEYS = (
    "min_tls_version",
    "scm_min_tls_version",
    "ftps_state",
    "http20_enabled",
    "remote_debugging",
    "always_on",
    "runtime",
    "linux_fx_version",
    "access_restrictions",
    "access_restrictions_default_action",
    "open_to_all",
    "scm_uses_main_restrictions",
    "cors_allowed_origins",
    "cors_support_credentials",
    "http_logging",
    "health_check_path",
)


def _sites(ctx: AzureContext) -> Iterator[dict]:
    return _arm.items(ctx, f"/subscriptions/{ctx.subscription_id}/providers/Microsoft.Web/sites", API_VERSION)


def is_function_app(site: dict) -> bool:
    # "functionapp", "functionapp,linux", "functionapp,workflowapp" (Logic Apps Standard runs on Functions).
    return "functionapp" in str(site.get("kind") or "").lower()


def runtime(web: dict) -> dict:
    """The app's language runtime and version: from ``linuxFxVersion`` ("PYTHON|3.11", "NODE|18-lts",
    "JAVA|17-java17") on Linux; on Windows from the Java, Python or PHP version Azure reports (in that
    order; an empty or "Off" version means the runtime is not enabled)."""
    fx = str(web.get("linuxFxVersion") or "").strip()
    if "|" in fx:
        stack, version = fx.split("|", 1)
        stack = stack.strip().lower()
        if stack in ("docker", "compose"):
            return {"stack": "container", "version": None}
        return {"stack": _STACKS.get(stack, stack), "version": version.split("-", 1)[0].strip() or None}
    for stack, key in (("java", "javaVersion"), ("python", "pythonVersion"), ("php", "phpVersion")):
        version = str(web.get(key) or "").strip()
        if version and version.lower() != "off":
            return {"stack": stack, "version": version}
    if web.get("powerShellVersion"):
        return {"stack": "powershell", "version": str(web["powerShellVersion"])}
    framework = str(web.get("netFrameworkVersion") or "").strip()
    if framework:
        return {"stack": "dotnet", "version": framework.lstrip("v")}
    return {"stack": None, "version": None}


def _restrictions(rules: list[dict] | None) -> list[dict]:
    return [
        {
            "name": rule.get("name"),
            "action": rule.get("action"),
            "priority": rule.get("priority"),
            "source": rule.get("ipAddress") or rule.get("vnetSubnetResourceId") or None,
            "tag": rule.get("tag"),
        }
        for rule in rules or []
    ]


def _open_to_all(rules: list[dict], default_action: str | None) -> bool:
    """True when the site accepts requests from any address. An explicit "Allow all" rule (Azure lists one,
    "Any", when no restriction is set) opens it; otherwise the action for unmatched traffic decides, and
    without one (older sites) an allow rule implies "deny the rest"."""
    allow = [r for r in rules if str(r["action"]).lower() == "allow"]
    if any(r["source"] in ("Any", "0.0.0.0/0", "::/0") for r in allow):
        return True
    action = str(default_action or "").lower()
    if action:
        return action == "allow"
    return not allow


def _site_record(ctx: AzureContext, site: dict) -> ResourceRecord:
    p = props(site)
    site_id = str(site.get("id") or "")
    details = _arm.ArmDetails(ctx)
    web_answer = details.get_path(WEB_CONFIG_KEYS, f"{site_id}/config/web", API_VERSION)
    web = props(web_answer) if web_answer is not None else None
    auth_answer = details.get_path("auth_enabled", f"{site_id}/config/authsettingsV2", API_VERSION)
    auth = props(auth_answer) if auth_answer is not None else None
    publishing: dict[str, bool | None] = {}
    for kind in ("ftp", "scm"):
        answer = details.get_path(
            f"basic_auth_{kind}", f"{site_id}/basicPublishingCredentialsPolicies/{kind}", API_VERSION
        )
        publishing[kind] = None if answer is None else bool(props(answer).get("allow", True))
    identity = site.get("identity") if isinstance(site.get("identity"), dict) else {}
    config: dict = {
        "kind": site.get("kind"),
        "state": p.get("state"),
        "enabled": p.get("enabled"),
        "default_host_name": p.get("defaultHostName"),
        "plan_id": rid(p.get("serverFarmId")) or None,
        "os": "linux" if p.get("reserved") or "linux" in str(site.get("kind") or "").lower() else "windows",
        "https_only": bool(p.get("httpsOnly")),
        "client_cert_enabled": bool(p.get("clientCertEnabled")),
        "client_cert_mode": p.get("clientCertMode"),
        "public_network_access": p.get("publicNetworkAccess"),
        "vnet_subnet_id": rid(p.get("virtualNetworkSubnetId")) or None,
        "identity_type": identity.get("type"),
        "managed_identity": bool(identity.get("type")) and str(identity.get("type")).lower() != "none",
        "key_vault_reference_identity": p.get("keyVaultReferenceIdentity"),
    }
    config.update(_web_config(web))
    config["auth_enabled"] = None if auth is None else bool((auth.get("platform") or {}).get("enabled"))
    config["basic_auth_ftp"] = publishing["ftp"]
    config["basic_auth_scm"] = publishing["scm"]
    config["private_endpoint_count"] = len(p.get("privateEndpointConnections") or [])
    rels = [Rel("member_of", config["plan_id"] or ""), Rel("in_subnet", config["vnet_subnet_id"] or "")]
    return record(site, details.finish(config), rels)


def _web_config(web: dict | None) -> dict:
    """The ``config/web`` settings the rules read; every key null when the call failed."""
    if web is None:
        return dict.fromkeys(WEB_CONFIG_KEYS)
    rules = _restrictions(web.get("ipSecurityRestrictions"))
    default_action = web.get("ipSecurityRestrictionsDefaultAction")
    cors = web.get("cors") or {}
    return {
        "min_tls_version": web.get("minTlsVersion"),
        "scm_min_tls_version": web.get("scmMinTlsVersion"),
        "ftps_state": web.get("ftpsState"),
        "http20_enabled": bool(web.get("http20Enabled")),
        "remote_debugging": bool(web.get("remoteDebuggingEnabled")),
        "always_on": bool(web.get("alwaysOn")),
        "runtime": runtime(web),
        "linux_fx_version": web.get("linuxFxVersion") or None,
        "access_restrictions": rules,
        "access_restrictions_default_action": default_action,
        "open_to_all": _open_to_all(rules, default_action),
        "scm_uses_main_restrictions": bool(web.get("scmIpSecurityRestrictionsUseMain")),
        "cors_allowed_origins": sorted(str(o) for o in cors.get("allowedOrigins") or []),
        "cors_support_credentials": bool(cors.get("supportCredentials")),
        "http_logging": bool(web.get("httpLoggingEnabled")),
        "health_check_path": web.get("healthCheckPath"),
    }


@collector("azure", "appservice.web_app", service="Microsoft.Web", regional=False)
def web_apps(ctx: AzureContext) -> Iterator[ResourceRecord]:
    found = [site for site in _sites(ctx) if not is_function_app(site)]
    yield from fan_out(ctx, partial(_site_record, ctx), found)


@collector("azure", "appservice.function_app", service="Microsoft.Web", regional=False)
def function_apps(ctx: AzureContext) -> Iterator[ResourceRecord]:
    found = [site for site in _sites(ctx) if is_function_app(site)]
    yield from fan_out(ctx, partial(_site_record, ctx), found)


@collector("azure", "appservice.plan", service="Microsoft.Web", regional=False)
def plans(ctx: AzureContext) -> Iterator[ResourceRecord]:
    path = f"/subscriptions/{ctx.subscription_id}/providers/Microsoft.Web/serverfarms"
    for plan in _arm.items(ctx, path, API_VERSION):
        p = props(plan)
        sku = plan.get("sku") if isinstance(plan.get("sku"), dict) else {}
        kind = str(plan.get("kind") or "")
        config = {
            "sku": sku.get("name"),
            "tier": sku.get("tier"),
            "kind": kind or None,
            "os": "linux" if p.get("reserved") or "linux" in kind.lower() else "windows",
            "workers": sku.get("capacity") if sku.get("capacity") is not None else p.get("numberOfWorkers"),
            "max_workers": p.get("maximumElasticWorkerCount") or p.get("maximumNumberOfWorkers"),
            "number_of_sites": p.get("numberOfSites"),
            "status": p.get("status"),
            "zone_redundant": bool(p.get("zoneRedundant")),
            "per_site_scaling": bool(p.get("perSiteScaling")),
            "elastic_scale": bool(p.get("elasticScaleEnabled")),
            "hosting_environment_id": rid((p.get("hostingEnvironmentProfile") or {}).get("id")) or None,
            "provisioning_state": p.get("provisioningState"),
        }
        yield record(plan, config)
