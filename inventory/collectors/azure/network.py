"""Azure networking (azure-mgmt-network): virtual networks and subnets, network security groups,
public IP addresses, network interfaces and load balancers. Each collector is one subscription-wide
list call (subnets come embedded in their virtual network's JSON, as Resource Manager returns them).

Relationships (docs/rules.md): subnet → vnet ``in_vnet``; subnet / NIC → NSG ``uses_nsg``; NIC → subnet
``in_subnet``; NIC → VM ``attached_to``; NIC / load balancer → public IP ``uses_public_ip``; public IP →
the NIC / load balancer / gateway holding it ``associated_with``; every resource → its resource group
``in_resource_group``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from inventory.collectors.azure._util import (
    ids,
    location,
    parent_id,
    props,
    record,
    resource_group_of,
    rid,
    sku_name,
)
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import Rel, ResourceRecord, collector

# --- Virtual networks and subnets ------------------------------------------------------------------


@collector("azure", "network.vnet", service="Microsoft.Network", regional=False)
def virtual_networks(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for vnet in ctx.items("network", "virtual_networks.list_all"):
        p = props(vnet)
        yield record(
            vnet,
            {
                "address_prefixes": list((p.get("addressSpace") or {}).get("addressPrefixes") or []),
                "dns_servers": list((p.get("dhcpOptions") or {}).get("dnsServers") or []),
                "subnet_count": len(p.get("subnets") or []),
                "peerings": [
                    {
                        "name": peering.get("name"),
                        "remote_vnet_id": rid((props(peering).get("remoteVirtualNetwork") or {}).get("id")) or None,
                        "state": props(peering).get("peeringState"),
                    }
                    for peering in p.get("virtualNetworkPeerings") or []
                ],
                "ddos_protection": bool(p.get("enableDdosProtection")),
                "provisioning_state": p.get("provisioningState"),
            },
        )


@collector("azure", "network.subnet", service="Microsoft.Network", regional=False)
def subnets(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for vnet in ctx.items("network", "virtual_networks.list_all"):
        p = props(vnet)
        found = p.get("subnets")
        if found is None:  # not embedded (never seen from Resource Manager, but cheap to handle)
            group = resource_group_of(str(vnet.get("id") or ""))
            found = list(ctx.items("network", "subnets.list", group, vnet.get("name")))
        for subnet in found:
            yield _subnet_record(vnet, subnet)


def _subnet_record(vnet: dict, subnet: dict) -> ResourceRecord:
    p = props(subnet)
    prefixes = list(p.get("addressPrefixes") or [])
    prefix = p.get("addressPrefix") or (prefixes[0] if prefixes else None)
    nsg_id = rid(p.get("networkSecurityGroup")) or None
    config = {
        "vnet_id": rid(vnet.get("id")),
        "address_prefix": prefix,
        "address_prefixes": prefixes or ([prefix] if prefix else []),
        "nsg_id": nsg_id,
        "route_table_id": rid(p.get("routeTable")) or None,
        "nat_gateway_id": rid(p.get("natGateway")) or None,
        "service_endpoints": sorted({e.get("service") for e in p.get("serviceEndpoints") or [] if e.get("service")}),
        "delegations": sorted(
            {props(d).get("serviceName") for d in p.get("delegations") or [] if props(d).get("serviceName")}
        ),
        "private_endpoint_network_policies": p.get("privateEndpointNetworkPolicies"),
        "default_outbound_access": p.get("defaultOutboundAccess"),
        "ip_configuration_count": len(p.get("ipConfigurations") or []),
        "provisioning_state": p.get("provisioningState"),
    }
    rels = [Rel("in_vnet", rid(vnet.get("id"))), Rel("uses_nsg", nsg_id or "")]
    return record(subnet, config, rels, region=location(vnet))


# --- Network security groups -----------------------------------------------------------------------

_DIRECTIONS = {"inbound": "ingress", "outbound": "egress"}
_PROTOCOLS = {"*": "all", "any": "all"}


def _ports(value: str) -> tuple[int | None, int | None]:
    value = str(value).strip()
    if value in ("", "*"):
        return None, None
    low, _, high = value.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        return None, None


def _source_type(prefix: str) -> str:
    if prefix.lower() in ("*", "any"):
        return "any"
    try:
        network = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return "service_tag"  # Internet, VirtualNetwork, AzureLoadBalancer, Storage.WestEurope...
    return "cidr_ipv4" if network.version == 4 else "cidr_ipv6"


def normalize_nsg_rules(security_rules: list[dict] | None) -> list[dict]:
    """NSG security rules (ARM JSON) → a flat list like AWS security group rules, one entry per (source,
    destination port range): {name, direction (ingress|egress), access (allow|deny), priority, protocol
    (tcp|udp|icmp|esp|ah|all), from_port, to_port (null = every port), source, source_type (cidr_ipv4 |
    cidr_ipv6 | service_tag | any | application_security_group), destination, description}.

    Unlike AWS egress rules, ``source`` stays the rule's source for both directions (Azure rules name
    both ends); ``destination`` is the destination prefix(es) or application security group id(s).
    Sorted by direction, priority and name, so a reordering in Azure's answer is not a change."""
    rules: list[dict] = []
    for rule in security_rules or []:
        p = props(rule)
        protocol = str(p.get("protocol") or "*").lower()
        protocol = _PROTOCOLS.get(protocol, protocol)
        ranges = [r for r in [p.get("destinationPortRange"), *(p.get("destinationPortRanges") or [])] if r]
        port_ranges = [_ports(r) for r in ranges] or [(None, None)]
        prefixes = [p.get("sourceAddressPrefix"), *(p.get("sourceAddressPrefixes") or [])]
        sources = [(s, _source_type(s)) for s in prefixes if s]
        sources += [(rid(g), "application_security_group") for g in p.get("sourceApplicationSecurityGroups") or []]
        destinations = [
            d for d in [p.get("destinationAddressPrefix"), *(p.get("destinationAddressPrefixes") or [])] if d
        ]
        destinations += [rid(g) for g in p.get("destinationApplicationSecurityGroups") or []]
        priority = p.get("priority")
        for source, source_type in sources or [("*", "any")]:
            for from_port, to_port in port_ranges:
                rules.append(
                    {
                        "name": rule.get("name") or "",
                        "direction": _DIRECTIONS.get(str(p.get("direction") or "").lower(), p.get("direction")),
                        "access": str(p.get("access") or "").lower() or None,
                        "priority": int(priority) if priority is not None else None,
                        "protocol": protocol,
                        "from_port": from_port,
                        "to_port": to_port,
                        "source": source,
                        "source_type": source_type,
                        "destination": ",".join(destinations) or "*",
                        "description": p.get("description") or "",
                    }
                )
    rules.sort(key=lambda r: (r["direction"] or "", r["priority"] if r["priority"] is not None else 1 << 30, r["name"]))
    return rules


@collector("azure", "network.nsg", service="Microsoft.Network", regional=False)
def network_security_groups(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for nsg in ctx.items("network", "network_security_groups.list_all"):
        p = props(nsg)
        yield record(
            nsg,
            {
                "rules": normalize_nsg_rules(p.get("securityRules")),
                "subnet_ids": ids(p.get("subnets")),
                "network_interface_ids": ids(p.get("networkInterfaces")),
                "flow_log_ids": ids(p.get("flowLogs")),
                "provisioning_state": p.get("provisioningState"),
            },
        )


# --- Public IP addresses ---------------------------------------------------------------------------


@collector("azure", "network.public_ip", service="Microsoft.Network", regional=False)
def public_ip_addresses(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for pip in ctx.items("network", "public_ip_addresses.list_all"):
        p = props(pip)
        ip_configuration_id = rid(p.get("ipConfiguration")) or None
        nat_gateway_id = rid(p.get("natGateway")) or None
        holder = parent_id(ip_configuration_id) if ip_configuration_id else ""
        sku = pip.get("sku") if isinstance(pip.get("sku"), dict) else {}
        yield record(
            pip,
            {
                "ip_address": p.get("ipAddress"),
                "sku": sku_name(pip),
                "sku_tier": sku.get("tier"),
                "allocation_method": p.get("publicIPAllocationMethod"),
                "version": p.get("publicIPAddressVersion"),
                "associated": bool(ip_configuration_id or nat_gateway_id),
                "ip_configuration_id": ip_configuration_id,
                "associated_resource_id": holder or nat_gateway_id,
                "nat_gateway_id": nat_gateway_id,
                "fqdn": (p.get("dnsSettings") or {}).get("fqdn"),
                "idle_timeout_minutes": p.get("idleTimeoutInMinutes"),
                "zones": sorted(pip.get("zones") or []),
                "ddos_protection_mode": (p.get("ddosSettings") or {}).get("protectionMode"),
                "provisioning_state": p.get("provisioningState"),
            },
            [Rel("associated_with", holder), Rel("associated_with", nat_gateway_id or "")],
        )


# --- Network interfaces ----------------------------------------------------------------------------


@collector("azure", "network.network_interface", service="Microsoft.Network", regional=False)
def network_interfaces(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for nic in ctx.items("network", "network_interfaces.list_all"):
        p = props(nic)
        configurations = p.get("ipConfigurations") or []
        primary = next(
            (c for c in configurations if props(c).get("primary")), configurations[0] if configurations else {}
        )
        subnet_ids = sorted({rid(props(c).get("subnet")) for c in configurations} - {""})
        public_ip_ids = sorted({rid(props(c).get("publicIPAddress")) for c in configurations} - {""})
        pools = {rid(pool) for c in configurations for pool in props(c).get("loadBalancerBackendAddressPools") or []}
        vm_id = rid(p.get("virtualMachine")) or None
        nsg_id = rid(p.get("networkSecurityGroup")) or None
        config = {
            "private_ip": props(primary).get("privateIPAddress"),
            "private_ips": [
                props(c).get("privateIPAddress") for c in configurations if props(c).get("privateIPAddress")
            ],
            "attached": vm_id is not None,
            "virtual_machine_id": vm_id,
            "nsg_id": nsg_id,
            "public_ip_ids": public_ip_ids,
            "subnet_ids": subnet_ids,
            "load_balancer_backend_pool_ids": sorted(pools - {""}),
            "mac_address": p.get("macAddress"),
            "primary": p.get("primary"),
            "accelerated_networking": bool(p.get("enableAcceleratedNetworking")),
            "ip_forwarding": bool(p.get("enableIPForwarding")),
            "provisioning_state": p.get("provisioningState"),
        }
        rels = [Rel("attached_to", vm_id or ""), Rel("uses_nsg", nsg_id or "")]
        rels += [Rel("in_subnet", subnet_id) for subnet_id in subnet_ids]
        rels += [Rel("uses_public_ip", pip_id) for pip_id in public_ip_ids]
        yield record(nic, config, rels)


# --- Load balancers --------------------------------------------------------------------------------


@collector("azure", "network.load_balancer", service="Microsoft.Network", regional=False)
def load_balancers(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for lb in ctx.items("network", "load_balancers.list_all"):
        p = props(lb)
        frontends = [
            {
                "name": fe.get("name"),
                "private_ip": props(fe).get("privateIPAddress"),
                "public_ip_id": rid(props(fe).get("publicIPAddress")) or None,
                "subnet_id": rid(props(fe).get("subnet")) or None,
            }
            for fe in p.get("frontendIPConfigurations") or []
        ]
        sku = lb.get("sku") if isinstance(lb.get("sku"), dict) else {}
        config = {
            "sku": sku_name(lb),
            "sku_tier": sku.get("tier"),
            "public": any(fe["public_ip_id"] for fe in frontends),
            "frontend_ips": frontends,
            "backend_pool_count": len(p.get("backendAddressPools") or []),
            "rules": [
                {
                    "name": rule.get("name"),
                    "protocol": str(props(rule).get("protocol") or "").lower() or None,
                    "frontend_port": props(rule).get("frontendPort"),
                    "backend_port": props(rule).get("backendPort"),
                }
                for rule in p.get("loadBalancingRules") or []
            ],
            "probe_count": len(p.get("probes") or []),
            "inbound_nat_rule_count": len(p.get("inboundNatRules") or []),
            "provisioning_state": p.get("provisioningState"),
        }
        rels = [Rel("uses_public_ip", fe["public_ip_id"] or "") for fe in frontends]
        rels += [Rel("in_subnet", fe["subnet_id"] or "") for fe in frontends]
        yield record(lb, config, rels)
