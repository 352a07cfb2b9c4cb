#!/usr/bin/env python
"""Benchmark of the shared rate limits: N worker processes drawing on one (account, region, service) bucket.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/ratelimit.py [--processes 4] [--threads 4]
        [--seconds 5] [--service ec2] [--rate R --burst B]

Each process is what a Celery worker is to a scan: its own interpreter and its threads (SYNC_MAX_WORKERS
units at once) calling ``RateLimiter.acquire`` as fast as the limiter lets them, for --seconds after a
common start. Two rounds on a fresh bucket each:

1. the buckets in Redis (``RedisBuckets``, what production uses): the aggregate of every process must
   stay within burst + rate x seconds, the bucket's budget;
2. the buckets in each process (``LocalBuckets``, the SQLite/eager mode, and what production did before):
   the baseline, where N processes spend N budgets.

It prints, per round, the calls granted per process, the aggregate rate against the configured rate, and
the ratio of the aggregate to the budget (≤ 1 means the customer's quota share is kept). Without --rate
the service's configured quota is used (AWS_QUOTAS scaled by SYNC_RATE_FRACTION).

``--worker`` is one such process (the test tests/inventory/test_ratelimit_shared.py starts them too): it
prints "ready", waits for the start time on stdin, and prints its figures as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"


def configure_settings() -> None:
    """The limiter reads only settings (REDIS_URL, SYNC_RATE_FRACTION): no app loading, so a worker starts fast."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloustral.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def make_limiter(store_name: str, account: str, service: str, rate: float | None, burst: float | None):
    from inventory import ratelimit

    if store_name == "redis":
        store = ratelimit.default_store()
        if not isinstance(store, ratelimit.RedisBuckets):
            raise SystemExit("the redis round needs REDIS_URL")
    else:
        store = ratelimit.LocalBuckets()
    if rate is None:
        return ratelimit.RateLimiter(account, store=store)  # the service's configured quota
    quota = ratelimit.Quota(rate, burst if burst is not None else rate)
    return ratelimit.RateLimiter(account, fraction=1.0, quotas={service: quota}, store=store)


def run_worker(args: argparse.Namespace) -> int:
    configure_settings()
    limiter = make_limiter(args.store, args.account, args.service, args.rate, args.burst)
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    end = start + args.seconds
    granted = [0] * args.threads

    def hammer(index: int) -> None:
        while True:
            limiter.acquire(args.service, REGION)
            if time.time() >= end:  # a token granted after the window is not counted
                return
            granted[index] += 1

    time.sleep(max(0.0, start - time.time()))
    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    quota = limiter.quota_for(args.service)
    print(json.dumps({"granted": sum(granted), "rate": quota.rate, "burst": quota.burst}), flush=True)
    return 0


def run_round(store: str, processes: int, threads: int, seconds: float, service: str, rate, burst, env=None) -> dict:
    """Start the processes, release them together, and collect their figures."""
    account = f"bench-{uuid.uuid4().hex[:12]}"  # a fresh, full bucket
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--store", store]
    command += ["--account", account, "--service", service, "--seconds", str(seconds), "--threads", str(threads)]
    if rate is not None:
        command += ["--rate", str(rate)] + (["--burst", str(burst)] if burst is not None else [])
    workers = [
        subprocess.Popen(  # noqa: S603  (this very script)
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            line = worker.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"a worker did not start: {line!r}")
        start = time.time() + 0.3
        for worker in workers:
            worker.stdin.write(f"{start}\n")
            worker.stdin.flush()
        results = [json.loads(worker.stdout.readline()) for worker in workers]
    finally:
        for worker in workers:
            worker.stdin.close()
            worker.wait(timeout=30)
    quota_rate, quota_burst = results[0]["rate"], results[0]["burst"]
    total = sum(r["granted"] for r in results)
    budget = quota_burst + quota_rate * seconds
    return {
        "per_process": [r["granted"] for r in results],
        "total": total,
        "rate": quota_rate,
        "burst": quota_burst,
        "budget": budget,
        "aggregate_rate": total / seconds,
        "sustained_rate": max(total - quota_burst, 0) / seconds,
        "ratio": total / budget,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per process (a scan's units at once)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--service", default="ec2")
    parser.add_argument("--rate", type=float, help="tokens per second (default: the service's configured quota)")
    parser.add_argument("--burst", type=float)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", choices=["redis", "local"], default="redis", help=argparse.SUPPRESS)
    parser.add_argument("--account", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return run_worker(args)
    if not os.environ.get("REDIS_URL"):
        print("REDIS_URL is required (the shared buckets live in Redis)", file=sys.stderr)
        return 2

    print(f"{args.processes} processes x {args.threads} threads, {args.seconds:g} s, one bucket ({args.service})")
    rounds = {}
    for store, label in (("redis", "shared in Redis"), ("local", "per process (baseline)")):
        figures = run_round(store, args.processes, args.threads, args.seconds, args.service, args.rate, args.burst)
        rounds[store] = figures
        print(f"\nbuckets {label}:")
        print(f"  configured              {figures['rate']:g}/s, burst {figures['burst']:g}")
        print(f"  granted per process     {figures['per_process']}")
        print(f"  granted in all          {figures['total']} (budget burst + rate x seconds = {figures['budget']:g})")
        print(
            f"  aggregate rate          {figures['aggregate_rate']:.1f}/s; beyond the burst "
            f"{figures['sustained_rate']:.1f}/s = {figures['sustained_rate'] / figures['rate']:.2f} x configured"
        )
        print(f"  granted / budget        {figures['ratio']:.3f}")
    print(
        f"\nshared vs per-process buckets: {rounds['redis']['total']} vs {rounds['local']['total']} calls "
        f"({rounds['local']['total'] / max(rounds['redis']['total'], 1):.1f}x fewer with Redis)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
