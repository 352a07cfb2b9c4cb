"""Real exposure: is a resource reachable from the internet, through which links, or which link is missing?

A setting alone (a public IP, ``PubliclyAccessible``, an internet-facing scheme) says a resource *could*
be reached. It *is* reached only when every link of the path exists:

* **AWS EC2 instance**: running, a public IP, a subnet whose route table sends 0.0.0.0/0 or ::/0 to an
  internet gateway attached to the VPC, and a security group with an inbound rule from 0.0.0.0/0 or ::/0.
* **AWS RDS DB instance**: ``publicly_accessible``, a public subnet (as above; the one of its
  availability zone when known), and a security group open to the world on the database's port.
* **AWS load balancer**: ``internet-facing``, at least one listener, a public subnet, and a security
  group open to the world on a listener's port (a network load balancer without groups admits all).
* **Azure VM**: running, a NIC with a public IP, and every NSG in the way (the NIC's and its subnet's)
  allowing inbound traffic from the Internet. With no NSG at all, a Basic public IP is open and a
  Standard one is closed (Azure's defaults).

``assess(graph, record_id)`` answers an ``Exposure``: **exposed** with the path (Internet → gateway →
route table → subnet → security group rule → resource, each step naming the link it crosses),
**latent** with the first missing link, or **not applicable** (the setting is off, or the type has no
internet path). ``assess_security_groups`` tells, for an SG/NSG open to the world, whether a resource is
exposed through it. Pure functions over a ``ResourceIndex`` (findings/rules/evaluate.py), so the
evaluation (the whole connection in memory) and the resource page (``exposure_of_resource``: the
resource's region loaded in two queries) share one answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from findings.rules.evaluate import ResourceIndex
from findings.rules.language import RECORD_FIELDS

EXPOSED, LATENT, NOT_APPLICABLE = "exposed", "latent", "not_applicable"
STATE_LABELS = {EXPOSED: "Exposed", LATENT: "Latent", NOT_APPLICABLE: "Not applicable"}

WORLD = frozenset({"0.0.0.0/0", "::/0"})
AZURE_WORLD = frozenset({"*", "any", "internet", "0.0.0.0/0", "::/0"})  # compared lowercase
INTERNET = "internet"

EC2, RDS, ELB = "aws.ec2.instance", "aws.rds.db_instance", "aws.elbv2.load_balancer"
SUBNET, ROUTE_TABLE, IGW = "aws.ec2.subnet", "aws.ec2.route_table", "aws.ec2.internet_gateway"
SG, ENI = "aws.ec2.security_group", "aws.ec2.network_interface"
AZ_VM, AZ_NIC, AZ_PIP = "azure.compute.vm", "azure.network.network_interface", "azure.network.public_ip"
AZ_NSG, AZ_SUBNET = "azure.network.nsg", "azure.network.subnet"
ASSESSED_TYPES = frozenset({EC2, RDS, ELB, AZ_VM})
GROUP_TYPES = frozenset({SG, AZ_NSG})
# Everything an assessment reads besides the resource itself (the resource page loads these).
NETWORK_TYPES = frozenset({SUBNET, ROUTE_TABLE, IGW, SG, ENI, AZ_NIC, AZ_PIP, AZ_NSG, AZ_SUBNET})

# (protocol, from_port, to_port); "all" / None ports: every one.
Range = tuple[str, int | None, int | None]


@dataclass(frozen=True)
class Step:
    """One hop of a path: a resource (id None for the Internet or a gateway not in the inventory) and
    the link traffic crosses to reach it."""

    id: Any
    name: str
    resource_type: str
    link: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.resource_type, "link": self.link}


@dataclass
class Exposure:
    state: str
    path: list[Step] = field(default_factory=list)  # exposed: Internet first, the resource last
    missing: str = ""  # latent: the first link that is missing
    ports: str = ""  # exposed: what the world reaches ("22, 443", "all ports")
    reason: str = ""  # not applicable: why

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    def summary(self) -> str:
        if self.state == EXPOSED:
            return f"exposed: reachable from the internet on {self.ports}" if self.ports else "exposed"
        if self.state == LATENT:
            return f"latent: {self.missing}"
        return f"not applicable: {self.reason}" if self.reason else "not applicable"

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"state": self.state, "summary": self.summary()}
        if self.state == EXPOSED:
            found["path"] = [s.as_dict() for s in self.path]
            found["ports"] = self.ports
        elif self.state == LATENT:
            found["missing"] = self.missing
        return found

    def resource_ids(self) -> list[Any]:
        return [s.id for s in self.path if s.id is not None]


def _na(reason: str) -> Exposure:
    return Exposure(NOT_APPLICABLE, reason=reason)


def _latent(missing: str) -> Exposure:
    return Exposure(LATENT, missing=missing)


def _cfg(rec: Mapping[str, Any]) -> dict:
    config = rec.get("config")
    return config if isinstance(config, dict) else {}


def _name(rec: Mapping[str, Any]) -> str:
    return str(rec.get("name") or rec.get("native_id") or rec.get("id"))


def _step(rec: Mapping[str, Any], link: str) -> Step:
    return Step(rec["id"], _name(rec), rec["resource_type"], link)


INTERNET_STEP = Step(None, "Internet", INTERNET, "")


# --- Ports ---------------------------------------------------------------------------------------


def _range(rule: Mapping[str, Any]) -> Range:
    return (str(rule.get("protocol") or "all").lower(), rule.get("from_port"), rule.get("to_port"))


def _hits(r: Range, port: int | None) -> bool:
    """Whether a range admits TCP traffic to ``port`` (None: any port at all)."""
    protocol, low, high = r
    if port is None:
        return True
    if protocol not in ("all", "tcp"):
        return False
    if low is None:
        return True
    return low <= port <= (high if high is not None else low)


def describe_range(r: Range) -> str:
    protocol, low, high = r
    if low is None:
        return "all traffic" if protocol == "all" else f"all {protocol}"
    ports = str(low) if high in (None, low) else f"{low}-{high}"
    return f"{protocol} {ports}" if protocol != "all" else f"port {ports}"


def _ports_text(ranges: Iterable[Range], wanted: Iterable[int] | None) -> str:
    ranges = list(ranges)
    if wanted is not None:
        found = sorted({p for p in wanted if any(_hits(r, p) for r in ranges)})
        return ", ".join(str(p) for p in found)
    if any(r[0] == "all" and r[1] is None for r in ranges):
        return "all ports"
    return ", ".join(dict.fromkeys(describe_range(r) for r in ranges))


def sg_world_rules(sg: Mapping[str, Any]) -> list[dict]:
    """An AWS security group's inbound rules from 0.0.0.0/0 or ::/0."""
    return [
        r
        for r in _cfg(sg).get("rules") or []
        if isinstance(r, dict) and r.get("direction") == "ingress" and r.get("source") in WORLD
    ]


def _priority(rule: Mapping[str, Any]) -> int:
    value = rule.get("priority")
    return value if isinstance(value, int) else 1 << 30


def nsg_world_rules(nsg: Mapping[str, Any]) -> list[dict]:
    """An Azure NSG's inbound allow rules from the Internet ("*", "Any", "Internet", 0.0.0.0/0), less
    those a deny rule from the Internet with a smaller priority number covers entirely."""
    inbound = [
        r
        for r in _cfg(nsg).get("rules") or []
        if isinstance(r, dict) and r.get("direction") == "ingress" and str(r.get("source") or "").lower() in AZURE_WORLD
    ]
    denies = [r for r in inbound if r.get("access") == "deny"]
    return [
        r
        for r in inbound
        if r.get("access") == "allow"
        and not any(_priority(d) < _priority(r) and covers(_range(d), _range(r)) for d in denies)
    ]


def covers(outer: Range, inner: Range) -> bool:
    """Whether port range ``outer`` (protocol, low, high; low None = every port) includes ``inner``."""
    if outer[0] != "all" and outer[0] != inner[0]:
        return False
    if outer[1] is None:
        return True
    if inner[1] is None:
        return False
    return outer[1] <= inner[1] and (outer[2] if outer[2] is not None else outer[1]) >= (
        inner[2] if inner[2] is not None else inner[1]
    )


def _rule_link(rule: Mapping[str, Any]) -> str:
    named = f"rule {rule['name']}: " if rule.get("name") else ""
    return f"{named}allows {describe_range(_range(rule))} from {rule.get('source')}"


# --- The graph -----------------------------------------------------------------------------------


class ExposureGraph:
    """A ResourceIndex with the lookups an assessment needs (route tables and gateways by their AWS id,
    per connection), built once per index."""

    def __init__(self, index: ResourceIndex) -> None:
        self.index = index
        self.tables: dict[tuple[Any, str], Mapping] = {}
        self.main_tables: dict[tuple[Any, str], Mapping] = {}
        for table in index.by_type.get(ROUTE_TABLE, ()):
            cfg = _cfg(table)
            conn = table.get("connection_id")
            if cfg.get("route_table_id"):
                self.tables[(conn, cfg["route_table_id"])] = table
            if cfg.get("main") and cfg.get("vpc_id"):
                self.main_tables[(conn, cfg["vpc_id"])] = table
        self.gateways = {
            (g.get("connection_id"), _cfg(g).get("internet_gateway_id")): g for g in index.by_type.get(IGW, ())
        }

    def out(self, rid: Any, kind: str, *types: str) -> list[Mapping]:
        return self.index.related(rid, kind, "out", types or None)

    def into(self, rid: Any, kind: str, *types: str) -> list[Mapping]:
        return self.index.related(rid, kind, "in", types or None)


def graph_of(index: ResourceIndex) -> ExposureGraph:
    return ExposureGraph(index)


# --- AWS -----------------------------------------------------------------------------------------


def _route_table(g: ExposureGraph, subnet: Mapping) -> Mapping | None:
    cfg, conn = _cfg(subnet), subnet.get("connection_id")
    table = g.tables.get((conn, cfg.get("route_table_id") or ""))
    if table is None:
        explicit = g.into(subnet["id"], "associated_with", ROUTE_TABLE)
        table = explicit[0] if explicit else g.main_tables.get((conn, cfg.get("vpc_id") or ""))
    return table


def _internet_route(table: Mapping) -> dict | None:
    for route in _cfg(table).get("routes") or []:
        if (
            isinstance(route, dict)
            and route.get("destination") in WORLD
            and route.get("target_type") == "internet_gateway"
            and (route.get("state") or "active") == "active"
        ):
            return route
    return None


def _public_subnet_path(g: ExposureGraph, subnet: Mapping) -> tuple[list[Step], str]:
    """(Internet → gateway → route table → subnet, "") or ([], the missing link) for one subnet."""
    name = _name(subnet)
    table = _route_table(g, subnet)
    if table is None:
        return [], f"the route table of subnet {name} is not in the inventory"
    route = _internet_route(table)
    if route is None:
        default = next(
            (r for r in _cfg(table).get("routes") or [] if isinstance(r, dict) and r.get("destination") in WORLD),
            None,
        )
        if default is not None and default.get("target_type") == "internet_gateway":
            return (
                [],
                f"route table {_name(table)} sends {default['destination']} to a gateway that is gone (blackhole)",
            )
        if default is not None:
            target = default.get("target_id") or default.get("target_type")
            return [], (
                f"route table {_name(table)} of subnet {name} sends {default['destination']} to {target}, "
                "not to an internet gateway"
            )
        return [], f"route table {_name(table)} of subnet {name} has no route to an internet gateway"
    gateway_id = route.get("target_id") or ""
    igw = g.gateways.get((subnet.get("connection_id"), gateway_id))
    if igw is not None:
        vpc_id = _cfg(subnet).get("vpc_id")
        attached = [a for a in _cfg(igw).get("attachments") or [] if isinstance(a, dict)]
        if not any(a.get("vpc_id") == vpc_id and a.get("state") in (None, "available", "attached") for a in attached):
            return [], f"internet gateway {_name(igw)} is not attached to the subnet's VPC"
        gateway = _step(igw, "enters through the internet gateway")
    else:  # routed to a gateway the inventory does not hold (not collected): the route is the evidence
        gateway = Step(None, gateway_id, IGW, "enters through the internet gateway")
    return [
        INTERNET_STEP,
        gateway,
        _step(table, f"route {route['destination']} → {gateway_id}"),
        _step(subnet, f"subnet associated with {_name(table)}"),
    ], ""


def _first_public_subnet(g: ExposureGraph, subnets: list[Mapping]) -> tuple[list[Step], str]:
    if not subnets:
        return [], "no subnet is recorded for it"
    missing = ""
    for subnet in sorted(subnets, key=_name):
        path, why = _public_subnet_path(g, subnet)
        if path:
            return path, ""
        missing = missing or why
    return [], missing


def _open_groups(groups: list[Mapping], ports: list[int] | None) -> list[tuple[Mapping, dict]]:
    """(group, rule) pairs letting the world in, on one of ``ports`` (None: any port)."""
    found = []
    for group in sorted(groups, key=_name):
        for rule in sg_world_rules(group):
            if ports is None or any(_hits(_range(rule), p) for p in ports):
                found.append((group, rule))
    return found


def _sg_missing(groups: list[Mapping], ports: list[int] | None) -> str:
    if not groups:
        return "it has no security group"
    where = f" on port {', '.join(map(str, ports))}" if ports else ""
    if ports and _open_groups(groups, None):
        return f"its security groups let the world in, but not{where}"
    return f"no security group rule allows inbound traffic from 0.0.0.0/0 or ::/0{where}"


def _aws_exposure(
    g: ExposureGraph,
    rec: Mapping,
    subnets: list[Mapping],
    ports: list[int] | None,
    last_link: str,
    *,
    no_groups_open=False,
) -> Exposure:
    path, missing = _first_public_subnet(g, subnets)
    if not path:
        return _latent(missing)
    groups = g.out(rec["id"], "uses_security_group", SG)
    # An instance's groups are its network interfaces' (the record may list only the primary's, or none).
    groups += [
        sg for eni in g.into(rec["id"], "attached_to", ENI) for sg in g.out(eni["id"], "uses_security_group", SG)
    ]
    groups = list({sg["id"]: sg for sg in groups}.values())
    if not groups and no_groups_open:
        ranges = [("tcp", p, p) for p in ports or []]
        return Exposure(EXPOSED, [*path, _step(rec, last_link)], ports=_ports_text(ranges, ports))
    pairs = _open_groups(groups, ports)
    if not pairs:
        return _latent(_sg_missing(groups, ports))
    steps = [Step(group["id"], _name(group), group["resource_type"], _rule_link(rule)) for group, rule in pairs]
    ranges = [_range(rule) for _, rule in pairs]
    return Exposure(EXPOSED, [*path, *_dedupe(steps), _step(rec, last_link)], ports=_ports_text(ranges, ports))


def _dedupe(steps: list[Step]) -> list[Step]:
    """One step per group, its rules' links joined."""
    merged: dict[Any, Step] = {}
    for s in steps:
        if s.id in merged:
            merged[s.id] = Step(s.id, s.name, s.resource_type, f"{merged[s.id].link}; {s.link}")
        else:
            merged[s.id] = s
    return list(merged.values())


def _ec2(g: ExposureGraph, rec: Mapping) -> Exposure:
    cfg = _cfg(rec)
    public_ip = cfg.get("public_ip") or next(
        (_cfg(e).get("public_ip") for e in g.into(rec["id"], "attached_to", ENI) if _cfg(e).get("public_ip")), None
    )
    if not public_ip:
        return _na("no public IP address")
    if cfg.get("state") not in (None, "running"):
        return _latent(f"the instance is {cfg.get('state')}")
    return _aws_exposure(g, rec, g.out(rec["id"], "in_subnet", SUBNET), None, f"public IP {public_ip}")


def _rds(g: ExposureGraph, rec: Mapping) -> Exposure:
    cfg = _cfg(rec)
    if not cfg.get("publicly_accessible"):
        return _na("not publicly accessible")
    if cfg.get("status") not in (None, "available", "backing-up", "modifying", "maintenance"):
        return _latent(f"the database is {cfg.get('status')}")
    subnets = g.out(rec["id"], "in_subnet", SUBNET)
    zone = cfg.get("availability_zone")
    if zone:  # the instance lives in the subnet of its zone (a Multi-AZ standby is not reachable)
        subnets = [s for s in subnets if _cfg(s).get("availability_zone") == zone] or subnets
    port = (cfg.get("endpoint") or {}).get("port") if isinstance(cfg.get("endpoint"), dict) else None
    ports = [int(port)] if isinstance(port, int) else None
    address = (cfg.get("endpoint") or {}).get("address") if isinstance(cfg.get("endpoint"), dict) else None
    return _aws_exposure(g, rec, subnets, ports, f"public endpoint {address or ''}".strip())


def _elb(g: ExposureGraph, rec: Mapping) -> Exposure:
    cfg = _cfg(rec)
    if cfg.get("scheme") != "internet-facing":
        return _na("an internal load balancer")
    listeners = [lst for lst in cfg.get("listeners") or [] if isinstance(lst, dict)]
    ports = sorted({int(lst["port"]) for lst in listeners if isinstance(lst.get("port"), int)})
    if not ports:
        return _latent("it has no listener")
    return _aws_exposure(
        g,
        rec,
        g.out(rec["id"], "in_subnet", SUBNET),
        ports,
        f"internet-facing listener{'s' if len(ports) > 1 else ''} on {', '.join(map(str, ports))}",
        no_groups_open=cfg.get("type") != "application",
    )


# --- Azure ---------------------------------------------------------------------------------------

STOPPED = frozenset({"stopped", "stopping", "deallocated", "deallocating"})


def _azure_vm(g: ExposureGraph, rec: Mapping) -> Exposure:
    nics = [(nic, g.out(nic["id"], "uses_public_ip", AZ_PIP)) for nic in g.into(rec["id"], "attached_to", AZ_NIC)]
    nics = [(nic, ips) for nic, ips in nics if ips]
    if not nics:
        return _na("no public IP address on its network interfaces")
    state = str(_cfg(rec).get("power_state") or "").lower()
    if state in STOPPED:
        return _latent(f"the VM is {state}")
    missing = ""
    for nic, ips in sorted(nics, key=lambda pair: _name(pair[0])):
        found, why = _azure_nic_path(g, rec, nic, ips)
        if found is not None:
            return found
        missing = missing or why
    return _latent(missing)


def _azure_nic_path(g: ExposureGraph, vm: Mapping, nic: Mapping, ips: list[Mapping]) -> tuple[Exposure | None, str]:
    ip = sorted(ips, key=_name)[0]
    address = _cfg(ip).get("ip_address")
    start = [INTERNET_STEP, _step(ip, f"public IP {address}" if address else "public IP")]
    subnets = g.out(nic["id"], "in_subnet", AZ_SUBNET)
    layers = [(s, nsg) for s in subnets for nsg in g.out(s["id"], "uses_nsg", AZ_NSG)]
    layers += [(nic, nsg) for nsg in g.out(nic["id"], "uses_nsg", AZ_NSG)]
    last = [_step(nic, f"network interface with {_name(ip)}"), _step(vm, "attached network interface")]
    if not layers:
        if str(_cfg(ip).get("sku") or "").lower() == "basic":
            return Exposure(EXPOSED, [*start, *last], ports="all ports"), ""
        return None, f"no NSG allows inbound traffic to {_name(ip)} (a Standard public IP is closed by default)"
    allowed: list[Range] | None = None
    steps = []
    # Traffic passes the subnet's NSG, then the NIC's: one step per NSG (often the same one on both).
    by_nsg: dict[Any, tuple[Mapping, list[Mapping]]] = {}
    for holder, nsg in layers:
        by_nsg.setdefault(nsg["id"], (nsg, []))[1].append(holder)
    for nsg, holders in by_nsg.values():
        on = " and ".join(_name(h) for h in holders)
        rules = nsg_world_rules(nsg)
        if not rules:
            return None, f"NSG {_name(nsg)} (on {on}) allows no inbound traffic from the Internet"
        ranges = [_range(r) for r in rules]
        allowed = ranges if allowed is None else intersect_ranges(allowed, ranges)
        if not allowed:
            return None, f"NSG {_name(nsg)} (on {on}) blocks the ports the other NSG opens"
        where = " and ".join("subnet" if h["resource_type"] == AZ_SUBNET else "NIC" for h in holders)
        steps.append(_step(nsg, f"{where} NSG: " + "; ".join(_rule_link(r) for r in rules)))
    return Exposure(EXPOSED, [*start, *steps, *last], ports=_ports_text(allowed or [], None)), ""


def intersect_ranges(a: list[Range], b: list[Range]) -> list[Range]:
    """The port ranges both lists admit (what two layers of rules in a row let through)."""
    found = []
    for pa, la, ha in a:
        for pb, lb, hb in b:
            if pa != "all" and pb != "all" and pa != pb:
                continue
            protocol = pb if pa == "all" else pa
            if la is None:
                low, high = lb, hb
            elif lb is None:
                low, high = la, ha
            else:
                low, high = max(la, lb), min(ha if ha is not None else la, hb if hb is not None else lb)
                if low > high:
                    continue
            found.append((protocol, low, high))
    return found


# --- Entry points --------------------------------------------------------------------------------

_ASSESSORS = {EC2: _ec2, RDS: _rds, ELB: _elb, AZ_VM: _azure_vm}


def assess(graph: ExposureGraph, record_id: Any) -> Exposure:
    """The exposure of one resource of the index."""
    rec = graph.index.by_id.get(record_id)
    if rec is None:
        return _na("not in the inventory")
    assessor = _ASSESSORS.get(rec["resource_type"])
    if assessor is None:
        return _na("this type has no path from the internet of its own")
    return assessor(graph, rec)


def assess_all(graph: ExposureGraph) -> dict[Any, Exposure]:
    """Every assessed resource of the index (EC2 instances, RDS instances, load balancers, Azure VMs)."""
    return {
        rec["id"]: assess(graph, rec["id"]) for t in sorted(ASSESSED_TYPES) for rec in graph.index.by_type.get(t, ())
    }


def assess_group(graph: ExposureGraph, group_id: Any, exposures: Mapping[Any, Exposure]) -> Exposure:
    """A security group or NSG open to the world is exposed when an exposed resource's path crosses it;
    latent otherwise (nothing reachable uses it: the missing link of the first resource that does, or
    "nothing uses it")."""
    group = graph.index.by_id.get(group_id)
    if group is None:
        return _na("not in the inventory")
    users = _group_users(graph, group)
    for uid in users:
        exposure = exposures.get(uid)
        if exposure is not None and exposure.state == EXPOSED and group_id in exposure.resource_ids():
            return exposure
    for uid in users:
        exposure = exposures.get(uid)
        if exposure is not None and exposure.state == LATENT:
            return _latent(f"{_name(graph.index.by_id[uid])}, which uses it: {exposure.missing}")
    if users:
        return _latent("no resource using it has a public address")
    return _latent("no resource uses it")


def _group_users(graph: ExposureGraph, group: Mapping) -> list[Any]:
    """The assessed resources behind a group: direct users, and for an NSG the VMs behind its NICs and
    subnets."""
    gid = group["id"]
    if group["resource_type"] == SG:
        users = graph.into(gid, "uses_security_group")
        found = [u["id"] for u in users if u["resource_type"] in ASSESSED_TYPES]
        found += [a["id"] for u in users if u["resource_type"] == ENI for a in graph.out(u["id"], "attached_to", EC2)]
        return list(dict.fromkeys(found))
    holders = graph.into(gid, "uses_nsg")
    nics = [h for h in holders if h["resource_type"] == AZ_NIC]
    nics += [n for h in holders if h["resource_type"] == AZ_SUBNET for n in graph.into(h["id"], "in_subnet", AZ_NIC)]
    return list(dict.fromkeys(vm["id"] for nic in nics for vm in graph.out(nic["id"], "attached_to", AZ_VM)))


# --- The resource page ---------------------------------------------------------------------------


def exposure_of_resource(org, resource) -> Exposure:
    """One resource's exposure, from its region's network records (two queries: the records and their
    relationships, nothing per hop)."""
    from inventory.models import Relationship, Resource

    if resource.resource_type not in ASSESSED_TYPES | GROUP_TYPES:
        return _na("this type has no path from the internet of its own")
    scope = Resource.objects.for_org(org).filter(connection_id=resource.connection_id, region=resource.region)
    types = NETWORK_TYPES | ASSESSED_TYPES
    rows = scope.filter(resource_type__in=types).values_list(*RECORD_FIELDS)
    records = [dict(zip(RECORD_FIELDS, row, strict=True)) for row in rows]
    rels = (
        Relationship.objects.for_org(org)
        .filter(connection_id=resource.connection_id, source__in=scope.filter(resource_type__in=types))
        .values_list("source_id", "target_id", "kind")
    )
    graph = ExposureGraph(ResourceIndex(records, rels))
    if resource.resource_type in GROUP_TYPES:
        rules = sg_world_rules if resource.resource_type == SG else nsg_world_rules
        if not rules(graph.index.by_id.get(resource.pk) or {}):
            return _na("no rule lets the world in")
        return assess_group(graph, resource.pk, assess_all(graph))
    return assess(graph, resource.pk)
