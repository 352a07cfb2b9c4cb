#!/usr/bin/env python
"""Time to build an automation's summary (digest) for an organization with 100,000 resources and 20,000
findings in PostgreSQL, and the number of queries it runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_automations .venv/bin/python bench/digest.py \
        [--resources 100000] [--findings 20000] [--runs 10]

1. migrates the database named in DATABASE_URL (its name must start with "bench": the script empties it)
   and empties it;
2. loads one organization with bench/pages.py's loader (4 connections, resources, relationships,
   findings, change history, daily counts), then a week of finding history: every finding opened in the
   last 7 days (its "opened" event), a fifth of them resolved, some of those reopened, and four scans a
   day per connection, one in ten failed or partial;
3. builds the daily digest (the last 24 hours) and the weekly one (the last 7 days), unfiltered and with
   filters, --runs times each after a warm-up, and prints the median and worst time and the queries.

Target (issue #14): under 2 s, with a query count that does not grow with the data.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pages import QueryLog, load, setup_django  # noqa: E402


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/digest.py measures PostgreSQL: set DATABASE_URL=postgres://…/bench_automations")
    if not parts.path.strip("/").startswith("bench"):
        sys.exit("The database in DATABASE_URL must be a scratch one whose name starts with 'bench' (it is emptied).")
    return url


def add_history(org, seed: int = 11) -> tuple[int, int]:
    """A week of finding events and scans; returns (events, runs) created."""
    from django.utils import timezone

    from connections.models import CloudConnection
    from findings.models import Finding, FindingEvent
    from inventory.models import SyncRun

    rnd = random.Random(seed)
    now = timezone.now()
    events = []
    rows = Finding.objects.for_org(org).values_list("pk", "status")
    for pk, status in rows.iterator(chunk_size=5000):
        opened = now - timedelta(minutes=rnd.randint(30, 7 * 24 * 60))
        events.append(FindingEvent(org=org, finding_id=pk, kind="opened", at=opened))
        if status == "resolved" or rnd.random() < 0.05:
            resolved = opened + (now - opened) * rnd.uniform(0.2, 0.6)
            events.append(FindingEvent(org=org, finding_id=pk, kind="resolved", at=resolved))
            if status == "open":
                events.append(FindingEvent(org=org, finding_id=pk, kind="reopened", at=resolved + (now - resolved) / 2))
    FindingEvent.objects.bulk_create(events, batch_size=5000)
    runs = []
    for conn in CloudConnection.objects.for_org(org):
        for hours in range(0, 7 * 24, 6):
            finished = now - timedelta(hours=hours, minutes=5)
            status = rnd.choice(["failed", "partial"]) if rnd.random() < 0.1 else "succeeded"
            runs.append(
                SyncRun(
                    org=org,
                    connection=conn,
                    status=status,
                    started_at=finished - timedelta(minutes=4),
                    finished_at=finished,
                    completeness_percent=100.0 if status == "succeeded" else rnd.uniform(40, 95),
                    created_count=rnd.randint(0, 40),
                    modified_count=rnd.randint(0, 200),
                    deleted_count=rnd.randint(0, 30),
                    errors=[{"code": "x", "message": "AccessDenied on ec2:DescribeInstances"}]
                    if status == "failed"
                    else [],
                )
            )
    SyncRun.objects.bulk_create(runs, batch_size=2000)
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("ANALYZE")
    return len(events), len(runs)


def measure(build, runs: int) -> tuple[float, float, int]:
    from django.db import connection as db

    build()  # warm-up
    log = QueryLog()
    with db.execute_wrapper(log):
        build()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        build()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times), len(log.queries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    setup_django(database_url())
    from django.core.management import call_command
    from django.utils import timezone

    from automations.digest import DigestFilters, build_digest
    from connections.models import CloudConnection

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    print(f"loading {args.resources:,} resources and {args.findings:,} findings ...")
    org, _small, _owner, _sample = load(args.resources, args.findings)
    events, scans = add_history(org)
    print(f"  + {events:,} finding events and {scans:,} scans over the last 7 days")

    now = timezone.now()
    first = CloudConnection.objects.for_org(org).order_by("id").first()
    cases = [
        ("daily, every finding", DigestFilters(), timedelta(days=1)),
        ("weekly, every finding", DigestFilters(), timedelta(days=7)),
        (
            "weekly, high+ security on one connection",
            DigestFilters(connection_ids=(first.pk,), min_severity="high", categories=("security",)),
            timedelta(days=7),
        ),
        ("weekly, cost only", DigestFilters(categories=("cost",)), timedelta(days=7)),
    ]
    print(f"\n{'digest':44} {'median s':>9} {'worst s':>8} {'queries':>8}  summary")
    worst = 0.0
    for label, filters, span in cases:
        digest = build_digest(org, filters, now - span, now)
        median, slowest, queries = measure(lambda f=filters, s=span: build_digest(org, f, now - s, now), args.runs)
        worst = max(worst, slowest)
        summary = (
            f"{digest.new_total:,} new, {digest.regressed_total:,} regressed, {digest.resolved_total:,} resolved, "
            f"waste {digest.waste_delta:+,.2f} USD, {digest.scans_failed_total} scans failed/partial"
        )
        print(f"{label:44} {median:9.3f} {slowest:8.3f} {queries:8d}  {summary}")
    print(f"\nworst: {worst:.3f} s (target < 2 s) — {'met' if worst < 2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
