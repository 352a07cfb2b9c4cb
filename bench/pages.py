#!/usr/bin/env python
"""Server time of the pages users open every morning, on an organization with 100,000 resources and
20,000 findings in PostgreSQL.

    .venv/bin/python bench/pages.py [--resources 100000] [--findings 20000] [--runs 40] [--keep | --reuse]
    DATABASE_URL=postgres://…/<db> .venv/bin/python bench/pages.py --seeded SLUG   # bench/seed_scale.py's org

1. creates a scratch PostgreSQL database (``cloustral_bench`` on the DATABASE_URL server, default
   postgres://postgres@127.0.0.1:5432; dropped at the end unless --keep) and migrates it;
2. loads one organization: 4 connections (3 AWS, 1 Azure), --resources resources over 6 regions with
   tags and realistic configuration, VPC → subnet → workload relationships, --findings findings, 30 days
   of daily counts, change history and the last sync of each connection;
3. requests each page through Django's test client as the organization's owner (the whole stack:
   middleware, view, queries, template), a few warm-up requests then --runs timed ones, and prints
   the median and p95 server time and the number of SQL queries of each page, against a baseline
   measured in the same run: the cheapest possible authenticated org page (the members list of
   a 1-member org) — so the figures can be read on a slower or faster machine; then the map's data
   with an empty cache (the first visitor after a sync), and the machine's load average.

Pages: the dashboard, the explorer (first page, filtered, text search, page 50), a resource page, the
findings (grouped by rule, flat, a deep page, filtered, text search), compliance, the map page and its
data (the first view the page asks for, and the whole organization).

Goal (issue #22): every daily page's p95 ≤ 2× the baseline's p95 in the same run; the map's data ≤ 300 ms.
--keep keeps the loaded database; --reuse starts from a kept one of the same size (no reload).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "cloustral_bench"
REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-southeast-1", "ap-northeast-1"]
AWS_TYPES = [
    ("aws.ec2.instance", 30),
    ("aws.ec2.volume", 20),
    ("aws.ec2.network_interface", 15),
    ("aws.ec2.security_group", 10),
    ("aws.ec2.snapshot", 8),
    ("aws.s3.bucket", 4),
    ("aws.lambda.function", 5),
    ("aws.rds.db_instance", 3),
    ("aws.elbv2.load_balancer", 2),
    ("aws.iam.role", 3),
]
SEVERITIES = ["critical", "high", "medium", "low", "info"]
CATEGORIES = ["security", "cost", "drift", "hygiene"]


def database_urls(name: str = BENCH_DB) -> tuple[str, str]:
    """(the server's maintenance database URL, the scratch database URL)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/ measures PostgreSQL: set DATABASE_URL to a postgres:// URL (or leave it unset).")
    admin = urlunsplit(parts._replace(path="/postgres"))
    return admin, urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(admin_url: str, *, name: str = BENCH_DB, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(admin_url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def setup_django(db_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloustral.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)  # the cache and eager tasks stay in-process
    if not os.environ.get("ENCRYPTION_KEYS"):
        import base64

        os.environ["ENCRYPTION_KEYS"] = "bench:" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    import django

    django.setup()
    from django.conf import settings

    # Production settings without a collectstatic manifest: plain static URLs (no effect on timings).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def load(n_resources: int, n_findings: int, seed: int = 7):
    """The organization, its owner and one sample resource; prints how long loading took."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from connections import credentials
    from connections.models import CloudConnection
    from findings.models import DailyFindingCount, Finding, RuleStatus
    from inventory.models import DailyCount, Relationship, Resource, ResourceChange, SyncRun
    from orgs.models import Membership, Organization

    rnd = random.Random(seed)
    started = time.perf_counter()
    now = timezone.now()
    org = Organization.objects.create(name="Bench Corp", slug="bench-corp")
    owner = User.objects.create_user(email="owner@bench.example", password="bench-password-1")
    Membership.objects.create(org=org, user=owner, role="owner")
    small = Organization.objects.create(name="Baseline Org", slug="baseline-org")
    Membership.objects.create(org=small, user=owner, role="owner")

    connections = []
    for i in range(4):
        azure = i == 3
        conn = CloudConnection(
            org=org,
            name=f"{'Azure' if azure else 'AWS'} account {i + 1}",
            provider="azure" if azure else "aws",
            auth_method="azure_sp" if azure else "aws_keys",
            status="verified",
            aws_account_id="" if azure else f"11112222{i:04d}",
            enabled_regions=REGIONS,
        )
        secret = (
            {"client_secret": "bench-EXAMPLE"}
            if azure
            else {"access_key_id": "AKIABENCHEXAMPLE0000", "secret_access_key": "x" * 40}
        )
        credentials.store_secret(conn, secret)
        conn.save()
        connections.append(conn)

    weights = [w for _, w in AWS_TYPES]
    types = [t for t, _ in AWS_TYPES]
    azure_types = ["azure.compute.vm", "azure.compute.disk", "azure.network.network_interface", "azure.storage.account"]
    rows: list[Resource] = []
    per_conn = n_resources // len(connections)
    for conn in connections:
        for j in range(per_conn):
            region = REGIONS[j % len(REGIONS)]
            if conn.provider == "azure":
                rtype = azure_types[j % len(azure_types)]
                subscription = f"00000000-0000-0000-0000-00000000000{conn.pk % 10}"
                native = f"/subscriptions/{subscription}/resourcegroups/rg-{j % 50}/providers/{rtype}/r-{j}"
            else:
                rtype = rnd.choices(types, weights)[0]
                service, kind = rtype.split(".")[1], rtype.rsplit(".", 1)[1]
                native = f"arn:aws:{service}:{region}:{conn.aws_account_id}:{kind}/r-{conn.pk}-{j}"
            env = rnd.choice(["prod", "staging", "dev"])
            rows.append(
                Resource(
                    org=org,
                    connection=conn,
                    provider=conn.provider,
                    resource_type=rtype,
                    native_id=native,
                    region=region,
                    name=f"{env}-{rtype.rsplit('.', 1)[1]}-{j:06d}",
                    tags={"env": env, "team": rnd.choice(["web", "data", "platform", "ml"]), "Name": f"r-{j}"},
                    config={
                        "state": rnd.choice(["running", "stopped", "available", "in-use"]),
                        "instance_type": rnd.choice(["t3.micro", "m5.large", "c6g.xlarge"]),
                        "encrypted": rnd.random() > 0.2,
                        "size_gb": rnd.choice([8, 20, 100, 500]),
                        "nested": {"a": j, "b": [1, 2, 3]},
                    },
                    first_seen=now - timedelta(days=rnd.randint(1, 90)),
                    last_seen=now,
                )
            )
    with transaction.atomic():
        Resource.objects.bulk_create(rows, batch_size=5000)
    ids = list(
        Resource.objects.for_org(org)
        .order_by("id")
        .values_list("id", "connection_id", "resource_type", "native_id", "region", "name")
    )
    print(f"  resources: {len(ids):,} in {time.perf_counter() - started:.1f} s")

    # Relationships: every 10th resource is a "subnet" hub for the next nine.
    rels = []
    for k in range(0, len(ids) - 10, 10):
        hub = ids[k]
        for m in range(1, 10):
            child = ids[k + m]
            if child[1] == hub[1]:
                rels.append(
                    Relationship(org=org, connection_id=hub[1], source_id=child[0], target_id=hub[0], kind="in_subnet")
                )
    Relationship.objects.bulk_create(rels, batch_size=5000)

    findings = []
    picked = rnd.sample(ids, min(n_findings, len(ids)))
    for i, (rid, conn_id, rtype, native, region, name) in enumerate(picked):
        category = CATEGORIES[i % len(CATEGORIES)]
        findings.append(
            Finding(
                org=org,
                connection_id=conn_id,
                resource_id=rid,
                rule_id=f"bench-rule-{i % 60}",
                title=f"Bench rule {i % 60}",
                severity=SEVERITIES[i % len(SEVERITIES)],
                category=category,
                resource_type=rtype,
                native_id=native,
                resource_name=name,
                region=region,
                status="open" if i % 5 else "resolved",
                monthly_usd=round(rnd.uniform(1, 200), 2) if category == "cost" else None,
                first_seen=now - timedelta(days=rnd.randint(0, 30)),
                last_seen=now,
            )
        )
    Finding.objects.bulk_create(findings, batch_size=5000)
    from findings import tallies

    for conn in connections:  # what the engine keeps after writing findings
        tallies.recount(org.pk, conn.pk)

    runs = {}
    for conn in connections:
        coverage = {
            t: dict.fromkeys(REGIONS, "collected") for t in (azure_types if conn.provider == "azure" else types)
        }
        runs[conn.pk] = SyncRun.objects.create(
            org=org,
            connection=conn,
            status="succeeded",
            started_at=now,
            finished_at=now,
            coverage=coverage,
            resource_count=per_conn,
            completeness_percent=100.0,
        )
        RuleStatus.objects.bulk_create(
            [
                RuleStatus(
                    org=org,
                    connection=conn,
                    rule_id=f"bench-rule-{r}",
                    verdict=rnd.choice(["pass", "fail", "not_evaluated"]),
                )
                for r in range(60)
            ]
        )
    changes = []
    for rid, conn_id, rtype, native, _region, name in rnd.sample(ids, min(30_000, len(ids))):
        changes.append(
            ResourceChange(
                org=org,
                connection_id=conn_id,
                sync_run=runs[conn_id],
                resource_id=rid,
                resource_type=rtype,
                native_id=native,
                name=name,
                kind="modified",
                diff={"config.state": {"old": "running", "new": "stopped"}},
                created_at=now - timedelta(minutes=rnd.randint(0, 60 * 24 * 30)),
            )
        )
    ResourceChange.objects.bulk_create(changes, batch_size=5000)
    daily, daily_findings = [], []
    for conn in connections:
        for d in range(30):
            day = (now - timedelta(days=d)).date()
            for rtype in types[:5]:
                for region in REGIONS:
                    daily.append(
                        DailyCount(
                            org=org,
                            connection=conn,
                            date=day,
                            resource_type=rtype,
                            region=region,
                            count=rnd.randint(100, 900),
                        )
                    )
            for sev in SEVERITIES:
                for cat in CATEGORIES:
                    daily_findings.append(
                        DailyFindingCount(
                            org=org, connection=conn, date=day, severity=sev, category=cat, count=rnd.randint(10, 300)
                        )
                    )
    DailyCount.objects.bulk_create(daily, batch_size=5000)
    DailyFindingCount.objects.bulk_create(daily_findings, batch_size=5000)
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps: statistics, visibility map
    print(
        f"  loaded {len(ids):,} resources, {len(rels):,} relationships, {len(findings):,} findings, "
        f"{len(changes):,} changes in {time.perf_counter() - started:.1f} s"
    )
    # A well-connected resource for the resource page: a hub with relationships and changes.
    sample = Resource.objects.for_org(org).filter(pk=ids[len(ids) // 2 // 10 * 10][0]).get()
    return org, small, owner, sample


def next_link(html: str) -> str | None:
    """The explorer's "Next" link (a keyset cursor), from its HTML."""
    match = re.search(r'href="([^"]*)"[^>]*data-testid="next-page"', html)
    return match.group(1).replace("&amp;", "&") if match else None


class QueryLog:
    """Counts (and times) the SQL a request runs, through the connection's execute wrapper."""

    def __init__(self) -> None:
        self.queries: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append(((time.perf_counter() - started) * 1000, sql))


def measure(client, url: str, runs: int, warmup: int = 3) -> tuple[float, float, QueryLog]:
    from django.db import connection as db

    for _ in range(warmup):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    log = QueryLog()
    with db.execute_wrapper(log):
        client.get(url)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, log


def prepare(name: str, n_resources: int, n_findings: int, *, reuse: bool):
    """Migrate the scratch database ``name`` and load it (unless ``reuse`` and it is already loaded with
    ``n_resources``); returns (database URL, org, baseline org, owner, sample resource)."""
    admin_url, db_url = database_urls(name)
    loaded = reuse and database_exists(admin_url, name)
    if not loaded:
        recreate_database(admin_url, name=name)
    setup_django(db_url)
    from django.core.management import call_command

    from accounts.models import User
    from inventory.models import Resource
    from orgs.models import Organization

    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(slug="bench-corp").first() if loaded else None
    if org is not None and Resource.objects.for_org(org).count() == n_resources // 4 * 4:
        print(f"reusing {name}: {n_resources:,} resources already loaded")
        small = Organization.objects.get(slug="baseline-org")
        owner = User.objects.get(email="owner@bench.example")
        ids = list(Resource.objects.for_org(org).order_by("id").values_list("id", flat=True))
        sample = Resource.objects.for_org(org).get(pk=ids[len(ids) // 2 // 10 * 10])
        return db_url, org, small, owner, sample
    if loaded:
        recreate_database(admin_url, name=name)
        call_command("migrate", verbosity=0)
    print(f"loading into {name} ...")
    return (db_url, *load(n_resources, n_findings))


def prepare_seeded(slug: str):
    """An organization loaded through the real write path by bench/seed_scale.py into DATABASE_URL's
    database (never dropped), with a 1-member baseline organization of its owner; returns (database URL,
    org, baseline org, owner, sample resource)."""
    db_url = os.environ.get("DATABASE_URL", "")
    if not db_url.startswith("postgres"):
        sys.exit("--seeded reads the database bench/seed_scale.py loaded: set DATABASE_URL to it.")
    setup_django(db_url)
    from django.core.management import call_command

    from accounts.models import User
    from inventory.models import Resource
    from orgs.models import Membership, Organization

    call_command("migrate", verbosity=0)
    org = Organization.objects.get(slug=slug)
    owner = User.objects.get(email=f"owner@{slug}.example")
    small, _ = Organization.objects.get_or_create(slug="baseline-org", defaults={"name": "Baseline Org"})
    Membership.objects.for_org(small).get_or_create(user=owner, defaults={"role": "owner"})
    newest = Resource.objects.for_org(org).order_by("-id").values_list("id", flat=True).first()
    sample = Resource.objects.for_org(org).filter(id__lte=newest // 2).order_by("-id").first() if newest else None
    print(f"seeded organization {slug}: {Resource.objects.for_org(org).count():,} resources")
    return db_url, org, small, owner, sample


def daily_pages(client, org, small, sample) -> list[tuple[str, str]]:
    """(label, URL) of the trivial baseline page then every daily page of ``org`` (follows the explorer's
    Next link 49 times, and reads the map's first-view data URL from the map page, as a browser would)."""
    from django.urls import reverse

    def url(name: str, **kwargs) -> str:
        return reverse(name, kwargs={"org_slug": org.slug, **kwargs})

    explorer = url("dashboard:explorer")
    findings = url("findings:list")
    pages: list[tuple[str, str]] = [
        ("baseline: members of a 1-member org", reverse("orgs:members", kwargs={"org_slug": small.slug})),
        ("dashboard", url("dashboard:home")),
        ("explorer, first page", explorer),
        (
            "explorer, filtered (type + region + tag)",
            f"{explorer}?type=aws.ec2.instance&region=eu-west-1&tag=env%3Dprod",
        ),
        ("explorer, text search", f"{explorer}?q=prod-volume-00012"),
    ]
    page: str | None = explorer
    for _ in range(49):
        page = next_link(client.get(page).content.decode())
        if page is None:
            break
        if page.startswith("?"):
            page = explorer + page
    if page:
        pages.append(("explorer, page 50", page))
    else:
        print("  (could not follow the explorer's Next link to page 50)")
    map_page = url("dashboard:map")
    found = re.search(r'data-data-url="([^"]+)"', client.get(map_page).content.decode())
    pages += [
        ("resource page", url("dashboard:resource", resource_id=sample.pk)),
        ("findings, open (grouped by rule)", findings),
        ("findings, open (flat)", f"{findings}?view=flat"),
        ("findings, flat, page 20", f"{findings}?view=flat&page=20"),
        ("findings, critical cost", f"{findings}?severity=critical&category=cost"),
        ("findings, text search", f"{findings}?view=flat&q=volume-0001"),
        ("compliance", url("findings:compliance")),
        ("map page", map_page),
    ]
    if found:
        pages.append(("map data, first view", found.group(1).replace("&amp;", "&")))
    pages.append(("map data, whole organization", url("dashboard:map_data")))
    return pages


def percentile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_export(client, url: str) -> tuple[float, float, float, float]:
    """(ms to the first chunk, total s, MB sent, peak RSS growth in MB) of a streamed export."""
    import resource

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    response = client.get(url)
    first, size = None, 0
    for chunk in response.streaming_content:
        first = first if first is not None else (time.perf_counter() - started) * 1000
        size += len(chunk)
    total = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
    return first or 0.0, total, size / 1e6, grown


def cold_map(client, url: str, runs: int = 3) -> float:
    """Median time of the map's data with an empty cache (what the first visitor after a sync waits)."""
    from django.core.cache import cache

    times = []
    for _ in range(runs):
        cache.clear()
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept scratch database of the same size")
    parser.add_argument("--slow", type=float, default=0, help="print every query of a page slower than this (ms)")
    parser.add_argument("--seeded", metavar="SLUG", help="measure an organization bench/seed_scale.py loaded")
    parser.add_argument("--exports", action="store_true", help="also stream the inventory and findings exports")
    args = parser.parse_args()

    admin_url, _ = database_urls()
    if args.seeded:
        args.keep = True  # never drop the seeded database
    try:
        if args.seeded:
            _, org, small, owner, sample = prepare_seeded(args.seeded)
        else:
            _, org, small, owner, sample = prepare(BENCH_DB, args.resources, args.findings, reuse=args.reuse)
        from django.test import Client

        client = Client()
        client.force_login(owner)
        pages = daily_pages(client, org, small, sample)
        load_before = os.getloadavg()
        print(f"\n{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'p95 × base':>11} {'queries':>8}")
        baseline_p95 = None
        worst = ("", 0.0)
        for label, page in pages:
            p50, p95, log = measure(client, page, args.runs)
            baseline_p95 = baseline_p95 or p95
            ratio = p95 / baseline_p95
            if not label.startswith(("baseline", "map data")) and ratio > worst[1]:
                worst = (label, ratio)
            print(f"{label:44} {p50:8.1f} {p95:8.1f} {ratio:11.1f} {len(log.queries):8d}")
            for ms, sql in log.queries:
                if args.slow and ms >= args.slow:
                    print(f"    {ms:7.1f} ms  {sql[:400]}")
        for label, page in pages:
            if label.startswith("map data"):
                print(f"{label + ', empty cache':44} {cold_map(client, page):8.1f} (median of 3; target ≤ 300 ms)")
        if args.exports:
            from django.urls import reverse

            for label, name in (
                ("inventory CSV export", "dashboard:explorer_export"),
                ("findings CSV export", "findings:export"),
            ):
                url = reverse(name, kwargs={"org_slug": org.slug, "fmt": "csv"})
                first, total, mb, grown = measure_export(client, url)
                print(
                    f"{label:44} first bytes {first:6.0f} ms, {mb:7.1f} MB in {total:5.1f} s, "
                    f"peak memory +{grown:.0f} MB"
                )
        load_after = os.getloadavg()
        print(
            f"\nworst page: {worst[0]} at {worst[1]:.1f}× the baseline's p95 (goal ≤ 2×) — "
            f"{'met' if worst[1] <= 2 else 'NOT met'}"
        )
        print(f"load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} CPUs")
        return 0
    finally:
        if args.seeded:
            pass
        elif args.keep or args.reuse:
            print(f"kept database {BENCH_DB}")
        else:
            from django.db import connections

            connections.close_all()
            recreate_database(admin_url, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
