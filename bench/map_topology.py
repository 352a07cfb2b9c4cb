#!/usr/bin/env python
"""Benchmark of the architecture map's data (dashboard.topology.build_topology) on one crowded region.

    .venv/bin/python bench/map_topology.py [--resources 5000] [--repeat 5] [--keep]

1. creates, in the configured database (SQLite under DATA_DIR by default, DATABASE_URL when set), an
   organization with one AWS connection and about --resources resources in one region, shaped and
   related the way the collectors relate them: VPCs, subnets (``in_vpc``), security groups (some open
   to the world), EC2 instances (``in_subnet``, ``in_vpc``, ``uses_security_group``; some with a
   public IP), RDS instances spanning two subnets, Lambda functions in and out of VPCs, load balancers
   forwarding to target groups that target instances, NAT and internet gateways, plus the resources
   the map does not draw (volumes, network interfaces) — and open findings on a tenth of them;
2. times ``build_topology`` for the region (--repeat runs: queries, placement, exposure, aggregation,
   layout) and the JSON the page downloads, and counts the queries;
3. prints nodes and edges before aggregation (every resource on its own) and after (what the page
   gets), then deletes the organization (unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"
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


def seed(org, connection, total: int, rnd: random.Random) -> dict[str, int]:
    """About ``total`` resources in REGION; returns the count per type."""
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
                native_id=f"arn:aws:{rtype}:{REGION}:{ACCOUNT_ID}:{name}",
                name=name,
                region=REGION,
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
            subnet = add("aws.ec2.subnet", f"subnet-{v}-{s}", {"availability_zone": f"{REGION}{'abc'[s % 3]}"})
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
            {"publicly_accessible": rnd.random() < 0.1, "availability_zone": f"{REGION}a", "endpoint": {"port": 5432}},
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
    by_native = dict(Resource.objects.for_org(org).values_list("native_id", "id"))
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
                region=REGION,
            )
            for n, i in enumerate(rnd.sample(drawn, len(drawn) // 10))
        ),
        batch_size=1000,
    )

    counts: dict[str, int] = {}
    for r in rows:
        counts[r.resource_type] = counts.get(r.resource_type, 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark organization")
    args = parser.parse_args()

    setup_django()
    from django.conf import settings
    from django.db import connection as db
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from connections.models import CloudConnection
    from dashboard import topology
    from orgs.models import Organization

    org = Organization.objects.create(name="Map benchmark", slug=f"map-bench-{int(time.time())}")
    try:
        connection = CloudConnection.objects.for_org(org).create(
            name="Bench", provider="aws", auth_method="aws_keys", aws_account_id=ACCOUNT_ID, enabled_regions=[REGION]
        )
        started = time.perf_counter()
        with transaction.atomic():
            counts = seed(org, connection, args.resources, random.Random(args.seed))  # noqa: S311
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        if engine == "postgresql":  # fresh tables: without statistics the relationship query nests loops
            with db.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(f"database: {engine}; seeded {sum(counts.values()):,} resources in {time.perf_counter() - started:.1f} s")
        for rtype, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"  {rtype:28} {n:>6,}")

        timings, result = [], None
        for _ in range(args.repeat):
            with CaptureQueriesContext(db) as queries:
                t = time.perf_counter()
                result = topology.build_topology(org, connection=connection, region=REGION)
                timings.append(time.perf_counter() - t)
        t = time.perf_counter()
        payload = json.dumps(result.as_json(), separators=(",", ":"))
        dump_s = time.perf_counter() - t

        # The same map without aggregation: every resource a node of its own.
        thresholds = topology.THRESHOLDS
        topology.THRESHOLDS = (10**9,)
        try:
            flat = topology.build_topology(org, connection=connection, region=REGION, limit=10**9)
        finally:
            topology.THRESHOLDS = thresholds

        # What the page downloads (dashboard.map_cache): built once per inventory/findings stamp, trimmed.
        from django.core.cache import cache

        from dashboard import map_cache

        scope = {"connection": connection.pk, "region": REGION, "show_empty": False}
        cold, warm = [], []
        for _ in range(args.repeat):
            cache.clear()
            t = time.perf_counter()
            body = map_cache.map_json(org, **scope)
            cold.append(time.perf_counter() - t)
        for _ in range(args.repeat * 4):
            t = time.perf_counter()
            map_cache.map_json(org, **scope)
            warm.append(time.perf_counter() - t)
        built_ms = statistics.median(timings) * 1000 + dump_s * 1000

        stats = result.stats
        print(
            f"\nbuild_topology, {args.repeat} runs: median {statistics.median(timings) * 1000:.0f} ms, "
            f"min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms; {len(queries)} queries per run"
        )
        print(f"JSON for the page: {len(payload) / 1024:.0f} KiB, serialized in {dump_s * 1000:.0f} ms")
        print(f"map resources in the region: {result.total:,} ({stats['exposed']:,} exposed to the internet)")
        print(f"{'':24}{'nodes':>8}{'edges':>8}{'elements':>10}")
        print(
            f"{'before aggregation':24}{flat.stats['nodes']:>8,}{flat.stats['edges']:>8,}{flat.stats['elements']:>10,}"
        )
        print(f"{'after aggregation':24}{stats['nodes']:>8,}{stats['edges']:>8,}{stats['elements']:>10,}")
        print(
            f"  aggregates: {stats['aggregates']} (more than {stats['aggregate_over']} of a type in a group); "
            f"elements include finding badges and the Internet node"
        )
        if result.message:
            print(f"  {result.message}")
        print(
            f"\nthe page's data (dashboard.map_cache.map_json), against building it and encoding it every time "
            f"({built_ms:.0f} ms, {len(payload) / 1024:.0f} KiB):"
        )
        for label, runs in (("empty cache (after a sync)", cold), ("cached", warm)):
            ms = statistics.median(runs) * 1000
            print(f"  {label:28} median {ms:7.1f} ms  {ms / built_ms:6.2f}× the baseline  (target ≤ 300 ms)")
        print(f"  payload {len(body) / 1024:.0f} KiB ({len(body) / len(payload):.2f}× the untrimmed JSON)")
        return 0
    finally:
        if args.keep:
            print(f"kept organization {org.slug}")
        else:
            with transaction.atomic():
                org.delete()


if __name__ == "__main__":
    sys.exit(main())
