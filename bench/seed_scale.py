"""Load a synthetic organization of N resources through the real write path, in batches.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python bench/seed_scale.py --resources 1000000 --org scale [--batch 100000] [--no-findings]

Into the database DATABASE_URL names (created if missing, migrated; never dropped), for the page and load
benchmarks: the organization ``--org`` (slug) with its owner ``owner@<org>.example`` (password
``bench-password-0123``), one verified AWS connection, N resources of bench/inventory_write.py's mix
(volumes, snapshots of them, log groups, queues, tables, functions writing to log groups, secrets, file
systems) in five regions with their relationships, and the findings of a full evaluation.

Each batch is one sync run over some (type, region) units, written by ``inventory.sync.write_inventory``
(the other units are not in its coverage, so they are kept): targets of relationships are written before
their sources. A last run records every unit as collected, as a full scan would, and the findings engine
evaluates the connection. Idempotent: run again, every batch is an unchanged re-sync (nothing written) and
the evaluation changes nothing; a different N adds or removes what differs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import inventory_write as estate  # noqa: E402 (bench/ is not a package)


def unit_batches(n: int, batch: int) -> list[list[tuple[str, str]]]:
    """The (type, region) units of the estate in MIX order (volumes and log groups before what points at
    them), grouped into batches of about ``batch`` resources."""
    sizes = {}
    counts = [(rtype, int(n * share)) for rtype, share in estate.MIX]
    counts[0] = (counts[0][0], counts[0][1] + n - sum(c for _, c in counts))
    for rtype, count in counts:
        for k, region in enumerate(estate.REGIONS):
            sizes[(rtype, region)] = len(range(k, count, len(estate.REGIONS)))
    batches: list[list[tuple[str, str]]] = [[]]
    filled = 0
    for unit, size in sizes.items():
        if batches[-1] and filled + size > batch:
            batches.append([])
            filled = 0
        batches[-1].append(unit)
        filled += size
    return batches


def record_full_coverage(connection) -> None:
    """The run a full scan would leave: every unit collected (the findings engine evaluates what the last
    run covered)."""
    from django.utils import timezone

    from inventory.models import SyncRun

    coverage = {rtype: dict.fromkeys(estate.REGIONS, "collected") for rtype, _ in estate.MIX}
    now = timezone.now()
    SyncRun.objects.for_org(connection.org_id).create(
        connection=connection,
        status=SyncRun.Status.SUCCEEDED,
        started_at=now,
        finished_at=now,
        heartbeat_at=now,
        coverage=coverage,
        completeness_percent=100.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--org", default="scale", help="the organization's slug")
    parser.add_argument("--batch", type=int, default=100_000, help="resources per sync run")
    parser.add_argument("--no-findings", action="store_true", help="skip the evaluation")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_scale")
    name = base.rsplit("/", 1)[-1]
    admin_url, db_url = estate.database_urls(name)
    estate.ensure_database(admin_url, name, fresh=False)
    estate.setup_django(db_url)

    from inventory.models import Relationship, Resource

    org, owner, connection = estate.org_and_connection(args.org, args.org.replace("-", " ").title())
    started = time.perf_counter()
    for i, units in enumerate(unit_batches(args.resources, args.batch), 1):
        fetch, _ = estate.fetch_of(estate.synthetic_units(args.resources, only=set(units)))
        _run, summary, seconds = estate.write(connection, fetch)
        print(
            f"batch {i}: {len(units)} units, {summary.created:,} created, {summary.modified:,} modified, "
            f"{summary.deleted:,} deleted, {summary.unchanged:,} unchanged in {seconds:.1f}s"
        )
        del fetch
    record_full_coverage(connection)
    resources = Resource.objects.for_org(org).count()
    relationships = Relationship.objects.for_org(org).count()
    print(f"{resources:,} resources, {relationships:,} relationships in {time.perf_counter() - started:.0f}s")
    if not args.no_findings:
        summary, seconds = estate.evaluate(connection)
        print(f"findings: {summary.open_total:,} open ({summary.opened:,} opened) in {seconds:.1f}s")
    print(f"org {org.slug!r}, owner {owner.email}; database {name}")


if __name__ == "__main__":
    main()
