"""Azure Firewall (azure-mgmt-network): each firewall with its threat-intelligence mode, IDPS mode and rule
count, whether its rules are classic rule collections on the firewall or a firewall policy (a separate
resource, read once per distinct policy, wherever it lives; its threat-intelligence mode then applies).
A policy that cannot be read leaves the policy-dependent fields null and listed in ``config.unreadable``.
A policy "has rules" when it has a rule collection group.

Relationships: firewall → its public IPs ``uses_public_ip``, → its subnet (AzureFirewallSubnet) ``in_subnet``,
→ its resource group ``in_resource_group``.
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.collectors.azure import _arm
from inventory.collectors.azure._util import props, record, rid
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import Rel, ResourceRecord, collector

_CLASSIC_COLLECTIONS = ("applicationRuleCollections", "natRuleCollections", "networkRuleCollections")
_POLICY_FIELDS = ("threat_intel_mode", "idps_mode", "policy_rule_collection_group_count", "has_rules")
POLICY_API_VERSION = "2024-05-01"


def read_policies(ctx: AzureContext, policy_ids: set[str], api_version: str) -> dict[str, dict | None]:
    """Each policy's properties by id (None when it could not be read: denied, gone, another tenant)."""
    found: dict[str, dict | None] = {}
    for policy_id in sorted(policy_ids):
        answer = _arm.ArmDetails(ctx).get_path("policy", policy_id, api_version)
        found[policy_id] = None if answer is None else props(answer)
    return found


@collector("azure", "network.firewall", service="Microsoft.Network", regional=False)
def firewalls(ctx: AzureContext) -> Iterator[ResourceRecord]:
    found = list(ctx.items("network", "azure_firewalls.list_all"))
    if not found:
        return
    policies = read_policies(ctx, {rid(props(fw).get("firewallPolicy")) for fw in found} - {""}, POLICY_API_VERSION)
    for firewall in found:
        yield _firewall_record(firewall, policies)


def _firewall_record(firewall: dict, policies: dict[str, dict | None]) -> ResourceRecord:
    p = props(firewall)
    sku = p.get("sku") or firewall.get("sku") or {}
    configurations = [props(c) for c in p.get("ipConfigurations") or []]
    public_ips = sorted({rid(c.get("publicIPAddress")) for c in configurations} - {""})
    subnets = sorted({rid(c.get("subnet")) for c in configurations} - {""})
    classic_rules = sum(
        len(props(collection).get("rules") or []) for key in _CLASSIC_COLLECTIONS for collection in p.get(key) or []
    )
    policy_id = rid(p.get("firewallPolicy")) or None
    additional = p.get("additionalProperties") or {}
    config = {
        "sku_name": sku.get("name"),
        "sku_tier": sku.get("tier"),
        "deployed": bool(configurations) or bool(rid(p.get("virtualHub"))),
        "virtual_hub_id": rid(p.get("virtualHub")) or None,
        "firewall_policy_id": policy_id,
        "classic_rule_count": classic_rules,
        "threat_intel_mode": p.get("threatIntelMode") or "Alert",  # Azure's default when unset
        "idps_mode": None,
        "policy_rule_collection_group_count": None,
        "has_rules": classic_rules > 0,
        "dns_proxy": str(additional.get("Network.DNS.EnableProxy") or "").lower() == "true",
        "public_ip_ids": public_ips,
        "subnet_ids": subnets,
        "zones": sorted(firewall.get("zones") or []),
        "provisioning_state": p.get("provisioningState"),
        "unreadable": [],
    }
    if policy_id:
        policy = policies.get(policy_id)
        if policy is None:
            config.update(dict.fromkeys(_POLICY_FIELDS), unreadable=list(_POLICY_FIELDS))
        else:
            groups = len(policy.get("ruleCollectionGroups") or [])
            config.update(
                threat_intel_mode=policy.get("threatIntelMode") or "Alert",
                idps_mode=(policy.get("intrusionDetection") or {}).get("mode"),
                policy_rule_collection_group_count=groups,
                has_rules=classic_rules > 0 or groups > 0,
            )
    rels = [Rel("uses_public_ip", ip) for ip in public_ips] + [Rel("in_subnet", subnet) for subnet in subnets]
    return record(firewall, config, rels)
