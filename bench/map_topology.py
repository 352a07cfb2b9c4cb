#!/usr/bin/env python
"""Benchmark of the architecture map's data: the first view (the largest region) and the whole organization.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_map \
        .venv/bin/python bench/map_topology.py [--resources 5000] [--connections 2] [--regions 3] [--repeat 5]
        [--keep | --reuse]

1. creates, in the configured database (SQLite under DATA_DIR by default, DATABASE_URL when set), an
   organization with --connections AWS connections and about --resources resources spread over
   --regions regions of each, shaped and related the way the collectors relate them: VPCs, subnets
   (``in_vpc``), security groups (some open to the world), EC2 instances (``in_subnet``, ``in_vpc``,
   ``uses_security_group``; some with a public IP), RDS instances spanning two subnets, Lambda functions
   in and out of VPCs, load balancers forwarding to target groups that target instances, NAT and
   internet gateways, plus the resources the map does not draw (volumes, network interfaces) — and
   open findings on a tenth of them; --keep keeps it (map-bench-N), --reuse measures a kept one again;
2. times ``build_topology`` for the first view (what the page opens on: the largest region) and prints
   nodes and edges before aggregation (every resource on its own) and after (what the page gets);
3. times the page's data (``dashboard.map_cache.map_json``), each build with an empty cache, for the
   first view and for the whole organization (goal, issue #22: ≤ 300 ms at 100,000 resources), then
   cached, with p50 and p95, against a baseline measured in the same run: one plain SELECT of the
   organization's mappable rows (id, type, region, connection); and, for comparison, the whole
   organization drawn resource by resource as it was before ``topology.build_overview``; the load average.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"
REGIONS = [REGION, "us-east-1", "us-west-2", "eu-central-1", "ap-southeast-1", "ap-northeast-1"]
ACCOUNT_ID = "123456789012"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloustral.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(org, connection, total: int, rnd: random.Random, region: str = REGION) -> dict[str, int]:
    """About ``total`` resources in ``region``; returns the count per type."""
    from findings.models import Finding
    from inventory.models import Relationship, Resource

    rows: list[Resource] = []
    rels: list[tuple[int, int, str]] = []  # indexes into rows

    def add(rtype: str, name: str, config: dict | None = None) -> int:
        rows.append(
            Resource(
                org=org,
                connection=connection,
                provider="aws",
                resource_type=rtype,
                native_id=f"arn:aws:{rtype}:{region}:{ACCOUNT_ID}:{name}",
                name=name,
                region=region,
                config=config or {},
            )
        )
        return len(rows) - 1

    world = [{"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22, "source": "0.0.0.0/0"}]
    office = [{"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22, "source": "10.0.0.0/8"}]
    n_vpcs = max(1, total // 500)
    vpcs, subnets, sgs = [], [], []
    instances: dict[int, list[int]] = {}  # by VPC
    for v in range(n_vpcs):
        vpc = add("aws.ec2.vpc", f"vpc-{v}", {"vpc_id": f"vpc-{v}"})
        vpcs.append(vpc)
        rels.append((add("aws.ec2.internet_gateway", f"igw-{v}"), vpc, "attached_to"))
        for s in range(8):
            subnet = add("aws.ec2.subnet", f"subnet-{v}-{s}", {"availability_zone": f"{region}{'abc'[s % 3]}"})
            rels.append((subnet, vpc, "in_vpc"))
            subnets.append((subnet, vpc))
        for g in range(15):
            sg = add("aws.ec2.security_group", f"sg-{v}-{g}", {"rules": world if g < 2 else office})
            rels.append((sg, vpc, "in_vpc"))
            sgs.append(sg)
        nat_subnet = subnets[-8][0]
        rels.append((add("aws.ec2.nat_gateway", f"nat-{v}", {"public_ip": "198.51.100.1"}), nat_subnet, "in_subnet"))
    budget = total - len(rows)
    n_instances = int(budget * 0.36)  # each with a volume: about 72% of the budget
    for i in range(n_instances):
        subnet, vpc = rnd.choice(subnets)
        public = rnd.random() < 0.2
        inst = add(
            "aws.ec2.instance",
            f"i-{i:05d}",
            {"state": "running" if rnd.random() < 0.9 else "stopped", "public_ip": "203.0.113.1" if public else None},
        )
        instances.setdefault(vpc, []).append(inst)
        rels += [(inst, subnet, "in_subnet"), (inst, vpc, "in_vpc")]
        rels += [(inst, sg, "uses_security_group") for sg in rnd.sample(sgs, 2)]
        volume = add("aws.ec2.volume", f"vol-{i:05d}")  # not drawn: the map reads none of these
        rels.append((volume, inst, "attached_to"))
    for d in range(budget // 40):
        (s1, vpc), (s2, _) = rnd.sample(subnets, 2)
        db = add(
            "aws.rds.db_instance",
            f"db-{d}",
            {"publicly_accessible": rnd.random() < 0.1, "availability_zone": f"{region}a", "endpoint": {"port": 5432}},
        )
        rels += [(db, s1, "in_subnet"), (db, s2, "in_subnet"), (db, rnd.choice(sgs), "uses_security_group")]
    for f in range(budget // 25):
        fn = add("aws.lambda.function", f"fn-{f}")
        if f % 2:
            rels.append((fn, rnd.choice(subnets)[0], "in_subnet"))
    for b in range(budget // 100):
        subnet, vpc = rnd.choice(subnets)
        lb = add(
            "aws.elbv2.load_balancer",
            f"lb-{b}",
            {"scheme": "internet-facing", "type": "application", "listeners": [{"port": 443}]},
        )
        tg = add("aws.elbv2.target_group", f"tg-{b}")
        rels += [
            (lb, subnet, "in_subnet"),
            (lb, vpc, "in_vpc"),
            (lb, tg, "forwards_to"),
            (lb, sgs[0], "uses_security_group"),
        ]
        rels += [(tg, target, "targets") for target in rnd.sample(instances[vpc], min(4, len(instances[vpc])))]
    while len(rows) < total:
        add("aws.ec2.network_interface", f"eni-{len(rows)}", {"public_ip": None})

    Resource.objects.for_org(org).bulk_create(rows, batch_size=1000)
    by_native = dict(
        Resource.objects.for_org(org).filter(connection=connection, region=region).values_list("native_id", "id")
    )
    ids = [by_native[r.native_id] for r in rows]
    Relationship.objects.for_org(org).bulk_create(
        (
            Relationship(org=org, connection=connection, source_id=ids[s], target_id=ids[t], kind=kind)
            for s, t, kind in rels
        ),
        batch_size=2000,
    )
    drawn = [i for i, r in enumerate(rows) if r.resource_type not in ("aws.ec2.volume", "aws.ec2.network_interface")]
    Finding.objects.for_org(org).bulk_create(
        (
            Finding(
                org=org,
                connection=connection,
                resource_id=ids[i],
                rule_id=f"bench-{n}",
                title="Benchmark finding",
                severity=rnd.choice(["critical", "high", "medium", "low"]),
                category="security",
                resource_type=rows[i].resource_type,
                native_id=rows[i].native_id,
                region=region,
            )
            for n, i in enumerate(rnd.sample(drawn, len(drawn) // 10))
        ),
        batch_size=1000,
    )

    counts: dict[str, int] = {}
    for r in rows:
        counts[r.resource_type] = counts.get(r.resource_type, 0) + 1
    return counts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def create_org(args):
    """A new organization with --connections AWS connections and --resources resources spread evenly over
    each connection's first --regions regions (the first slice a little larger: the first view's region)."""
    from django.db import transaction

    from connections.models import CloudConnection
    from orgs.models import Organization

    slug = f"map-bench-{args.resources}" if args.keep else f"map-bench-{int(time.time())}"
    org = Organization.objects.create(name="Map benchmark", slug=slug)
    rnd = random.Random(args.seed)  # noqa: S311
    regions = REGIONS[: args.regions]
    slices = args.connections * len(regions)
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for c in range(args.connections):
        connection = CloudConnection.objects.for_org(org).create(
            name=f"Bench {c + 1}",
            provider="aws",
            auth_method="aws_keys",
            aws_account_id=f"{ACCOUNT_ID[:-2]}{c:02d}",
            enabled_regions=regions,
        )
        for r, region in enumerate(regions):
            size = args.resources // slices + (args.resources % slices if c == r == 0 else 0)
            with transaction.atomic():
                for rtype, n in seed(org, connection, size, rnd, region).items():
                    counts[rtype] = counts.get(rtype, 0) + n
    print(f"seeded {sum(counts.values()):,} resources in {time.perf_counter() - started:.1f} s")
    for rtype, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {rtype:28} {n:>6,}")
    return org


def timed(fn, runs: int, before=None) -> list[float]:
    """Milliseconds of ``fn()`` over ``runs`` runs (``before()`` untimed before each)."""
    found = []
    for _ in range(runs):
        if before is not None:
            before()
        t = time.perf_counter()
        fn()
        found.append((time.perf_counter() - t) * 1000)
    return found


def line(label: str, runs: list[float], baseline: float | None = None) -> str:
    p50, p95 = statistics.median(runs), percentile(runs, 0.95)
    ratio = f"  {p50 / baseline:6.2f}× the baseline" if baseline else ""
    return f"  {label:44} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms{ratio}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--regions", type=int, default=3, help="per connection")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark organization (map-bench-N)")
    parser.add_argument("--reuse", action="store_true", help="use the organization a --keep run left")
    args = parser.parse_args()

    setup_django()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection as db
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from dashboard import map_cache, topology
    from inventory.models import Resource
    from orgs.models import Organization

    org = Organization.objects.filter(slug=f"map-bench-{args.resources}").first() if args.reuse else None
    if org is None:
        org = create_org(args)
    try:
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        if engine == "postgresql":  # fresh tables: the steady state autovacuum keeps (statistics, visibility)
            with db.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        print(f"database: {engine}; organization {org.slug}: {Resource.objects.for_org(org).count():,} resources")

        # The first view: what the page opens on (the largest region of a large organization).
        first = map_cache.first_view_params(org)
        conn_id, region = first["connection"], first["region"]
        timings, result = [], None
        for _ in range(args.repeat):
            with CaptureQueriesContext(db) as queries:
                t = time.perf_counter()
                result = topology.build_topology(org, connection=conn_id, region=region)
                timings.append(time.perf_counter() - t)
        t = time.perf_counter()
        payload = json.dumps(result.as_json(), separators=(",", ":"))
        dump_s = time.perf_counter() - t
        thresholds = topology.THRESHOLDS  # the same map without aggregation: every resource a node
        topology.THRESHOLDS = (10**9,)
        try:
            flat = topology.build_topology(org, connection=conn_id, region=region, limit=10**9)
        finally:
            topology.THRESHOLDS = thresholds
        stats = result.stats
        print(f"\nfirst view: connection {conn_id}, region {region or 'all'}")
        print(
            f"build_topology, {args.repeat} runs: median {statistics.median(timings) * 1000:.0f} ms, "
            f"min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms; {len(queries)} queries per run"
        )
        print(f"JSON for the page: {len(payload) / 1024:.0f} KiB, serialized in {dump_s * 1000:.0f} ms")
        print(f"map resources in scope: {result.total:,} ({stats['exposed']:,} exposed to the internet)")
        print(f"{'':24}{'nodes':>8}{'edges':>8}{'elements':>10}")
        print(
            f"{'before aggregation':24}{flat.stats['nodes']:>8,}{flat.stats['edges']:>8,}{flat.stats['elements']:>10,}"
        )
        print(f"{'after aggregation':24}{stats['nodes']:>8,}{stats['edges']:>8,}{stats['elements']:>10,}")
        if result.message:
            print(f"  {result.message}")

        # The page's data (dashboard.map_cache.map_json), each build with an empty cache, against a
        # baseline in the same run: one plain SELECT of the organization's mappable rows (id, type, region).
        mappable = sorted({*topology.MAP_TYPES, *topology.CONTAINER_TYPES})
        baseline_runs = timed(
            lambda: list(
                Resource.objects.for_org(org)
                .filter(resource_type__in=mappable)
                .values_list("id", "resource_type", "region", "connection_id")
            ),
            args.repeat * 2,
        )
        base = statistics.median(baseline_runs)
        whole = {"connection": None, "region": None, "network": None, "types": None, "expand": [], "show_empty": False}
        bodies: dict[str, bytes] = {}

        def build(label: str, scope: dict):
            return lambda: bodies.__setitem__(label, map_cache.map_json(org, **scope))

        cold_first = timed(build("first", first), args.repeat, cache.clear)
        warm_first = timed(build("first", first), args.repeat * 4)
        cold_whole = timed(build("whole", whole), args.repeat, cache.clear)
        # What the whole organization's data was before the overview: every row read, a cut map drawn.
        drawn_whole = timed(lambda: topology.build_topology(org, **whole), args.repeat)
        with CaptureQueriesContext(db) as queries:
            cache.clear()
            build("whole", whole)()
        warm_whole = timed(build("whole", whole), args.repeat * 4)
        whole_body = json.loads(bodies["whole"])
        print(f"\nthe page's data (map_cache.map_json), {args.repeat} builds each with an empty cache:")
        print(line("baseline: SELECT the mappable rows", baseline_runs))
        print(line("first view, empty cache", cold_first, base))
        print(line("first view, cached", warm_first, base))
        print(line("whole organization, empty cache (≤ 300 ms)", cold_whole, base))
        print(line("whole organization, cached", warm_whole, base))
        print(line("whole organization drawn one by one (before)", drawn_whole, base))
        print(
            f"  whole organization: {len(queries)} queries, {len(bodies['whole']) / 1024:.0f} KiB, "
            f"{len(whole_body['elements']['nodes']):,} nodes, {whole_body['total']:,} resources; "
            f"first view {len(bodies['first']) / 1024:.0f} KiB"
        )
        with open("/proc/loadavg") as f:
            print(f"  load average: {f.read().strip()}")
        return 0
    finally:
        if args.keep or args.reuse:
            print(f"kept organization {org.slug}")
        else:
            with transaction.atomic():
                org.delete()


if __name__ == "__main__":
    sys.exit(main())
