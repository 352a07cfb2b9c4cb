#!/usr/bin/env python
"""Load test: gunicorn with several workers on 127.0.0.1, an organization of 100,000 resources in
PostgreSQL, and locust's simulated members browsing the daily pages.

    .venv/bin/python bench/load_test.py [--resources 100000] [--users 50] [--spawn-rate 10]
        [--duration 60s] [--workers 4] [--port 8765] [--wait 1,3] [--reuse] [--database NAME]

1. prepares a scratch database ``cloustral_load`` the way bench/pages.py does (the same organization
   and a 1-member baseline organization; --reuse keeps a loaded one between runs) and gives the owner's
   organizations a signed-in member (role "member");
2. starts ``gunicorn cloustral.wsgi`` with --workers workers on 127.0.0.1:--port (production settings:
   DEBUG off; plain HTTP and static files without a manifest, nothing else changed);
3. runs ``locust --headless -u USERS -r RATE -t DURATION`` (bench/locustfile.py): each user opens a
   daily page, thinks --wait seconds, opens another; the baseline page is one of them;
4. prints p50/p95/p99 per page, the error count, the requests per second and the load average, then
   stops gunicorn (and drops the database unless --reuse). It stops by itself: locust's run time is
   bounded, and gunicorn is terminated in a ``finally``.

Goal (issue #22): 0 errors, every page's p95 within 2× the baseline page's p95.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402  (bench/pages.py: the same organization and page list)

ROOT = Path(__file__).resolve().parents[1]
LOAD_DB = "cloustral_load"
VENV_BIN = Path(sys.executable).parent
SESSIONS = 10
WEIGHTS = {  # how often a member opens each page, relative
    "baseline": 2,
    "dashboard": 4,
    "explorer, first page": 3,
    "findings, open (grouped by rule)": 3,
    "map page": 1,
    "map data, first view": 1,
}
SKIPPED = ("map data, whole organization",)  # not something a member's browser asks for


def member_sessions(org, small) -> list[str]:
    """Session keys of a member of both organizations, signed in as the login view would."""
    from django.test import Client

    from accounts.models import User
    from orgs.models import Membership

    member, _ = User.objects.get_or_create(email="member@bench.example")
    for o in (org, small):
        Membership.objects.for_org(o).get_or_create(user=member, defaults={"role": "member"})
    keys = []
    for _ in range(SESSIONS):
        client = Client()
        client.force_login(member)
        keys.append(client.cookies["sessionid"].value)
    return keys


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (127.0.0.1 only)
            return
        except urllib.error.HTTPError:
            return  # answering (a redirect to log in or a 404 is an answer)
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer on {url} within {seconds:.0f} s") from None
            time.sleep(0.5)


def server_env(db_url: str) -> dict[str, str]:
    env = {**os.environ}
    env.pop("REDIS_URL", None)  # one machine: each worker's local cache, eager tasks
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="cloustral.settings",
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        STATIC_MANIFEST="false",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    return env


def report(stats_csv: Path, load: tuple[float, float]) -> int:
    """Print p50/p95/p99 per page against the baseline page; returns the error count."""
    with stats_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    by_name = {r["Name"]: r for r in rows}
    base = next((r for name, r in by_name.items() if name.startswith("baseline")), None)
    base_p95 = float(base["95%"]) if base else 0.0
    print(f"\n{'page':44} {'requests':>9} {'errors':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'p95 × base':>11}")
    errors = 0
    for r in rows:
        name = r["Name"]
        fails = int(r["Failure Count"])
        if name != "Aggregated":
            errors += fails
        ratio = f"{float(r['95%']) / base_p95:11.1f}" if base_p95 else f"{'':11}"
        print(
            f"{name:44} {int(r['Request Count']):9d} {fails:7d} {float(r['50%']):7.0f} {float(r['95%']):7.0f} "
            f"{float(r['99%']):7.0f} {ratio}"
        )
    total = by_name.get("Aggregated")
    if total:
        print(f"\nthroughput: {float(total['Requests/s']):.1f} requests/s; errors: {errors}")
    print(f"load average (1 min) at the start / end: {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} CPUs")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--duration", default="60s", help="locust's run time, e.g. 60s or 5m")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--wait", default="1,3", help="seconds a user thinks between pages: min,max")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database for the next run")
    parser.add_argument("--database", default=LOAD_DB, help="scratch database name (bench/pages.py's: cloustral_bench)")
    args = parser.parse_args()

    admin_url, _ = pages.database_urls(args.database)
    server = None
    try:
        db_url, org, small, owner, sample = pages.prepare(
            args.database, args.resources, args.findings, reuse=args.reuse
        )
        from django.db import connection
        from django.test import Client

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps
        client = Client()
        client.force_login(owner)
        page_list = [
            [label, url, WEIGHTS.get(label.split(":")[0], WEIGHTS.get(label, 2))]
            for label, url in pages.daily_pages(client, org, small, sample)
            if label not in SKIPPED
        ]
        sessions = member_sessions(org, small)
        connection.close()

        host = f"http://127.0.0.1:{args.port}"
        print(f"starting gunicorn: {args.workers} workers on {host}")
        server = subprocess.Popen(  # noqa: S603
            [
                str(VENV_BIN / "gunicorn"),
                "cloustral.wsgi",
                "-w",
                str(args.workers),
                "-b",
                f"127.0.0.1:{args.port}",
                "--log-level",
                "warning",
                "--timeout",
                "60",
            ],  # fmt: skip
            cwd=ROOT,
            env=server_env(db_url),
            start_new_session=True,
        )
        wait_until_up(f"{host}/")
        for _label, url, _weight in page_list:  # each worker's first request pays its imports: warm up
            for _ in range(args.workers):
                req = urllib.request.Request(f"{host}{url}", headers={"Cookie": f"sessionid={sessions[0]}"})  # noqa: S310
                try:
                    urllib.request.urlopen(req, timeout=60).read()  # noqa: S310 (127.0.0.1 only)
                except urllib.error.HTTPError as exc:
                    raise SystemExit(f"{url} answered {exc.code} before the test started") from None

        out = Path(tempfile.mkdtemp(prefix="cloustral-load-"))
        env = {
            **os.environ,
            "LOAD_TEST_PAGES": json.dumps(page_list),
            "LOAD_TEST_SESSIONS": json.dumps(sessions),
            "LOAD_TEST_WAIT": args.wait,
        }
        print(f"locust: {args.users} users (+{args.spawn_rate:g}/s) for {args.duration} over {len(page_list)} pages")
        load_start = os.getloadavg()[0]
        subprocess.run(  # noqa: S603
            [
                str(VENV_BIN / "locust"),
                "-f",
                str(ROOT / "bench" / "locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(args.spawn_rate),
                "-t",
                args.duration,
                "--host",
                host,
                "--csv",
                str(out / "run"),
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--stop-timeout",
                "10",
            ],  # fmt: skip
            env=env,
            check=False,
            timeout=_seconds(args.duration) + 120,
        )
        errors = report(out / "run_stats.csv", (load_start, os.getloadavg()[0]))
        return 1 if errors else 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if not args.reuse:
            from django.db import connections

            connections.close_all()
            pages.recreate_database(admin_url, name=args.database, drop_only=True)


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(float(duration[:-1]) * units[duration[-1]]) if duration[-1] in units else int(duration)


if __name__ == "__main__":
    sys.exit(main())
