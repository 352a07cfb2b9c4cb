#!/usr/bin/env python
"""Benchmark: a scan's peak memory (collect, write, then the findings evaluation its after-sync hook
runs), with the collected records let go before the hooks run, as the engine does, against a baseline
in which the run holds them until it returns, as it did before.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/sync_memory.py [--resources 100000] [--db bench_sync_memory]

Each mode runs in a process of its own on a fresh scratch database (created, migrated, dropped at the
end): bench/inventory_write.py's synthetic estate goes through ``inventory.sync.run_sync``, the real run
(the write in parts, then every after-sync hook: the first findings evaluation, the map's warm-up), with
the AWS fetcher replaced by one that hands the engine the collected estate. "held" keeps a reference to
what it handed over until the run returns. The figure is each process's peak resident memory
(ru_maxrss), with the interpreter and Django's own share printed as the floor.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import inventory_write as estate  # noqa: E402  (bench/inventory_write.py: the scratch database, the estate)

MODES = ("held", "released")


def child(mode: str, n: int, db: str) -> None:
    admin_url, db_url = estate.database_urls(db)
    estate.ensure_database(admin_url, db, fresh=True)
    try:
        estate.setup_django(db_url)
        floor = estate.peak_mb()
        from inventory import actions, sync
        from inventory.models import SyncRun

        _org, _owner, connection = estate.org_and_connection("bench-memory", "Memory")
        handed: list = [estate.fetch_of(estate.synthetic_units(n))[0]]
        gc.collect()
        kept: list = []

        def fetcher(_connection, _control):
            fetch = handed.pop()  # the engine's reference is then the only one ...
            if mode == "held":
                kept.append(fetch)  # ... unless the run keeps it until it returns (the baseline)
            return fetch

        sync.FETCHERS["aws"] = fetcher
        run, started = actions.do_start_sync(connection, enqueue=False)
        assert started
        began = time.perf_counter()
        run = sync.run_sync(run.pk)
        seconds = time.perf_counter() - began
        assert run.status == SyncRun.Status.SUCCEEDED, run.errors
        print(f"{mode} {estate.peak_mb():.0f} {floor:.0f} {seconds:.2f} {run.created_count}", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        estate.drop_database(admin_url, db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--db", default="bench_sync_memory")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.resources, args.db)
        return

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    figures = {}
    for mode in MODES:
        command = [sys.executable, __file__, "--child", mode, "--resources", str(args.resources), "--db", args.db]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
        _mode, peak, floor, seconds, created = out.split()[-5:]
        figures[mode] = float(peak)
        print(
            f"{mode:>9}: peak RSS {float(peak):7.0f} MB  (Django alone {float(floor):.0f} MB)  "
            f"sync + hooks {float(seconds):6.1f}s  {int(created):,} resources"
        )
    print(f"released / held: {figures['released'] / figures['held']:.2f} of the peak")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
