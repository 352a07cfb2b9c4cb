"""Azure Application Gateways (azure-mgmt-network): frontends, listeners, backend pools, the TLS policy and
the web application firewall. The WAF of a gateway is either its own legacy configuration or a WAF policy
(a separate resource, read once per distinct policy, wherever it lives). A policy that cannot be read
leaves the gateway's WAF settings null and ``waf`` listed in ``config.unreadable``.
Certificates are not kept (the gateway's answer carries only public data, but nothing reads it).

Relationships: gateway → frontend public IPs ``uses_public_ip``, → its subnet ``in_subnet``, → the network
interfaces of its backend pools ``forwards_to``, → its resource group ``in_resource_group``.
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.collectors.azure._util import parent_id, props, record, rid
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.azure.firewall import read_policies
from inventory.collectors.base import Rel, ResourceRecord, collector

# Predefined TLS policies → their minimum protocol (learn.microsoft.com: application-gateway-ssl-policy-overview).
PREDEFINED_MIN_TLS = {
    "appgwsslpolicy20150501": "TLSv1_0",
    "appgwsslpolicy20170401": "TLSv1_1",
    "appgwsslpolicy20170401s": "TLSv1_2",
    "appgwsslpolicy20220101": "TLSv1_2",
    "appgwsslpolicy20220101s": "TLSv1_2",
}
WAF_POLICY_API_VERSION = "2024-05-01"


def min_tls_version(ssl_policy: dict | None) -> str | None:
    """The effective minimum TLS version of an explicit TLS policy; null when the gateway has none (its
    default then depends on the api-version it was created with, so it is not guessed)."""
    policy = ssl_policy or {}
    if policy.get("minProtocolVersion"):
        return str(policy["minProtocolVersion"])
    return PREDEFINED_MIN_TLS.get(str(policy.get("policyName") or "").lower())


def _waf(p: dict, policies: dict[str, dict | None]) -> tuple[dict, bool]:
    """(waf settings, readable). A WAF policy on the gateway wins over the legacy configuration."""
    policy_id = rid(p.get("firewallPolicy")) or None
    if policy_id:
        policy = policies.get(policy_id)
        if policy is None:
            return {"enabled": None, "mode": None, "source": "policy", "policy_id": policy_id, "rule_sets": None}, False
        settings = policy.get("policySettings") or {}
        managed = (policy.get("managedRules") or {}).get("managedRuleSets") or []
        return {
            "enabled": str(settings.get("state") or "").lower() == "enabled",
            "mode": settings.get("mode"),
            "source": "policy",
            "policy_id": policy_id,
            "rule_sets": [f"{s.get('ruleSetType')} {s.get('ruleSetVersion')}" for s in managed],
        }, True
    legacy = p.get("webApplicationFirewallConfiguration") or {}
    if legacy:
        return {
            "enabled": bool(legacy.get("enabled")),
            "mode": legacy.get("firewallMode"),
            "source": "configuration",
            "policy_id": None,
            "rule_sets": [f"{legacy.get('ruleSetType')} {legacy.get('ruleSetVersion')}"],
        }, True
    return {"enabled": False, "mode": None, "source": None, "policy_id": None, "rule_sets": []}, True


@collector("azure", "network.application_gateway", service="Microsoft.Network", regional=False)
def application_gateways(ctx: AzureContext) -> Iterator[ResourceRecord]:
    gateways = list(ctx.items("network", "application_gateways.list_all"))
    wanted = {rid(props(gateway).get("firewallPolicy")) for gateway in gateways} - {""}
    policies = read_policies(ctx, wanted, WAF_POLICY_API_VERSION)
    for gateway in gateways:
        yield _gateway_record(gateway, policies)


def _gateway_record(gateway: dict, policies: dict[str, dict | None]) -> ResourceRecord:
    p = props(gateway)
    sku = gateway.get("sku") if isinstance(gateway.get("sku"), dict) else props(gateway).get("sku") or {}
    autoscale = p.get("autoscaleConfiguration") or {}
    frontends = {
        rid(fe): {
            "name": fe.get("name"),
            "public_ip_id": rid(props(fe).get("publicIPAddress")) or None,
            "private_ip": props(fe).get("privateIPAddress"),
        }
        for fe in p.get("frontendIPConfigurations") or []
    }
    ports = {rid(port): props(port).get("port") for port in p.get("frontendPorts") or []}
    listeners = []
    for listener in p.get("httpListeners") or []:
        lp = props(listener)
        frontend = frontends.get(rid(lp.get("frontendIPConfiguration"))) or {}
        listeners.append(
            {
                "name": listener.get("name"),
                "protocol": lp.get("protocol"),
                "port": ports.get(rid(lp.get("frontendPort"))),
                "public": bool(frontend.get("public_ip_id")),
                "host_name": lp.get("hostName") or ((lp.get("hostNames") or [None])[0]),
            }
        )
    pools = []
    backend_nics: set[str] = set()
    for pool in p.get("backendAddressPools") or []:
        pp = props(pool)
        addresses = pp.get("backendAddresses") or []
        configurations = pp.get("backendIPConfigurations") or []
        backend_nics.update(parent_id(rid(c)) for c in configurations if "/networkinterfaces/" in rid(c))
        pools.append({"name": pool.get("name"), "target_count": len(addresses) + len(configurations)})
    waf, readable = _waf(p, policies)
    ssl = p.get("sslPolicy") or {}
    subnet_ids = sorted({rid(props(c).get("subnet")) for c in p.get("gatewayIPConfigurations") or []} - {""})
    config = {
        "sku": sku.get("name"),
        "tier": sku.get("tier"),
        "capacity": sku.get("capacity"),
        "min_capacity": autoscale.get("minCapacity"),
        "max_capacity": autoscale.get("maxCapacity"),
        "operational_state": p.get("operationalState"),
        "public": any(fe["public_ip_id"] for fe in frontends.values()),
        "frontends": sorted(frontends.values(), key=lambda fe: str(fe["name"])),
        "listeners": listeners,
        "backend_pools": pools,
        "backend_target_count": sum(pool["target_count"] for pool in pools),
        "ssl_policy": {
            "policy_type": ssl.get("policyType"),
            "policy_name": ssl.get("policyName"),
            "min_protocol_version": min_tls_version(ssl),
        },
        "waf": waf,
        "http2_enabled": bool(p.get("enableHttp2")),
        "subnet_ids": subnet_ids,
        "zones": sorted(gateway.get("zones") or []),
        "provisioning_state": p.get("provisioningState"),
        "unreadable": [] if readable else ["waf"],
    }
    rels = [Rel("uses_public_ip", fe["public_ip_id"] or "") for fe in frontends.values()]
    rels += [Rel("in_subnet", subnet) for subnet in subnet_ids]
    rels += [Rel("forwards_to", nic) for nic in sorted(backend_nics)]
    return record(gateway, config, rels)
