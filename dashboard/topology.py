"""The architecture map's data: the topology of a connection, a region or a VPC/VNet as Cytoscape elements.

``build_topology(org, connection=, region=, network=, types=)`` answers with plain dicts ready for
Cytoscape's ``elements`` JSON:

- **Containment** as compound nodes, derived from the relationships the collectors emit (docs/rules.md):
  region → VPC (subnet ``in_vpc``) / VNet (subnet ``in_vnet``) → subnet → workloads. A workload sits in
  the one subnet it is ``in_subnet`` of; a resource spanning subnets (load balancer, RDS subnet group,
  Lambda in several subnets) sits in their VPC, except an RDS instance, which lives in the subnet of its
  availability zone. An Azure VM is placed through its NICs (NIC ``attached_to`` VM, NIC ``in_subnet``),
  an Azure load balancer without a private frontend through its backend NICs, an internet gateway
  through the VPC it is ``attached_to``, an RDS cluster through its member instances (``member_of``).
  Anything else goes into its region's "Regional services" group; global services (IAM, S3,
  CloudFront...) are not on the map.
- **Exposure**: an edge from a synthetic "Internet" node to each internet-exposed resource, labelled
  with the open ports. Exposed means reachable from anywhere: a public address (instance public IP,
  ``publicly_accessible`` database, ``internet-facing`` load balancer, Azure public IP on a NIC) AND a
  security group / NSG (through ``uses_security_group`` / ``uses_nsg``) that allows inbound traffic
  from 0.0.0.0/0, ::/0 or Azure's "any"/"Internet" sources. Where the cloud has no group in the path
  the public listener is the exposure: a network load balancer without security groups, a public
  Azure load balancer (its rules' frontend ports), an Azure SQL server whose firewall admits every
  address, an Azure Basic public IP with no NSG at all (Basic IPs are open by default).
- **Findings**: each node carries its open findings' count and highest severity.
- **Empty networks** (no resource of the shown types in them, no open finding on them or their subnets:
  a default VPC in each of 38 regions) are left out unless ``show_empty``; one "N empty networks" node
  stands for them, so the map opens on the networks that hold workloads and findings.
- **Scale**: more than ``AGGREGATE_OVER`` children of one type in one group become one aggregate node
  ("37 × EC2 instances", with the member ids so the page can expand it; exposed members stay on their
  own); while the map has more than ``TARGET_NODES`` nodes the threshold drops, and past ``limit``
  nodes the map is cut with a "showing X of Y" message. Positions are computed here (nested grids,
  deterministic), so the page renders with Cytoscape's ``preset`` layout in milliseconds whatever the
  size.

- **Overview**: a scope with no region and more resources to map than the page draws one by one
  (``dashboard.map_cache.FIRST_VIEW_MAX``) is ``build_overview``: a group per (connection, region) with one
  aggregate per type, counted in SQL (the inventory's cached group counts, the open findings grouped),
  reading no resource row; clicking an aggregate draws its region.

Queries: a fixed handful whatever the data size (the network's placement if one is asked for, the
resources as ``values()``, their relationships, open findings grouped by resource, the connections'
names, and a count when the load cap cuts the scope). Nothing is queried per node.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.urls import reverse

from connections.models import CloudConnection
from findings.exposure import Range, covers, intersect_ranges
from findings.models import SEVERITY_ORDER, Finding
from inventory.models import GLOBAL_REGION, Relationship, Resource

AGGREGATE_OVER = 40  # more children of one type than this in one group → one aggregate node
THRESHOLDS = (AGGREGATE_OVER, 20, 10, 5, 3)  # tried in turn while the map has more than TARGET_NODES
TARGET_NODES = 500  # what stays readable: crowded groups aggregate further until the map is this small
KEEP_EXPOSED = 10  # exposed members of an aggregated group stay visible on their own, up to this many
DEFAULT_LIMIT = 1500  # nodes (containers, resources, aggregates)
MAX_LOAD = 25_000  # resources read for one map; past this the scope must be narrowed
MAX_EXPAND = 50

INTERNET_ID = "internet"
EMPTY_NETWORKS_ID = "empty-networks"
WORLD_SOURCES = frozenset({"0.0.0.0/0", "::/0"})
# Azure NSG sources that mean "anyone" (compared lowercase): "*", "Any", the Internet service tag.
AZURE_WORLD_SOURCES = frozenset({"*", "any", "internet", "0.0.0.0/0", "::/0"})
AZURE_SQL_PORT = 1433

# --- The types on the map ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MapType:
    rtype: str
    label: str  # plural, for filters and aggregates: "EC2 instances"
    short: str  # the code shown under a node's name: "EC2"
    family: str  # the node's look: compute | database | function | balancer | gateway | security | storage | vault
    default: bool = True  # shown unless the filter says otherwise


MAP_TYPES: dict[str, MapType] = {
    t.rtype: t
    for t in (
        MapType("aws.ec2.instance", "EC2 instances", "EC2", "compute"),
        MapType("aws.rds.db_instance", "RDS instances", "RDS", "database"),
        MapType("aws.rds.db_cluster", "RDS clusters", "RDS cluster", "database"),
        MapType("aws.lambda.function", "Lambda functions", "Lambda", "function"),
        MapType("aws.elbv2.load_balancer", "Load balancers", "ELB", "balancer"),
        MapType("aws.ec2.nat_gateway", "NAT gateways", "NAT", "gateway"),
        MapType("aws.ec2.internet_gateway", "Internet gateways", "IGW", "gateway"),
        MapType("aws.ec2.security_group", "Security groups", "SG", "security", default=False),
        MapType("azure.compute.vm", "Virtual machines", "VM", "compute"),
        MapType("azure.network.load_balancer", "Azure load balancers", "LB", "balancer"),
        MapType("azure.sql.server", "SQL servers", "SQL", "database"),
        MapType("azure.sql.database", "SQL databases", "SQL DB", "database"),
        MapType("azure.storage.account", "Storage accounts", "Storage", "storage"),
        MapType("azure.keyvault.vault", "Key vaults", "Key Vault", "vault"),
        MapType("azure.network.nsg", "Network security groups", "NSG", "security", default=False),
    )
}
TYPE_ORDER = {rtype: i for i, rtype in enumerate(MAP_TYPES)}
DEFAULT_TYPES = frozenset(t for t, info in MAP_TYPES.items() if info.default)

AWS_VPC, AWS_SUBNET = "aws.ec2.vpc", "aws.ec2.subnet"
AZ_VNET, AZ_SUBNET = "azure.network.vnet", "azure.network.subnet"
NETWORK_TYPES = frozenset({AWS_VPC, AZ_VNET})
SUBNET_TYPES = frozenset({AWS_SUBNET, AZ_SUBNET})
CONTAINER_TYPES = NETWORK_TYPES | SUBNET_TYPES
CONTAINER_LABELS = {AWS_VPC: "VPC", AZ_VNET: "VNet", AWS_SUBNET: "Subnet", AZ_SUBNET: "Subnet"}

AWS_ENI, AWS_TG, AWS_SG = "aws.ec2.network_interface", "aws.elbv2.target_group", "aws.ec2.security_group"
AZ_NIC, AZ_PIP, AZ_NSG = "azure.network.network_interface", "azure.network.public_ip", "azure.network.nsg"
# Read to place and judge the map's resources, shown only when they are map types themselves.
HELPER_TYPES = frozenset({AWS_ENI, AWS_TG, AZ_NIC, AZ_PIP})
LOADED_TYPES = sorted(CONTAINER_TYPES | HELPER_TYPES | set(MAP_TYPES))

REL_KINDS = (
    "in_subnet",
    "in_vpc",
    "in_vnet",
    "attached_to",
    "uses_security_group",
    "uses_nsg",
    "uses_public_ip",
    "member_of",
    "forwards_to",
    "targets",
)
# The config keys the map reads (JSON key transforms: only these leave the database).
CONFIG_KEYS = (
    "public_ip",
    "availability_zone",
    "scheme",
    "type",
    "listeners",
    "publicly_accessible",
    "endpoint__port",
    "rules",
    "public",
    "sku",
    "public_network_access",
    "firewall_rules",
    "load_balancer_backend_pool_ids",
    "state",
    "power_state",
)
STOPPED_STATES = frozenset({"stopped", "stopping", "deallocated", "deallocating"})
EXPAND_ID = re.compile(r"^agg:[\w:.\-]{1,200}$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class TopologyError(ValueError):
    """A parameter the map cannot use (unknown type, malformed region...): the message says which."""


@dataclass
class Topology:
    nodes: list[dict] = field(default_factory=list)  # Cytoscape node elements: {"data", "position"?, "classes"}
    edges: list[dict] = field(default_factory=list)  # Cytoscape edge elements: {"data", "classes"}
    total: int = 0  # map resources of the selected types in scope
    shown: int = 0  # of which on the map (alone or inside an aggregate)
    truncated: bool = False
    message: str = ""
    types: list[dict] = field(default_factory=list)  # [{type, label, family, count, shown}] for the filter
    stats: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "elements": {"nodes": self.nodes, "edges": self.edges},
            "total": self.total,
            "shown": self.shown,
            "truncated": self.truncated,
            "message": self.message,
            "types": self.types,
            "stats": self.stats,
        }


def parse_types(values: Iterable[str]) -> frozenset[str] | None:
    """The ``type`` filter's values → a set of map types (None when none is given: the defaults)."""
    chosen = {v.strip() for v in values if v and v.strip()}
    if not chosen:
        return None
    unknown = sorted(chosen - set(MAP_TYPES))
    if unknown:
        raise TopologyError(f"Unknown resource type for the map: {', '.join(unknown[:3])}.")
    return frozenset(chosen)


def valid_region(region: str) -> bool:
    return bool(_REGION.match(region)) and region != GLOBAL_REGION


# --- Loading ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Res:
    id: int
    rtype: str
    name: str
    region: str
    conn: int
    native_id: str
    cfg: dict[str, Any]


def _load(org, connection_id: int | None, region: str | None) -> tuple[dict[int, _Res], Any, bool, Any]:
    """(resources by id, the scope's queryset, cut by MAX_LOAD, the id subquery of what was read)."""
    scope = Resource.objects.for_org(org).filter(resource_type__in=LOADED_TYPES).exclude(region=GLOBAL_REGION)
    if connection_id is not None:
        scope = scope.filter(connection_id=connection_id)
    if region:
        scope = scope.filter(region=region)
    # An AWS network interface matters only with a public address of its own (a secondary ENI's).
    scope = scope.exclude(
        Q(resource_type=AWS_ENI) & (Q(config__public_ip__isnull=True) | Q(config__public_ip=None))
    ).order_by()
    # Containers first, then what places and judges them, then the workloads: a cut keeps the skeleton.
    ranked = scope.annotate(
        _rank=Case(
            When(resource_type__in=CONTAINER_TYPES, then=Value(0)),
            When(resource_type__in=HELPER_TYPES | {AWS_SG, AZ_NSG}, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    ).order_by("_rank", "id")
    fields = ["id", "resource_type", "name", "region", "connection_id", "native_id"]
    rows = list(ranked.values(*fields, *(f"config__{k}" for k in CONFIG_KEYS))[: MAX_LOAD + 1])
    cut = len(rows) > MAX_LOAD
    if cut:
        rows = rows[:MAX_LOAD]
    records = {}
    for row in rows:
        cfg = {k: row[f"config__{k}"] for k in CONFIG_KEYS if row[f"config__{k}"] is not None}
        records[row["id"]] = _Res(
            row["id"],
            row["resource_type"],
            row["name"] or _tail(row["native_id"]),
            row["region"],
            row["connection_id"],
            row["native_id"],
            cfg,
        )
    id_query = ranked.values("id")[:MAX_LOAD] if cut else scope.values("id")
    return records, scope, cut, id_query


def _tail(native_id: str) -> str:
    return re.split(r"[/:]", native_id.rstrip("/"))[-1] or native_id


class _Graph:
    """The relationships among the loaded resources, both ways."""

    def __init__(self, records: dict[int, _Res], rows: Iterable[tuple[int, int, str]]) -> None:
        self.out: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.inc: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for source, target, kind in rows:
            if source in records and target in records:
                self.out[source][kind].append(target)
                self.inc[target][kind].append(source)

    def targets(self, rid: int, kind: str) -> list[int]:
        return self.out[rid][kind] if rid in self.out else []

    def sources(self, rid: int, kind: str) -> list[int]:
        return self.inc[rid][kind] if rid in self.inc else []


# --- Placement --------------------------------------------------------------------------------------


class _Placement:
    def __init__(self, records: dict[int, _Res], graph: _Graph) -> None:
        self.records, self.graph = records, graph
        self.network_of_subnet: dict[int, int] = {}
        for rid, rec in records.items():
            if rec.rtype in SUBNET_TYPES:
                nets = [t for t in graph.targets(rid, "in_vpc") + graph.targets(rid, "in_vnet") if self._is_net(t)]
                if nets:
                    self.network_of_subnet[rid] = nets[0]
        # Azure load balancer id → the NICs in its backend pools (pool ids are "<lb id>/backendaddresspools/<name>").
        self.backend_nics_by_id: dict[str, list[int]] = defaultdict(list)
        for rid, rec in records.items():
            if rec.rtype == AZ_NIC:
                for pool in rec.cfg.get("load_balancer_backend_pool_ids") or []:
                    lb_id = str(pool).lower().split("/backendaddresspools/", 1)[0]
                    if rid not in self.backend_nics_by_id[lb_id]:
                        self.backend_nics_by_id[lb_id].append(rid)
        self.parent: dict[int, int | None] = {}
        # Clusters and NSGs follow what they hold, so they are placed after everything else.
        later = {"aws.rds.db_cluster", AZ_NSG}
        for rid, rec in records.items():
            if rec.rtype in MAP_TYPES and rec.rtype not in later:
                self.parent[rid] = self._place(rid, rec)
        for rid, rec in records.items():
            if rec.rtype in later:
                self.parent[rid] = self._place(rid, rec)

    def _is_net(self, rid: int) -> bool:
        return self.records[rid].rtype in NETWORK_TYPES

    def _is_subnet(self, rid: int) -> bool:
        return self.records[rid].rtype in SUBNET_TYPES

    def network(self, container: int | None) -> int | None:
        if container is None:
            return None
        return container if self._is_net(container) else self.network_of_subnet.get(container)

    def _subnets(self, rid: int) -> list[int]:
        return [s for s in self.graph.targets(rid, "in_subnet") if self._is_subnet(s)]

    def _place(self, rid: int, rec: _Res) -> int | None:
        g = self.graph
        subnets = self._subnets(rid)
        networks = [n for n in g.targets(rid, "in_vpc") + g.targets(rid, "in_vnet") if self._is_net(n)]
        if rec.rtype == "azure.compute.vm":
            for nic in g.sources(rid, "attached_to"):
                if self.records[nic].rtype == AZ_NIC:
                    subnets += self._subnets(nic)
        elif rec.rtype == "azure.network.load_balancer" and not subnets:
            networks += [self.network(s) for nic in self.backend_nics(rec) for s in self._subnets(nic)]
        elif rec.rtype == AWS_SG or rec.rtype == "aws.ec2.internet_gateway":
            networks += [n for n in g.targets(rid, "attached_to") if self._is_net(n)]
        elif rec.rtype == "aws.rds.db_cluster":
            networks += [self.network(self.parent.get(m)) for m in g.sources(rid, "member_of")]
        elif rec.rtype == AZ_NSG:
            for holder in g.sources(rid, "uses_nsg"):
                networks.append(self.network(holder) if self._is_subnet(holder) else None)
                networks += [self.network(s) for s in self._subnets(holder)]
        subnets = list(dict.fromkeys(subnets))
        if len(subnets) == 1:
            return subnets[0]
        if subnets and rec.cfg.get("availability_zone"):  # an RDS instance runs in one zone of its group
            zone = [s for s in subnets if self.records[s].cfg.get("availability_zone") == rec.cfg["availability_zone"]]
            if len(zone) == 1:
                return zone[0]
        networks += [self.network_of_subnet.get(s) for s in subnets]
        found = list(dict.fromkeys(n for n in networks if n is not None))
        return found[0] if len(found) == 1 else None

    def backend_nics(self, lb: _Res) -> list[int]:
        return self.backend_nics_by_id.get(lb.native_id.lower(), [])


# --- Exposure ---------------------------------------------------------------------------------------


# A port range: (protocol, from_port, to_port); protocol "all" and None ports mean every one.
def _sg_open_ranges(rules: Any) -> list[Range]:
    """AWS security group rules (fields.yaml: aws.ec2.security_group.rules) open to the world."""
    return [
        (str(r.get("protocol") or "all"), r.get("from_port"), r.get("to_port"))
        for r in rules or []
        if isinstance(r, dict) and r.get("direction") == "ingress" and r.get("source") in WORLD_SOURCES
    ]


def _nsg_open_ranges(rules: Any) -> list[Range]:
    """Azure NSG rules (fields.yaml: azure.network.nsg.rules) allowing the internet in. A deny rule from
    the internet with a lower priority number covering the whole range takes precedence."""
    inbound = [
        r
        for r in rules or []
        if isinstance(r, dict)
        and r.get("direction") == "ingress"
        and str(r.get("source") or "").lower() in AZURE_WORLD_SOURCES
    ]
    denies = [r for r in inbound if r.get("access") == "deny"]
    found = []
    for rule in inbound:
        if rule.get("access") != "allow":
            continue
        allowed: Range = (str(rule.get("protocol") or "all"), rule.get("from_port"), rule.get("to_port"))
        priority = rule.get("priority") if rule.get("priority") is not None else 1 << 30
        if any(
            (d.get("priority") if d.get("priority") is not None else 1 << 30) < priority
            and covers((str(d.get("protocol") or "all"), d.get("from_port"), d.get("to_port")), allowed)
            for d in denies
        ):
            continue
        found.append(allowed)
    return found


def _on_ports(ranges: list[Range], ports: Iterable[Any], protocol: str = "tcp") -> list[Range]:
    wanted = [(protocol, int(p), int(p)) for p in ports if isinstance(p, int) or str(p).isdigit()]
    return intersect_ranges(ranges, wanted)


def format_ports(ranges: list[Range]) -> str:
    """[(tcp, 22, 22), (tcp, 443, 443), (udp, 53, 53)] → "22, 443, 53/udp"; every port of every protocol
    → "all ports"; every port of one protocol → "all tcp"; ICMP → "icmp"."""
    if any(protocol == "all" and low is None for protocol, low, _ in ranges):
        return "all ports"
    parts: list[str] = []
    for protocol, low, high in sorted(set(ranges), key=lambda r: (r[1] is not None, r[1] or 0, r[2] or 0, r[0])):
        if protocol.startswith("icmp"):
            text = protocol
        elif low is None:
            text = f"all {protocol}"
        else:
            text = str(low) if high in (None, low) else f"{low}-{high}"
            if protocol not in ("tcp", "all"):
                text += f"/{protocol}"
        if text not in parts:
            parts.append(text)
    return ", ".join(parts[:6]) + (f" +{len(parts) - 6}" if len(parts) > 6 else "")


class _Exposure:
    def __init__(self, records: dict[int, _Res], graph: _Graph, placement: _Placement) -> None:
        self.records, self.graph, self.placement = records, graph, placement
        self.open: dict[int, list[Range]] = {}
        for rid, rec in records.items():
            if rec.rtype == AWS_SG:
                self.open[rid] = _sg_open_ranges(rec.cfg.get("rules"))
            elif rec.rtype == AZ_NSG:
                self.open[rid] = _nsg_open_ranges(rec.cfg.get("rules"))
        self.ports: dict[int, list[Range]] = {}
        for rid, rec in records.items():
            if rec.rtype in MAP_TYPES:
                ranges = self._exposed(rid, rec)
                if ranges:
                    self.ports[rid] = ranges

    def _sg_ranges(self, rid: int) -> tuple[bool, list[Range]]:
        groups = [g for g in self.graph.targets(rid, "uses_security_group") if g in self.open]
        return bool(groups), [r for g in groups for r in self.open[g]]

    def _exposed(self, rid: int, rec: _Res) -> list[Range]:
        cfg, g = rec.cfg, self.graph
        if rec.rtype == "aws.ec2.instance":
            public = bool(cfg.get("public_ip")) or any(
                self.records[e].rtype == AWS_ENI and self.records[e].cfg.get("public_ip")
                for e in g.sources(rid, "attached_to")
            )
            return self._sg_ranges(rid)[1] if public else []
        if rec.rtype in ("aws.rds.db_instance", "aws.rds.db_cluster"):
            if not cfg.get("publicly_accessible"):
                return []
            ranges = self._sg_ranges(rid)[1]
            port = cfg.get("endpoint__port")
            return _on_ports(ranges, [port]) if port else ranges
        if rec.rtype == "aws.elbv2.load_balancer":
            if cfg.get("scheme") != "internet-facing":
                return []
            listeners = [lst.get("port") for lst in cfg.get("listeners") or [] if isinstance(lst, dict)]
            has_groups, ranges = self._sg_ranges(rid)
            if not has_groups:  # a network load balancer without security groups lets everything in
                return [("tcp", int(p), int(p)) for p in listeners if p] if cfg.get("type") != "application" else []
            return _on_ports(ranges, listeners) if listeners else ranges
        if rec.rtype == "azure.compute.vm":
            return self._azure_vm(rid)
        if rec.rtype == "azure.network.load_balancer":
            if not cfg.get("public"):
                return []
            return [
                (str(r.get("protocol") or "tcp"), int(r["frontend_port"]), int(r["frontend_port"]))
                for r in cfg.get("rules") or []
                if isinstance(r, dict) and isinstance(r.get("frontend_port"), int) and r["frontend_port"] > 0
            ]
        if rec.rtype == "azure.sql.server":
            if str(cfg.get("public_network_access") or "Enabled").lower() == "disabled":
                return []
            everyone = any(
                r.get("start_ip") == "0.0.0.0" and r.get("end_ip") == "255.255.255.255"  # noqa: S104
                for r in cfg.get("firewall_rules") or []
                if isinstance(r, dict)
            )
            return [("tcp", AZURE_SQL_PORT, AZURE_SQL_PORT)] if everyone else []
        return []

    def _azure_vm(self, rid: int) -> list[Range]:
        """A VM is reachable through each NIC with a public IP; traffic passes the NIC's NSG and its
        subnet's NSG, both when both exist."""
        g, found = self.graph, []
        for nic in g.sources(rid, "attached_to"):
            if self.records[nic].rtype != AZ_NIC:
                continue
            ips = [p for p in g.targets(nic, "uses_public_ip") if self.records[p].rtype == AZ_PIP]
            if not ips:
                continue
            layers = [g.targets(nic, "uses_nsg")] + [g.targets(s, "uses_nsg") for s in g.targets(nic, "in_subnet")]
            layers = [[n for n in layer if n in self.open] for layer in layers]
            layers = [layer for layer in layers if layer]
            if not layers:
                basic = any(str(self.records[p].cfg.get("sku") or "").lower() == "basic" for p in ips)
                if basic:
                    found.append(("all", None, None))
                continue
            allowed = [r for n in layers[0] for r in self.open[n]]
            for layer in layers[1:]:
                allowed = intersect_ranges(allowed, [r for n in layer for r in self.open[n]])
            found += allowed
        return found


# --- Layout -----------------------------------------------------------------------------------------

CELL_W, CELL_H = 150, 112  # one leaf: its shape and two lines of label
PAD = 26  # inside a group, around its content
HEADER = 34  # a group's title, above its box
GAP = 44  # between groups


def _layout(children: dict[str, list[str]], roots: list[str]) -> dict[str, tuple[float, float]]:
    """Leaf positions for nested groups: a group lays its leaves out in a grid and its sub-groups
    (plus that grid) in shelves of about square proportions. Deterministic and linear in size."""
    sizes: dict[str, tuple[float, float]] = {}
    offsets: dict[str, list[tuple[str, float, float]]] = {}  # group → [(child or "#grid", dx, dy)]
    grids: dict[str, tuple[int, list[str]]] = {}

    def measure(nid: str) -> tuple[float, float]:
        kids = children.get(nid, [])
        leaves = [k for k in kids if not children.get(k)]
        groups = [k for k in kids if children.get(k)]
        boxes: list[tuple[str, float, float]] = []
        if leaves:
            cols = max(1, math.ceil(math.sqrt(len(leaves) * 1.6)))
            rows = math.ceil(len(leaves) / cols)
            grids[nid] = (cols, leaves)
            boxes.append(("#grid", cols * CELL_W, rows * CELL_H))
        for k in groups:
            w, h = measure(k)
            boxes.append((k, w, h))
        placed, width, height = _shelves(boxes)
        offsets[nid] = placed
        sizes[nid] = (width + 2 * PAD, height + 2 * PAD + HEADER)
        return sizes[nid]

    positions: dict[str, tuple[float, float]] = {}

    def place(nid: str, x: float, y: float) -> None:  # (x, y): the group's top-left corner
        for child, dx, dy in offsets[nid]:
            cx, cy = x + PAD + dx, y + HEADER + PAD + dy
            if child == "#grid":
                cols, leaves = grids[nid]
                for i, leaf in enumerate(leaves):
                    positions[leaf] = (cx + (i % cols + 0.5) * CELL_W, cy + (i // cols + 0.5) * CELL_H)
            else:
                place(child, cx, cy)

    boxes = []
    for root in roots:
        if children.get(root):
            boxes.append((root, *measure(root)))
        else:
            boxes.append((root, CELL_W, CELL_H))
    placed, _, _ = _shelves(boxes)
    for root, dx, dy in placed:
        if children.get(root):
            place(root, dx, dy)
        else:
            positions[root] = (dx + CELL_W / 2, dy + CELL_H / 2)
    return positions


def _shelves(boxes: list[tuple[str, float, float]]) -> tuple[list[tuple[str, float, float]], float, float]:
    """Boxes left to right in rows, about twice as wide as the whole is tall (the canvas is landscape)."""
    if not boxes:
        return [], CELL_W, CELL_H / 2
    area = sum(w * h for _, w, h in boxes)
    target = max(max(w for _, w, _ in boxes), math.sqrt(area) * 1.9)
    placed, x, y, row_h, width = [], 0.0, 0.0, 0.0, 0.0
    for name, w, h in boxes:
        if x > 0 and x + w > target:
            x, y, row_h = 0.0, y + row_h + GAP, 0.0
        placed.append((name, x, y))
        x += w + GAP
        row_h = max(row_h, h)
        width = max(width, x - GAP)
    return placed, width, y + row_h


# --- Building ---------------------------------------------------------------------------------------


def _severity_max(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if SEVERITY_ORDER.get(a, 99) <= SEVERITY_ORDER.get(b, 99) else b


def _resource_url_template(org) -> str:
    """The resource page's URL with ``{id}`` for the id: reversed once, not per node."""
    url = reverse("dashboard:resource", kwargs={"org_slug": org.slug, "resource_id": 987654321})
    return url.replace("987654321", "{id}")


def build_topology(
    org,
    *,
    connection: CloudConnection | int | None = None,
    region: str | None = None,
    network: int | None = None,
    types: Iterable[str] | None = None,
    expand: Iterable[str] = (),
    limit: int = DEFAULT_LIMIT,
    show_empty: bool = True,
) -> Topology:
    """The map of ``org``'s resources, narrowed to a connection, a region and/or one VPC/VNet (a
    resource id), showing ``types`` (default: ``DEFAULT_TYPES``). ``expand``: aggregate node ids to
    show member by member. Raises TopologyError for a parameter it cannot use."""
    shown_types = DEFAULT_TYPES if types is None else parse_types(types) or DEFAULT_TYPES
    if region is not None and region != "" and not valid_region(region):
        raise TopologyError("Unknown region.")
    expand = {e for e in expand if EXPAND_ID.match(e)}
    if len(expand) > MAX_EXPAND:
        raise TopologyError(f"At most {MAX_EXPAND} groups can be expanded at once.")
    connection_id = getattr(connection, "pk", connection)
    if network is not None:
        found = (
            Resource.objects.for_org(org)
            .filter(pk=network, resource_type__in=NETWORK_TYPES)
            .values("connection_id", "region")
            .first()
        )
        if found is None:
            raise TopologyError("No such VPC or VNet.")
        if connection_id is not None and found["connection_id"] != connection_id:
            raise TopologyError("That VPC or VNet belongs to another connection.")
        if region and found["region"] != region:
            raise TopologyError("That VPC or VNet is in another region.")
        connection_id, region = found["connection_id"], found["region"]

    records, scope, cut, id_query = _load(org, connection_id, region or None)
    total_cut = scope.filter(resource_type__in=sorted(shown_types)).count() if cut else None
    graph = _Graph(
        records,
        Relationship.objects.for_org(org)
        .filter(kind__in=REL_KINDS, source_id__in=id_query)
        .values_list("source_id", "target_id", "kind"),
    )
    placement = _Placement(records, graph)
    exposure = _Exposure(records, graph, placement)
    findings: dict[int, tuple[int, str | None]] = {}
    for row in (
        Finding.objects.for_org(org)
        .filter(status=Finding.Status.OPEN, resource_id__in=id_query)
        .values("resource_id", "severity")
        .annotate(n=Count("id"))
        .order_by()
    ):
        count, severity = findings.get(row["resource_id"], (0, None))
        findings[row["resource_id"]] = (count + row["n"], _severity_max(severity, row["severity"]))
    names = _connection_names(org, {r.conn for r in records.values()}) if connection_id is None else {}
    return _Builder(org, records, graph, placement, exposure, findings, names).build(
        shown_types=shown_types,
        network=network,
        expand=expand,
        limit=max(1, limit),
        total_cut=total_cut,
        show_empty=show_empty or network is not None,
    )


# --- Overview: a large scope without a region --------------------------------------------------------


def build_overview(
    org,
    counts: Iterable[tuple[int, str, str, str, int]],
    *,
    connection: CloudConnection | int | None = None,
    types: Iterable[str] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Topology:
    """The map of a scope too large to draw resource by resource (a large organization or connection
    with no region chosen): each (connection, region) a group holding one aggregate per shown type, with
    its open findings' count and highest severity. Built from ``counts`` (``inventory.stats.grouped_counts``
    rows, cached until the inventory changes) and one GROUP BY of the open findings: no resource row,
    relationship or configuration is read, so its cost does not grow with the inventory. Networks,
    exposure and relationships are drawn once a region is chosen (clicking an aggregate does that)."""
    shown_types = DEFAULT_TYPES if types is None else parse_types(types) or DEFAULT_TYPES
    connection_id = getattr(connection, "pk", connection)
    per_group, type_counts = _overview_counts(counts, connection_id, shown_types)
    findings = _overview_findings(org, connection_id, shown_types)
    names = _connection_names(org, {c for c, _r, _t in per_group})
    regions = sorted({(c, r) for c, r, _t in per_group}, key=lambda cr: (names.get(cr[0], ""), cr[0], cr[1]))
    several = len({c for c, _r in regions}) > 1
    children: dict[str, list[str]] = defaultdict(list)
    kept_regions, leaves, shown = [], [], 0
    for conn_id, region in regions:
        gid = f"region:{conn_id}:{region}"
        kinds = sorted((t for c, r, t in per_group if (c, r) == (conn_id, region)), key=TYPE_ORDER.__getitem__)
        if len(kept_regions) + len(leaves) + 1 + len(kinds) > limit:
            break
        kept_regions.append((gid, conn_id, region))
        for rtype in kinds:
            agg_id = f"agg:{gid}:{rtype}"
            children[gid].append(agg_id)
            leaves.append((agg_id, gid, conn_id, region, rtype))
            shown += per_group[(conn_id, region, rtype)]
    positions = _layout(children, [gid for gid, _c, _r in kept_regions])
    total = sum(per_group.values())
    topology = Topology(total=total, shown=shown, truncated=shown < total)
    for gid, conn_id, region in kept_regions:
        label = region + (f" · {names.get(conn_id, '')}" if several else "")
        data = {"id": gid, "label": label, "kind": "region", "region": region}
        topology.nodes.append({"data": data, "classes": "region"})
    for agg_id, gid, conn_id, region, rtype in leaves:
        topology.nodes.append(
            _overview_aggregate(agg_id, gid, region, rtype, per_group[(conn_id, region, rtype)], positions)
        )
        # Clicking it opens the map of its connection and region (the page's selectors follow the URL).
        topology.nodes[-1]["data"]["scope"] = {"connection": str(conn_id), "region": region}
        count, severity = findings.get((conn_id, region, rtype), (0, None))
        if count:
            data = topology.nodes[-1]["data"]
            data["findings"], data["severity"] = count, severity
            topology.nodes[-1]["classes"] += f" sev-{severity}"
    topology.types = _Builder._types_legend(type_counts, shown_types)
    distinct = len({r for _c, r in regions})
    where = f"{distinct} region{'s' if distinct != 1 else ''}"
    topology.message = (
        f"Overview of {total:,} resources in {where}: click a group or choose a region to see its networks, "
        "exposure and relationships."
        if not topology.truncated
        else f"Showing {shown:,} of {total:,} resources: narrow the map by connection, region or VPC/VNet."
    )
    topology.stats = {
        "resources": total,
        "shown": shown,
        "exposed": 0,
        "nodes_before_aggregation": len(kept_regions) + shown,
        "nodes": len(topology.nodes),
        "elements": len(topology.nodes),
        "edges": 0,
        "aggregates": len(leaves),
        "aggregate_over": 0,
        "hidden_networks": 0,
        "overview": True,
    }
    return topology


def _overview_counts(counts, connection_id: int | None, shown_types) -> tuple[dict[tuple[int, str, str], int], dict]:
    """((connection, region, type) → resources of the shown types; type → resources of every map type)."""
    per_group: dict[tuple[int, str, str], int] = defaultdict(int)
    type_counts: dict[str, int] = defaultdict(int)
    for conn_id, _provider, rtype, region, n in counts:
        if rtype not in MAP_TYPES or region == GLOBAL_REGION or connection_id not in (None, conn_id):
            continue
        type_counts[rtype] += n
        if rtype in shown_types:
            per_group[(conn_id, region, rtype)] += n
    return per_group, type_counts


def _overview_findings(org, connection_id: int | None, shown_types) -> dict[tuple[int, str, str], tuple[int, str]]:
    """(connection, region, type) → (open findings on its resources, the highest severity): one GROUP BY."""
    query = Finding.objects.for_org(org).filter(
        status=Finding.Status.OPEN, resource_id__isnull=False, resource_type__in=sorted(shown_types)
    )
    if connection_id is not None:
        query = query.filter(connection_id=connection_id)
    found: dict[tuple[int, str, str], tuple[int, str]] = {}
    rows = query.values_list("connection_id", "region", "resource_type", "severity").annotate(n=Count("id")).order_by()
    for conn_id, region, rtype, severity, n in rows:
        count, worst = found.get((conn_id, region, rtype), (0, None))
        found[(conn_id, region, rtype)] = (count + n, _severity_max(worst, severity))
    return found


def _overview_aggregate(agg_id: str, parent: str, region: str, rtype: str, count: int, positions) -> dict:
    """One type's resources in one region. No member names (none are read): the page's search says so."""
    info = MAP_TYPES[rtype]
    data = {
        "id": agg_id,
        "label": f"{count:,} × {info.label}",
        "kind": "aggregate",
        "rtype": rtype,
        "family": info.family,
        "parent": parent,
        "region": region,
        "count": count,
        "names": [],
        "names_total": count,
    }
    node = {"data": data, "classes": f"aggregate {info.family}"}
    if agg_id in positions:
        node["position"] = _xy(positions[agg_id])
    return node


def _connection_names(org, ids: set[int]) -> dict[int, str]:
    """Connection id → name, for the region groups' labels when the map shows several connections (a map
    of one connection never needs them)."""
    if not ids:
        return {}
    return dict(CloudConnection.objects.for_org(org).filter(pk__in=ids).values_list("id", "name"))


def overview_region(expand_id: str) -> tuple[int, str] | None:
    """(connection id, region) of an overview aggregate's id ("agg:region:<connection>:<region>:<type>")."""
    parts = expand_id.split(":")
    if len(parts) == 5 and parts[1] == "region" and parts[2].isdigit() and valid_region(parts[3]):
        return int(parts[2]), parts[3]
    return None


class _Builder:
    def __init__(self, org, records, graph, placement, exposure, findings, names) -> None:
        self.org = org
        self.records: dict[int, _Res] = records
        self.graph: _Graph = graph
        self.placement: _Placement = placement
        self.exposure: _Exposure = exposure
        self.findings: dict[int, tuple[int, str | None]] = findings
        self.names: dict[int, str] = names
        self.url = _resource_url_template(org)

    # Node ids: "r<id>" for a resource, "region:<conn>:<region>", "svc:<conn>:<region>" (regional services),
    # "agg:<parent>:<type>" for an aggregate, "internet".
    @staticmethod
    def rnode(rid: int) -> str:
        return f"r{rid}"

    def build(self, *, shown_types, network, expand, limit, total_cut, show_empty=True) -> Topology:
        """The map of what is in scope: nodes, edges, the types legend and the stats."""
        containers, workloads = self._scope(network, shown_types)
        hidden_networks = 0
        if not show_empty:
            containers, hidden_networks = self._without_empty_networks(containers, workloads)
        total = total_cut if total_cut is not None else len(workloads)
        groups: dict[str, dict] = {}  # region / services nodes, created as they are needed
        parent_node = self._container_parents(containers, groups)
        by_group = self._group_workloads(workloads, groups)

        threshold, display = self._aggregate(by_group, containers, groups, expand, limit)
        nodes_before = len(containers) + len(groups) + len(workloads)
        display, shown, truncated = self._truncate(display, parent_node, groups, containers, limit)
        truncated = truncated or total_cut is not None
        children, roots = self._layout_tree(display, containers, parent_node, groups)
        if hidden_networks:
            roots.insert(0, EMPTY_NETWORKS_ID)  # first: where the eye starts, so nothing seems lost
        positions = _layout(children, roots)

        topology = Topology(total=total, shown=shown, truncated=truncated)
        self._emit(topology, display, groups, parent_node, positions, children)
        if hidden_networks:
            topology.nodes.append(self._empty_networks_node(hidden_networks, positions))
        topology.types = self._types_legend(self._type_counts(network), shown_types)
        if truncated:
            topology.message = (
                f"Showing {shown:,} of {total:,} resources: narrow the map by connection, region or VPC/VNet."
            )
        exposed = sum(1 for rid in workloads if rid in self.exposure.ports)
        topology.stats = self._stats(topology, exposed, nodes_before, threshold)
        topology.stats["hidden_networks"] = hidden_networks
        return topology

    def _without_empty_networks(self, containers: list[int], workloads: list[int]) -> tuple[list[int], int]:
        """The containers less the empty networks (and their subnets), and how many networks that is. A
        network is empty when no shown resource is placed in it and no open finding is on it or a subnet."""
        placement = self.placement
        occupied = {placement.network(placement.parent.get(rid)) for rid in workloads}
        occupied |= {placement.network(c) for c in containers if c in self.findings}
        empty = {c for c in containers if self.records[c].rtype in NETWORK_TYPES and c not in occupied}
        if not empty:
            return containers, 0
        return [c for c in containers if placement.network(c) not in empty], len(empty)

    @staticmethod
    def _empty_networks_node(count: int, positions) -> dict:
        """One node for the networks left out; the page shows them on demand."""
        node = {
            "data": {
                "id": EMPTY_NETWORKS_ID,
                "label": f"{count} empty network{'s' if count != 1 else ''}",
                "kind": "empty_networks",
                "count": count,
            },
            "classes": "empty-networks",
        }
        if EMPTY_NETWORKS_ID in positions:
            node["position"] = _xy(positions[EMPTY_NETWORKS_ID])
        return node

    def _in_network(self, rid: int | None, network: int | None) -> bool:
        """Whether ``rid`` is in scope: in the network asked for, or anywhere when none is."""
        return network is None or (rid is not None and self.placement.network(rid) == network)

    def _scope(self, network: int | None, shown_types) -> tuple[list[int], list[int]]:
        """(the containers in scope, the resources of the shown types placed in scope)."""
        records, placement = self.records, self.placement
        containers = [
            rid for rid, rec in records.items() if rec.rtype in CONTAINER_TYPES and self._in_network(rid, network)
        ]
        workloads = [
            rid
            for rid, rec in records.items()
            if rec.rtype in shown_types and self._in_network(placement.parent.get(rid), network)
        ]
        return containers, workloads

    def _type_counts(self, network: int | None) -> dict[str, int]:
        """Map resources in scope per type, whatever the type filter (for the legend)."""
        counts: dict[str, int] = defaultdict(int)
        for rid, rec in self.records.items():
            if rec.rtype in MAP_TYPES and self._in_network(self.placement.parent.get(rid), network):
                counts[rec.rtype] += 1
        return counts

    def _container_parents(self, containers: list[int], groups: dict[str, dict]) -> dict[str, str]:
        """Node id → parent node id for the containers: a subnet in its network, a network in its region."""
        parent_node: dict[str, str] = {}
        for rid in containers:
            rec = self.records[rid]
            net = self.placement.network_of_subnet.get(rid) if rec.rtype in SUBNET_TYPES else None
            parent_node[self.rnode(rid)] = self.rnode(net) if net is not None else self._region(groups, rec)
        return parent_node

    def _group_workloads(self, workloads: list[int], groups: dict[str, dict]) -> dict[tuple[str, str], list[int]]:
        """(parent node, type) → its resources by name: in their container, else in regional services."""
        records = self.records
        by_group: dict[tuple[str, str], list[int]] = defaultdict(list)
        for rid in workloads:
            rec = records[rid]
            container = self.placement.parent.get(rid)
            parent = self.rnode(container) if container is not None else self._services(groups, rec)
            by_group[(parent, rec.rtype)].append(rid)
        for members in by_group.values():
            members.sort(key=lambda r: (records[r].name.lower(), r))
        return by_group

    def _layout_tree(self, display, containers, parent_node, groups) -> tuple[dict[str, list[str]], list[str]]:
        """(every displayed node under its parent, in display order; the top-level groups)."""
        records = self.records
        children: dict[str, list[str]] = defaultdict(list)
        shown_containers = [rid for rid in containers if self.rnode(rid) in display["containers"]]
        for rid in sorted(shown_containers, key=lambda r: (records[r].rtype in SUBNET_TYPES, records[r].name, r)):
            children[parent_node[self.rnode(rid)]].append(self.rnode(rid))
        for item in display["leaves"]:
            children[item["parent"]].append(item["id"])
        for gid, group in sorted(groups.items(), key=lambda kv: kv[1]["sort"]):
            if gid in display["groups"] and group.get("parent"):
                children[group["parent"]].append(gid)
        self._order(children, display, parent_node, groups)
        roots = sorted((g for g in display["groups"] if not groups[g].get("parent")), key=lambda g: groups[g]["sort"])
        return children, roots

    @staticmethod
    def _types_legend(counts: dict[str, int], shown_types) -> list[dict]:
        """The type filter's entries: the types present in scope or asked for."""
        return [
            {
                "type": rtype,
                "label": info.label,
                "family": info.family,
                "count": counts.get(rtype, 0),
                "shown": rtype in shown_types,
            }
            for rtype, info in MAP_TYPES.items()
            if counts.get(rtype) or rtype in shown_types
        ]

    @staticmethod
    def _stats(topology: Topology, exposed: int, nodes_before: int, threshold: int) -> dict[str, Any]:
        """The map's figures (for the page's footer and the benchmark)."""
        return {
            "resources": topology.total,
            "shown": topology.shown,
            "exposed": exposed,
            "nodes_before_aggregation": nodes_before,
            "nodes": sum(1 for n in topology.nodes if n["data"]["kind"] not in ("badge", "internet")),
            "elements": len(topology.nodes) + len(topology.edges),
            "edges": len(topology.edges),
            "aggregates": sum(1 for n in topology.nodes if n["data"]["kind"] == "aggregate"),
            "aggregate_over": threshold,
        }

    def _order(self, children: dict[str, list[str]], display, parent_node, groups) -> None:
        """Exposed resources and the groups holding them first (top left, under the Internet node, so
        exposure edges stay short), then by kind, type and name; empty subnets last."""
        exposed = {item["id"] for item in display["leaves"] if any(m in self.exposure.ports for m in item["members"])}
        hot: set[str] = set()
        for item in display["leaves"]:
            if item["id"] in exposed:
                nid: str | None = item["parent"]
                while nid and nid not in hot:
                    hot.add(nid)
                    nid = parent_node.get(nid) or (groups[nid]["parent"] if nid in groups else None)

        def key(nid: str) -> tuple:
            if nid in groups:  # regional services, after the networks
                return (0, 1, 3, 0, "", nid)
            if nid.startswith("agg:"):
                rtype, name = nid.rsplit(":", 1)[1], ""
            else:
                rec = self.records[int(nid[1:])]
                rtype, name = rec.rtype, rec.name.lower()
            kind = 0 if rtype in NETWORK_TYPES else 1 if rtype in SUBNET_TYPES else 2
            empty = kind < 2 and nid not in children
            return (empty, nid not in hot and nid not in exposed, kind, TYPE_ORDER.get(rtype, 99), name, nid)

        for kids in children.values():
            kids.sort(key=key)

    def _region(self, groups: dict[str, dict], rec: _Res) -> str:
        gid = f"region:{rec.conn}:{rec.region}"
        if gid not in groups:
            groups[gid] = {
                "kind": "region",
                "region": rec.region,
                "conn": rec.conn,
                "parent": None,
                "sort": (self.names.get(rec.conn, ""), rec.conn, rec.region),
            }
        return gid

    def _services(self, groups: dict[str, dict], rec: _Res) -> str:
        gid = f"svc:{rec.conn}:{rec.region}"
        if gid not in groups:
            groups[gid] = {
                "kind": "services",
                "region": rec.region,
                "conn": rec.conn,
                "parent": self._region(groups, rec),
                "sort": ("~", rec.conn, rec.region),  # after the networks in the region
            }
        return gid

    def _aggregate(self, by_group, containers, groups, expand, limit) -> tuple[int, dict]:
        """Collapse crowded (group, type) sets into aggregates, lowering the bar while the map has more
        than TARGET_NODES (or ``limit``) nodes."""
        goal = min(limit, TARGET_NODES)
        fixed = len(containers) + len(groups)
        chosen = THRESHOLDS[-1]
        for threshold in THRESHOLDS:
            count = fixed
            for (parent, rtype), members in by_group.items():
                if f"agg:{parent}:{rtype}" in expand:
                    continue  # what the visitor opened does not make the rest collapse further
                if len(members) > threshold:
                    exposed = sum(1 for m in members if m in self.exposure.ports)
                    count += 1 + min(exposed, KEEP_EXPOSED)
                else:
                    count += len(members)
            if count <= goal:
                chosen = threshold
                break
        leaves: list[dict] = []
        for (parent, rtype), members in sorted(
            by_group.items(), key=lambda kv: (kv[0][0], TYPE_ORDER.get(kv[0][1], 99))
        ):
            agg_id = f"agg:{parent}:{rtype}"
            if len(members) <= chosen or agg_id in expand:
                leaves += [{"id": self.rnode(m), "parent": parent, "members": [m]} for m in members]
                continue
            alone = set([m for m in members if m in self.exposure.ports][:KEEP_EXPOSED])
            rest = [m for m in members if m not in alone]
            if len(rest) < 2:  # an aggregate of one is no aggregate
                alone, rest = set(members), []
            leaves += [{"id": self.rnode(m), "parent": parent, "members": [m]} for m in members if m in alone]
            if rest:
                leaves.append({"id": agg_id, "parent": parent, "members": rest, "rtype": rtype})
        return chosen, {"leaves": leaves, "containers": {self.rnode(c) for c in containers}, "groups": set(groups)}

    def _truncate(self, display, parent_node, groups, containers, limit) -> tuple[dict, int, bool]:
        """Keep at most ``limit`` nodes: leaves in order with the groups above them, then empty groups."""

        def ancestors(nid: str) -> list[str]:
            chain = []
            while nid:
                chain.append(nid)
                nid = parent_node.get(nid) or (groups[nid]["parent"] if nid in groups else None)
            return chain

        kept: set[str] = set()
        leaves = []
        shown = 0
        total_nodes = len(display["leaves"]) + len(display["containers"]) + len(display["groups"])
        if total_nodes <= limit:
            return display, sum(len(item["members"]) for item in display["leaves"]), False
        for item in display["leaves"]:
            new = [n for n in ancestors(item["parent"]) if n not in kept]
            if len(kept) + len(leaves) + len(new) + 1 > limit:
                break
            kept.update(new)
            leaves.append(item)
            shown += len(item["members"])
        for rid in containers:  # empty subnets and networks while room is left
            chain = [n for n in ancestors(self.rnode(rid)) if n not in kept]
            if len(kept) + len(leaves) + len(chain) <= limit:
                kept.update(chain)
        return (
            {
                "leaves": leaves,
                "containers": display["containers"] & kept,
                "groups": display["groups"] & kept,
            },
            shown,
            True,
        )

    def _emit(self, topology: Topology, display, groups, parent_node, positions, children) -> None:
        """The Cytoscape elements of what is displayed: groups, containers, leaves, edges, the Internet."""
        nodes, edges = topology.nodes, topology.edges
        several = len({g["conn"] for g in groups.values()}) > 1
        for gid in sorted(display["groups"], key=lambda g: groups[g]["sort"]):
            nodes.append(self._group_node(gid, groups[gid], several))
        for nid in sorted(display["containers"], key=lambda n: int(n[1:])):
            nodes.append(self._container_node(nid, parent_node[nid], positions, empty=nid not in children))
        for item in display["leaves"]:
            self._emit_leaf(topology, item, positions)
        display_of = {m: item["id"] for item in display["leaves"] for m in item["members"]}
        self._relation_edges(edges, display_of)
        if any(e["classes"] == "exposure" for e in edges):
            nodes.append(self._internet_node(positions))

    def _group_node(self, gid: str, group: dict, several: bool) -> dict:
        """A region (named with its connection when the map has several) or its regional services."""
        if group["kind"] == "region":
            label = group["region"] + (f" · {self.names.get(group['conn'], '')}" if several else "")
        else:
            label = "Regional services"
        data = {"id": gid, "label": label, "kind": group["kind"], "region": group["region"]}
        if group["parent"]:
            data["parent"] = group["parent"]
        return {"data": data, "classes": group["kind"]}

    def _container_node(self, nid: str, parent: str, positions, *, empty: bool) -> dict:
        """A VPC/VNet or a subnet."""
        rec = self.records[int(nid[1:])]
        kind = "network" if rec.rtype in NETWORK_TYPES else "subnet"
        data = {
            "id": nid,
            "label": f"{CONTAINER_LABELS[rec.rtype]} {rec.name}",
            "name": rec.name,
            "kind": kind,
            "rtype": rec.rtype,
            "resource_id": rec.id,
            "url": self.url.format(id=rec.id),
            "parent": parent,
            "region": rec.region,
        }
        self._findings(data, [rec.id])
        return self._node(data, [kind, "empty"] if empty else [kind], positions)

    def _emit_leaf(self, topology: Topology, item: dict, positions) -> None:
        """One leaf (aggregate or resource) with its exposure edge and its findings badge."""
        nid, members = item["id"], item["members"]
        data, ports = self._aggregate_data(item) if nid.startswith("agg:") else self._resource_data(item)
        self._findings(data, members)
        classes = [data["kind"], data["family"]]
        if ports:
            data["exposed"] = True
            data["ports"] = format_ports(ports)
            classes.append("exposed")
            topology.edges.append(self._exposure_edge(nid, data["ports"]))
        if data.get("open_ports"):
            classes.append("open")
        if data.get("state") in STOPPED_STATES:
            classes.append("stopped")
        topology.nodes.append(self._node(data, classes, positions))
        if data.get("findings") and nid in positions:
            topology.nodes.append(self._badge(item, data, positions[nid]))

    def _aggregate_data(self, item: dict) -> tuple[dict, list[Range]]:
        """An aggregate's node data and its exposed members' port ranges."""
        members, ports_of = item["members"], self.exposure.ports
        info = MAP_TYPES[item["rtype"]]
        data = {
            "id": item["id"],
            "label": f"{len(members)} × {info.label}",
            "kind": "aggregate",
            "rtype": item["rtype"],
            "family": info.family,
            "parent": item["parent"],
            "count": len(members),
            "members": members,
            "names": [self.records[m].name for m in members],  # the page's search finds a member inside
        }
        exposed_count = sum(1 for m in members if m in ports_of)
        if exposed_count:
            data["exposed_count"] = exposed_count
        return data, [r for m in members for r in ports_of.get(m, [])]

    def _resource_data(self, item: dict) -> tuple[dict, list[Range]]:
        """A resource's node data and its exposed port ranges."""
        rec = self.records[item["members"][0]]
        info = MAP_TYPES[rec.rtype]
        short = info.short
        if rec.rtype == "aws.elbv2.load_balancer" and rec.cfg.get("type"):
            short = {"application": "ALB", "network": "NLB", "gateway": "GWLB"}.get(rec.cfg["type"], short)
        data = {
            "id": item["id"],
            "label": f"{rec.name}\n{short}",
            "name": rec.name,
            "kind": "resource",
            "rtype": rec.rtype,
            "family": info.family,
            "parent": item["parent"],
            "resource_id": rec.id,
            "url": self.url.format(id=rec.id),
            "region": rec.region,
        }
        if rec.rtype in (AWS_SG, AZ_NSG) and self.exposure.open.get(rec.id):
            data["open_ports"] = format_ports(self.exposure.open[rec.id])
        state = str(rec.cfg.get("state") or rec.cfg.get("power_state") or "").lower()
        if state:
            data["state"] = state
        return data, self.exposure.ports.get(rec.id, [])

    def _node(self, data: dict, classes: list[str], positions) -> dict:
        """A node element with its severity class, at its computed position if it has one."""
        node = {"data": data, "classes": " ".join(classes + self._sev_class(data))}
        if data["id"] in positions:
            node["position"] = _xy(positions[data["id"]])
        return node

    @staticmethod
    def _badge(item: dict, data: dict, position: tuple[float, float]) -> dict:
        """The findings count pinned to a leaf's top-right corner."""
        x, y = position
        return {
            "data": {
                "id": f"badge:{item['id']}",
                "parent": item["parent"],
                "kind": "badge",
                "owner": item["id"],
                "rtype": data["rtype"],
                "label": str(data["findings"]) if data["findings"] < 100 else "99+",
                "severity": data["severity"],
            },
            "position": {"x": round(x + 22), "y": round(y - 22)},
            "classes": f"badge sev-{data['severity']}",
        }

    @staticmethod
    def _exposure_edge(nid: str, ports: str) -> dict:
        """Internet → an exposed leaf, labelled with its open ports."""
        return {
            "data": {"id": f"exp:{nid}", "source": INTERNET_ID, "target": nid, "label": ports},
            "classes": "exposure",
        }

    @staticmethod
    def _internet_node(positions) -> dict:
        """The synthetic Internet node, above the top-left corner of the map (the layout starts at y = 0)."""
        xs = [p[0] for p in positions.values()] or [0.0]
        return {
            "data": {"id": INTERNET_ID, "label": "Internet", "kind": "internet"},
            "position": {"x": round(min(xs)), "y": -110},
            "classes": "internet",
        }

    def _relation_edges(self, edges: list[dict], display_of: dict[int, str]) -> None:
        """Load balancers → their targets (AWS: through target groups; Azure: backend NICs' VMs), and
        security groups / NSGs → what they guard when groups are on the map. Between displayed nodes
        only, once per pair (aggregates merge their members' edges)."""
        g, records = self.graph, self.records
        seen: set[tuple[str, str]] = set()

        def add(source: int, target: int, kind: str) -> None:
            a, b = display_of.get(source), display_of.get(target)
            if a and b and a != b and (a, b) not in seen:
                seen.add((a, b))
                edges.append({"data": {"id": f"{kind}:{a}:{b}", "source": a, "target": b}, "classes": kind})

        for rid in display_of:
            rec = records[rid]
            if rec.rtype == "aws.elbv2.load_balancer":
                for tg in g.targets(rid, "forwards_to"):
                    for target in g.targets(tg, "targets"):
                        add(rid, target, "traffic")
            elif rec.rtype == "azure.network.load_balancer":
                for nic in self.placement.backend_nics(rec):
                    for vm in g.targets(nic, "attached_to"):
                        add(rid, vm, "traffic")
            elif rec.rtype == AWS_SG:
                for member in g.sources(rid, "uses_security_group"):
                    add(rid, member, "guards")
            elif rec.rtype == AZ_NSG:
                for holder in g.sources(rid, "uses_nsg"):
                    for vm in g.targets(holder, "attached_to") if records[holder].rtype == AZ_NIC else []:
                        add(rid, vm, "guards")

    def _findings(self, data: dict, members: list[int]) -> None:
        count, severity = 0, None
        for m in members:
            n, sev = self.findings.get(m, (0, None))
            count += n
            severity = _severity_max(severity, sev)
        if count:
            data["findings"] = count
            data["severity"] = severity

    @staticmethod
    def _sev_class(data: dict) -> list[str]:
        return [f"sev-{data['severity']}"] if data.get("severity") else []


def _xy(point: tuple[float, float]) -> dict[str, int]:
    return {"x": round(point[0]), "y": round(point[1])}
