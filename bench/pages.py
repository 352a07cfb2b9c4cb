#!/usr/bin/env python
"""Server time of the pages users open every morning, on an organization with 100,000 resources and
20,000 findings in PostgreSQL.

    .venv/bin/python bench/pages.py [--resources 100000] [--findings 20000] [--runs 40] [--keep]

1. creates a scratch PostgreSQL database (``cloustral_bench`` on the DATABASE_URL server, default
   postgres://postgres@127.0.0.1:5432; dropped at the end unless --keep) and migrates it;
2. loads one organization: 4 connections (3 AWS, 1 Azure), --resources resources over 6 regions with
   tags and realistic configuration, VPC → subnet → workload relationships, --findings findings, 30 days
   of daily counts, change history and the last sync of each connection;
3. requests each page through Django's test client as the organization's owner (the whole stack:
   middleware, view, queries, template), a few warm-up requests then --runs timed ones, and prints
   the median and p95 server time and the number of SQL queries of each page, against a baseline
   measured in the same run: the cheapest possible authenticated org page (the members list of
   a 1-member org) — so the figures can be read on a slower or faster machine.

Target (issue #8): p95 under 150 ms for the dashboard, the explorer (first page, a filtered page,
page 50) and a resource page.
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


def database_urls() -> tuple[str, str]:
    """(the server's maintenance database URL, the scratch database URL)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/pages.py measures PostgreSQL: set DATABASE_URL to a postgres:// URL (or leave it unset).")
    admin = urlunsplit(parts._replace(path="/postgres"))
    return admin, urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def recreate_database(admin_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


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
        cursor.execute("ANALYZE")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--slow", type=float, default=0, help="print every query of a page slower than this (ms)")
    args = parser.parse_args()

    admin_url, db_url = database_urls()
    recreate_database(admin_url)
    try:
        setup_django(db_url)
        from django.core.management import call_command
        from django.test import Client
        from django.urls import reverse

        call_command("migrate", verbosity=0)
        print(f"loading into {BENCH_DB} ...")
        org, small, owner, sample = load(args.resources, args.findings)
        client = Client()
        client.force_login(owner)

        explorer = reverse("dashboard:explorer", kwargs={"org_slug": org.slug})
        pages: list[tuple[str, str]] = [
            ("baseline: members of a 1-member org", reverse("orgs:members", kwargs={"org_slug": small.slug})),
            ("dashboard", reverse("dashboard:home", kwargs={"org_slug": org.slug})),
            ("explorer, first page", explorer),
            (
                "explorer, filtered (type + region + tag)",
                f"{explorer}?type=aws.ec2.instance&region=eu-west-1&tag=env%3Dprod",
            ),
            ("explorer, text search", f"{explorer}?q=prod-volume-00012"),
        ]
        # Page 50: follow the keyset "Next" link 49 times, as a user would.
        url: str | None = explorer
        for _ in range(49):
            html = client.get(url).content.decode()
            url = next_link(html)
            if url is None:
                break
            if url.startswith("?"):
                url = explorer + url
        if url:
            pages.append(("explorer, page 50", url))
        else:
            print("  (could not follow the explorer's Next link to page 50)")
        pages += [
            ("resource page", reverse("dashboard:resource", kwargs={"org_slug": org.slug, "resource_id": sample.pk})),
            ("findings, open (grouped by rule)", reverse("findings:list", kwargs={"org_slug": org.slug})),
            ("findings, open (flat)", reverse("findings:list", kwargs={"org_slug": org.slug}) + "?view=flat"),
            (
                "findings, critical cost",
                reverse("findings:list", kwargs={"org_slug": org.slug}) + "?severity=critical&category=cost",
            ),
        ]

        print(f"\n{'page':44} {'median ms':>10} {'p95 ms':>8} {'× base':>7} {'queries':>8}")
        baseline_p95 = None
        worst = 0.0
        for label, page in pages:
            median, p95, log = measure(client, page, args.runs)
            baseline_p95 = baseline_p95 or p95
            if not label.startswith("baseline"):
                worst = max(worst, p95)
            print(f"{label:44} {median:10.1f} {p95:8.1f} {p95 / baseline_p95:7.1f} {len(log.queries):8d}")
            for ms, sql in log.queries:
                if args.slow and ms >= args.slow:
                    print(f"    {ms:7.1f} ms  {sql[:400]}")
        print(f"\nworst p95: {worst:.1f} ms (target < 150 ms) — {'met' if worst < 150 else 'NOT met'}")
        return 0
    finally:
        if args.keep:
            print(f"kept database {BENCH_DB}")
        else:
            from django.db import connections

            connections.close_all()
            recreate_database(admin_url, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
