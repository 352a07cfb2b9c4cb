#!/usr/bin/env python
"""Benchmark of an organization's data export (privacy.exports.build): time and peak memory.

    .venv/bin/python bench/privacy_export.py [--resources 10000 50000] [--keep]

For each size, in the configured database (SQLite under DATA_DIR by default, DATABASE_URL when set):

1. creates an organization with one connection and that many resources (tags and a configuration of a
   few hundred bytes each), one relationship and one change per resource, and a finding for a tenth;
2. builds its export as the Celery task does, measuring the peak of Python memory (tracemalloc) and
   the time;
3. prints rows, archive size, rows per second and the peak, then deletes the organization (--keep: not).

The archive is written row by row from ``.iterator()`` into the zip entry, so the peak should not grow
with the organization: compare the peaks of the two sizes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloustral.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The "your export is ready" emails stay in memory.
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    os.environ.setdefault("DELIVERY_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(total: int):
    from django.utils import timezone

    from accounts.models import User
    from connections.models import CloudConnection
    from findings.models import Finding
    from inventory.models import Relationship, Resource, ResourceChange, SyncRun
    from orgs.models import Membership, Organization

    stamp = f"{int(time.time())}-{total}"
    org = Organization.objects.create(name=f"Bench export {stamp}", slug=f"bench-export-{stamp}")
    owner = User.objects.create_user(email=f"bench-export-{stamp}@example.com")
    Membership.objects.create(org=org, user=owner, role="owner")
    connection = CloudConnection.objects.create(org=org, name="Bench", provider="aws", auth_method="aws_keys")
    run = SyncRun.objects.create(org=org, connection=connection, status="succeeded")
    config = {"instance_type": "m5.large", "state": "running", "block_devices": [f"vol-{i:08x}" for i in range(8)]}
    batch = 5000
    for start in range(0, total, batch):
        rows = [
            Resource(
                org=org, connection=connection, provider="aws", resource_type="aws.ec2.instance", region="eu-west-1",
                native_id=f"arn:aws:ec2:eu-west-1:123456789012:instance/i-{start + i:012x}", name=f"web-{start + i}",
                tags={"env": "prod", "team": f"team-{(start + i) % 40}"}, config=config,
            )
            for i in range(min(batch, total - start))
        ]  # fmt: skip
        Resource.objects.bulk_create(rows)
    ids = list(Resource.objects.for_org(org).order_by("id").values_list("id", "native_id", "name"))
    now = timezone.now()
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        Relationship.objects.bulk_create(
            Relationship(org=org, connection=connection, source_id=a[0], target_id=b[0], kind="attached_to")
            for a, b in zip(chunk, chunk[1:] + chunk[:1], strict=True)
        )
        diff = {"config.state": {"old": "stopped", "new": "running"}}
        ResourceChange.objects.bulk_create(
            ResourceChange(
                org=org, connection=connection, sync_run=run, resource_id=pk, resource_type="aws.ec2.instance",
                native_id=native, name=name, kind="modified", diff=diff,
            )
            for pk, native, name in chunk
        )  # fmt: skip
        Finding.objects.bulk_create(
            Finding(
                org=org, connection=connection, resource_id=pk, rule_id="bench-rule", title="Bench", severity="low",
                category="hygiene", resource_type="aws.ec2.instance", native_id=native, region="eu-west-1",
                last_seen=now,
            )
            for pk, native, _ in chunk[::10]
        )  # fmt: skip
    return org, owner


def measure(total: int, keep: bool, *, quiet: bool = False) -> None:
    from privacy import exports
    from privacy.models import ExportJob

    org, owner = seed(total)
    job = ExportJob.objects.create(kind=ExportJob.Kind.ORG, user=owner, org=org)
    tracemalloc.start()
    started = time.perf_counter()
    status = exports.build(job.pk)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    job.refresh_from_db()
    if not quiet:
        print(
            f"{total:>8,} resources: {status}, {job.rows_written:,} rows in {elapsed:.1f} s "
            f"({job.rows_written / elapsed:,.0f} rows/s), archive {job.file_size / 1e6:.1f} MB, "
            f"peak Python memory {peak / 1e6:.1f} MB"
        )
    if not keep:
        org.delete()  # the export's file goes with its job
        owner.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--keep", action="store_true", help="keep the organizations and their exports")
    args = parser.parse_args()
    setup_django()
    measure(100, keep=False, quiet=True)  # a warm-up: templates and lazy imports load outside the figures
    for total in args.resources:
        measure(total, args.keep)


if __name__ == "__main__":
    main()
