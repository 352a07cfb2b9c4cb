"""Benchmark: the inventory write path, and the findings evaluation after it, against a COPY baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/inventory_write.py [--resources 100000] [--db bench_write] [--keep]

On a scratch PostgreSQL database (``--db``, created and migrated; dropped at the end unless ``--keep``),
with N synthetic AWS resources (volumes, snapshots of them, log groups, queues, tables, functions writing
to log groups, secrets, file systems: ``synthetic_units``) and their relationships, measured in one run:

1. **COPY baseline**: the same resource rows COPY'd into a table created ``LIKE inventory_resource
   INCLUDING ALL`` (the same indexes: B-tree, GIN on tags/config, trigram) plus its two foreign keys
   (organization, connection; deferrable, checked at commit, as Django declares them), from prepared
   text. The ratio is against this one: the sync's COPY into inventory_resource pays the same checks.
   The same COPY without the foreign keys is printed too, with its ratio.
2. **first sync**: ``write_inventory`` into the empty inventory (resources, relationships, change events,
   counts, ANALYZE) in parts of ``sync.WRITE_PART_ROWS`` (one transaction each; ``--part-rows``), then
   the findings evaluation the after-sync hook runs (a full one: the first). ``--one-part`` also writes
   the same estate into a second connection in a single transaction first, for comparison.
3. **unchanged re-sync**: the same records again; then the evaluation with the sync's delta.
4. **10 % modified re-sync**: one record in ten changed (a config value the rules read); then the
   evaluation with the delta, and a full evaluation of the same inventory for comparison.

Normalizing and hashing records happens in the collectors' threads during a real sync (it overlaps the
API calls); it is timed separately. Figures go with the machine's load average at the time: the
machine is shared, so compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]
ACCOUNT = "123456789012"
# (type, share of the resources): non-network types, so that the evaluation after a change stays
# incremental (a change next to instances, subnets or security groups is evaluated in full: exposure).
MIX = [
    ("aws.ec2.volume", 0.25),
    ("aws.ec2.snapshot", 0.25),
    ("aws.logs.log_group", 0.10),
    ("aws.sqs.queue", 0.10),
    ("aws.dynamodb.table", 0.08),
    ("aws.lambda.function", 0.10),
    ("aws.secretsmanager.secret", 0.06),
    ("aws.efs.file_system", 0.06),
]


# --- database and Django --------------------------------------------------------------------------


def database_urls(name: str) -> tuple[str, str]:
    """(the server's maintenance database URL, the scratch database URL)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/ measures PostgreSQL: set DATABASE_URL to a postgres:// URL (or leave it unset).")
    return urlunsplit(parts._replace(path="/postgres")), urlunsplit(parts._replace(path=f"/{name}"))


def ensure_database(admin_url: str, name: str, *, fresh: bool) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloustral.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)  # the cache and eager tasks stay in-process
    if not os.environ.get("ENCRYPTION_KEYS"):
        import base64

        os.environ["ENCRYPTION_KEYS"] = "bench:" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.BILLING_ENFORCE_LIMITS = False  # synthetic orgs larger than any plan

    call_command("migrate", verbosity=0)


# --- the synthetic estate -------------------------------------------------------------------------


def _config(rtype: str, i: int, round_: int) -> dict:
    """A config of the shape the collector stores (keys the catalog's rules read), varied by ``i``."""
    if rtype == "aws.ec2.volume":
        state = "available" if i % 7 == 0 else "in-use"
        return {"volume_id": f"vol-{i:08x}", "size_gb": 8 + i % 500, "volume_type": "gp3", "encrypted": i % 5 != 0} | {
            "state": state,
            "iops": 3000,
            "kms_key_id": None,
            "round": round_,
        }
    if rtype == "aws.ec2.snapshot":
        return {"snapshot_id": f"snap-{i:08x}", "volume_id": f"vol-{i:08x}", "size_gb": 8 + i % 500} | {
            "encrypted": True,
            "start_time": "2025-01-01T00:00:00+00:00",
            "public": False,
            "round": round_,
        }
    if rtype == "aws.logs.log_group":
        return {"name": f"/app/{i}", "retention_days": None if i % 4 == 0 else 30, "stored_bytes": i * 1000} | {
            "kms_key_id": None,
            "round": round_,
        }
    if rtype == "aws.sqs.queue":
        return {"encrypted": i % 3 != 0, "approximate_messages": i % 50, "round": round_}
    if rtype == "aws.dynamodb.table":
        return {"billing_mode": "PAY_PER_REQUEST", "pitr": i % 2 == 0, "item_count": i, "size_bytes": i * 10} | {
            "round": round_
        }
    if rtype == "aws.lambda.function":
        return {"runtime": "python3.12" if i % 6 else "python3.7", "memory_mb": 128, "timeout": 30} | {
            "environment_keys": ["STAGE"],
            "round": round_,
        }
    if rtype == "aws.secretsmanager.secret":
        return {"rotation_enabled": i % 2 == 0, "kms_key_id": None, "last_accessed_date": None, "round": round_}
    return {"encrypted": i % 4 != 0, "size_bytes": i * 100, "throughput_mode": "bursting", "round": round_}


def native_id(rtype: str, region: str, i: int) -> str:
    return f"arn:aws:{rtype.split('.')[1]}:{region}:{ACCOUNT}:{rtype.rsplit('.', 1)[-1]}/bench-{i}"


def synthetic_units(
    n: int, *, round_of: Callable[[int], int] = lambda i: 0, start: int = 0, only: set | None = None
) -> dict:
    """{(type, region): [ResourceRecord]} for resources ``start .. start + n`` (only the units ``only``
    names, when given: the same records as in the whole estate): each snapshot is of a volume, each
    function writes to a log group, in the same region. ``round_of(i)`` varies a config value (a
    modification when it moves)."""
    from inventory.collectors.base import Rel, ResourceRecord

    units: dict[tuple[str, str], list] = {}
    counts = [(rtype, int(n * share)) for rtype, share in MIX]
    counts[0] = (counts[0][0], counts[0][1] + n - sum(c for _, c in counts))
    index = start - 1
    for rtype, count in counts:
        for k in range(count):
            index += 1
            region = REGIONS[k % len(REGIONS)]
            if only is not None and (rtype, region) not in only:
                continue
            relations = []
            if rtype == "aws.ec2.snapshot":
                relations = [Rel("snapshot_of", native_id("aws.ec2.volume", region, start + k))]
            elif rtype == "aws.lambda.function":
                relations = [Rel("writes_to", native_id("aws.logs.log_group", region, _first(counts, 2, start) + k))]
            record = ResourceRecord(
                native_id=native_id(rtype, region, index),
                name=f"{rtype.rsplit('.', 1)[-1]}-{index}",
                config=_config(rtype, index, round_of(index)),
                tags={"Owner": f"team-{index % 9}", "env": "prod" if index % 3 else "dev"},
                relations=relations,
                region=region,
            )
            units.setdefault((rtype, region), []).append(record)
    return units


def _first(counts: list[tuple[str, int]], position: int, start: int) -> int:
    """The index of the first resource of MIX[position] (log groups), for the functions' relations."""
    return start + sum(c for _, c in counts[:position])


def fetch_of(units: dict) -> tuple[object, float]:
    """A FetchResult collecting every unit, records normalized and hashed as the collectors' threads do;
    and the seconds that took. Consumes ``units``: each unit's raw records go once normalized, so the
    estate is never held twice."""
    from inventory import sync
    from inventory.collectors.base import get_collector

    started = time.perf_counter()
    results, planned = [], []
    for rtype, region in sorted(units):
        records = units.pop((rtype, region))
        unit = sync.Unit(get_collector(rtype), region)
        planned.append(unit)
        normalized = [sync._normalize(record, unit) for record in records]
        hashes = [sync.hash_record(record) for record in normalized]
        results.append(sync.UnitResult(unit, sync.COLLECTED, normalized, hashes=hashes))
    return sync.FetchResult(units=planned, results=results), time.perf_counter() - started


# --- the org, connection and runs -----------------------------------------------------------------


def org_and_connection(slug: str, name: str = "Scale"):
    from accounts.models import User
    from connections.models import CloudConnection
    from orgs.models import Membership, Organization

    org, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": name})
    owner, created = User.objects.get_or_create(email=f"owner@{slug}.example")
    if created:
        owner.set_password("bench-password-0123")
        owner.save()
    Membership.objects.for_org(org).get_or_create(user=owner, defaults={"role": Membership.Role.OWNER})
    connection = CloudConnection.objects.for_org(org).filter(name=f"{name} AWS").first()
    if connection is None:
        connection = CloudConnection.objects.for_org(org).create(
            name=f"{name} AWS",
            provider="aws",
            auth_method="aws_role",
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/CloustralReadOnly",
            external_id="cloustral-bench-external-id-0123456789",
            aws_account_id=ACCOUNT,
            enabled_regions=REGIONS,
            status=CloudConnection.Status.VERIFIED,
        )
    return org, owner, connection


def count_parts() -> list[int]:
    """Count the parts (transactions) the writes make from here on: a list that grows by one per part."""
    from inventory import sync

    parts: list[int] = []
    original = sync._write_part

    def counted(*args, **kwargs):
        parts.append(1)
        return original(*args, **kwargs)

    sync._write_part = counted
    return parts


def write(connection, fetch) -> tuple[object, object, float]:
    """One sync's write: (run, summary, seconds)."""
    from django.utils import timezone

    from inventory import sync
    from inventory.models import SyncRun

    run = SyncRun.objects.for_org(connection.org_id).create(
        connection=connection, status=SyncRun.Status.RUNNING, started_at=timezone.now()
    )
    outcome = sync.summarize(fetch)
    started = time.perf_counter()
    summary = sync.write_inventory(run, connection, fetch, outcome)
    return run, summary, time.perf_counter() - started


def evaluate(connection, delta=None) -> tuple[object, float]:
    from findings import lifecycle

    started = time.perf_counter()
    summary = lifecycle.evaluate_connection(connection, delta=delta)
    return summary, time.perf_counter() - started


class _RolledBack(Exception):
    pass


def evaluate_rolled_back(connection) -> tuple[object, float]:
    """A full evaluation whose writes are rolled back: what the hook would cost without the delta."""
    from django.db import transaction

    out = None
    try:
        with transaction.atomic():
            out = evaluate(connection)
            raise _RolledBack
    except _RolledBack:
        pass
    return out


# --- the COPY baseline ----------------------------------------------------------------------------


def copy_baseline(connection, fetch, *, foreign_keys: bool = False) -> float:
    """COPY the same rows, prepared as text beforehand, into a table with inventory_resource's indexes
    (and, with ``foreign_keys``, its two foreign keys, checked at commit as Django declares them)."""
    from django.db import connection as db
    from django.utils import timezone

    from inventory.models import Resource

    now = timezone.now().isoformat()  # prepared text, as the sync's COPY gets it
    rows = [
        (
            connection.org_id,
            connection.pk,
            "aws",
            r.resource_type,
            r.native_id,
            r.region,
            r.name,
            json.dumps(r.tags),
            json.dumps(r.config),
            now,
            now,
            now,
            h[0],
            h[1],
        )
        for result in fetch.results
        for r, h in zip(result.records, result.hashes, strict=True)
    ]
    table = Resource._meta.db_table
    columns = "org_id, connection_id, provider, resource_type, native_id, region, name, tags, config, "
    columns += "first_seen, last_seen, updated_at, content_hash, volatile_hash"
    with db.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute(f"CREATE TABLE bench_copy (LIKE {table} INCLUDING ALL)")
        if foreign_keys:
            for column, target in (("org_id", "orgs_organization"), ("connection_id", "connections_cloudconnection")):
                cursor.execute(
                    f"ALTER TABLE bench_copy ADD FOREIGN KEY ({column}) REFERENCES {target} (id) "
                    "DEFERRABLE INITIALLY DEFERRED"
                )
        started = time.perf_counter()
        with cursor.copy(f"COPY bench_copy ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy")
    return seconds


# --- the run --------------------------------------------------------------------------------------


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--db", default="bench_write")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--part-rows", type=int, default=0, help="resources per transaction (default: the engine's)")
    parser.add_argument("--one-part", action="store_true", help="also time a first write in one transaction")
    args = parser.parse_args()
    n = args.resources
    admin_url, db_url = database_urls(args.db)
    ensure_database(admin_url, args.db, fresh=True)
    try:
        setup_django(db_url)
        run_bench(n, part_rows=args.part_rows, one_part=args.one_part)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(admin_url, args.db)


def run_bench(n: int, *, part_rows: int = 0, one_part: bool = False) -> None:
    from inventory import sync
    from inventory.models import Relationship, Resource

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    _org, _owner, connection = org_and_connection("bench-write", "Bench")
    units = synthetic_units(n)
    fetch, hash_seconds = fetch_of(units)
    del units
    gc.collect()
    print(f"{n:,} synthetic resources; normalize + hash (collector threads): {hash_seconds:.2f}s")

    # Best of two of each, alternated: the machine is shared.
    timings = [(copy_baseline(connection, fetch, foreign_keys=True), copy_baseline(connection, fetch)) for _ in "ab"]
    copy_seconds, bare = min(t[0] for t in timings), min(t[1] for t in timings)
    print(f"COPY baseline (same rows, indexes and foreign keys): {copy_seconds:7.2f}s  (ratios below use this one)")
    print(f"  the same without the foreign keys:                  {bare:7.2f}s")

    sync.WRITE_PART_ROWS = part_rows or sync.WRITE_PART_ROWS
    if one_part:
        _o, _u, other = org_and_connection("bench-write-one-part", "One part")
        rows, sync.WRITE_PART_ROWS = sync.WRITE_PART_ROWS, n * 10
        _run, _summary, single_seconds = write(other, fetch)
        sync.WRITE_PART_ROWS = rows
        print(
            f"first sync write in one transaction:                {single_seconds:7.2f}s  = "
            f"{single_seconds / copy_seconds:.2f}× COPY ({single_seconds / bare:.2f}× without its foreign keys)"
        )
    parts = count_parts()
    _run, first, first_seconds = write(connection, fetch)
    rels = Relationship.objects.for_org(connection.org_id).filter(connection=connection).count()
    print(
        f"first sync write:                                   {first_seconds:7.2f}s  = "
        f"{first_seconds / copy_seconds:.2f}× COPY ({first_seconds / bare:.2f}× without its foreign keys)"
        f"  ({first.created:,} created, {rels:,} relationships; {len(parts)} transactions of "
        f"≤ {sync.WRITE_PART_ROWS:,} resources)"
    )
    full_first, full_first_seconds = evaluate(connection)  # the hook's: no previous evaluation
    print(f"  findings evaluation (full, first):          {full_first_seconds:7.2f}s  ({full_first.opened:,} opened)")

    run, again, again_seconds = write(connection, fetch)
    print(
        f"unchanged re-sync write:                      {again_seconds:7.2f}s  = "
        f"{again_seconds / copy_seconds:.2f}× COPY"
        f"  ({again.unchanged:,} unchanged; goal ≤ 2 s)"
    )
    inc, inc_seconds = evaluate(connection, again.delta(run.pk))
    print(f"  findings evaluation (incremental):          {inc_seconds:7.2f}s  ({inc.resources:,} resources read)")

    del fetch
    gc.collect()
    units = synthetic_units(n, round_of=lambda i: 1 if i % 10 == 3 else 0)
    for (rtype, _region), records in units.items():  # a tenth of the volumes also changes state
        for record in records:
            if rtype == "aws.ec2.volume" and record.config["round"]:
                record.config["state"] = "in-use" if record.config["state"] == "available" else "available"
    fetch, _ = fetch_of(units)
    del units
    run, modified, modified_seconds = write(connection, fetch)
    print(
        f"10% modified re-sync write:                   {modified_seconds:7.2f}s  = "
        f"{modified_seconds / copy_seconds:.2f}× COPY  ({modified.modified:,} modified)"
    )
    full, full_seconds = evaluate_rolled_back(connection)
    print(
        f"  findings evaluation (full, rolled back):    {full_seconds:7.2f}s  ({full.opened:,} opened, "
        f"{full.resolved:,} resolved)"
    )
    inc, inc_seconds = evaluate(connection, modified.delta(run.pk))
    print(
        f"  findings evaluation (incremental):          {inc_seconds:7.2f}s  = {inc_seconds / full_seconds:.2f}× full"
        f"  ({inc.resources:,} resources read, {inc.opened:,} opened, {inc.resolved:,} resolved)"
    )
    check, _ = evaluate(connection)
    print(f"  a full evaluation afterwards changes {check.opened + check.resolved + check.reopened} findings")
    total = Resource.objects.for_org(connection.org_id).filter(connection=connection).count()
    print(f"resources stored: {total:,}; peak RSS {peak_mb():,.0f} MB")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
