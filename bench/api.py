#!/usr/bin/env python
"""Server time of the REST API's resources and findings endpoints on an organization with 100,000
resources and 20,000 findings in PostgreSQL (the data of bench/pages.py).

    createdb -h 127.0.0.1 -U postgres bench_api
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_api .venv/bin/python bench/api.py [--runs 40]

Uses the database DATABASE_URL names (it must be PostgreSQL, and empty or a previous run's: --reuse
keeps the data loaded by an earlier run). Requests go through Django's test client with an
organization API key (the whole stack: middleware, authentication, rate limit, view, queries, JSON),
a few warm-up requests then --runs timed ones, and the median and p95 of each endpoint are printed with
its SQL query count. Target: p95 under 150 ms, as the pages (issue #8).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import pages  # noqa: E402  (bench/pages.py: data generation and timing, shared)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="use the organization an earlier run loaded")
    args = parser.parse_args()

    db_url = os.environ.get("DATABASE_URL", "")
    if not db_url.startswith("postgres"):
        sys.exit("bench/api.py measures PostgreSQL: set DATABASE_URL to a postgres:// database of your own.")
    pages.setup_django(db_url)
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from api.actions import do_create_api_key
    from orgs.models import Organization

    settings.API_RATE_LIMIT_PER_MINUTE = 10**9  # the bench measures the endpoints, not the limit
    call_command("migrate", verbosity=0)
    existing = Organization.objects.filter(slug="bench-corp").first()
    if existing is not None and not args.reuse:
        sys.exit("This database already holds the bench organization: pass --reuse, or use an empty database.")
    if existing is None:
        print("loading ...")
        org, _small, owner, sample = pages.load(args.resources, args.findings)
    else:
        from inventory.models import Resource
        from orgs.models import Membership

        org = existing
        owner = Membership.objects.for_org(org).select_related("user").get(role="owner").user
        sample = Resource.objects.for_org(org).filter(incoming__kind="in_subnet").order_by("id").first()
    _, token = do_create_api_key(org, user=owner, kind="org", name="bench", scope="read")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    endpoints: list[tuple[str, str]] = [
        ("baseline: connections", "/api/v1/connections/"),
        ("resources, first page", "/api/v1/resources/"),
        (
            "resources, filtered (type+region+tag)",
            "/api/v1/resources/?type=aws.ec2.instance&region=eu-west-1&tag=env%3Dprod",
        ),
        ("resources, text search", "/api/v1/resources/?q=prod-volume-00012"),
        ("resources, with open findings", "/api/v1/resources/?findings=yes"),
    ]
    url: str | None = "/api/v1/resources/"
    for _ in range(49):  # page 50, following `next` as a client would
        url = client.get(url).json()["next"]
        if url is None:
            break
    if url:
        endpoints.append(("resources, page 50", url))
    endpoints += [
        ("resource detail", f"/api/v1/resources/{sample.pk}/"),
        ("findings, open", "/api/v1/findings/"),
        ("findings, critical cost", "/api/v1/findings/?severity=critical&category=cost"),
        ("findings, any status, newest", "/api/v1/findings/?status=any&sort=-last_seen"),
        ("findings, limit 200", "/api/v1/findings/?limit=200"),
    ]
    url = "/api/v1/findings/"
    for _ in range(49):
        url = client.get(url).json()["next"]
        if url is None:
            break
    if url:
        endpoints.append(("findings, page 50", url))
    endpoints.append(("findings in OCSF, first page", "/api/v1/findings/ocsf/"))

    # "× base": p95 over the baseline's p95 (the cheapest endpoint, measured in the same run), so the
    # figures can be read on a slower, faster or busier machine.
    print(f"\n{'endpoint':44} {'median ms':>10} {'p95 ms':>8} {'× base':>7} {'queries':>8}")
    worst = 0.0
    baseline_p95 = None
    for label, endpoint in endpoints:
        median, p95, log = pages.measure(client, endpoint, args.runs)
        baseline_p95 = baseline_p95 or p95
        if not label.startswith("baseline"):
            worst = max(worst, p95)
        print(f"{label:44} {median:10.1f} {p95:8.1f} {p95 / baseline_p95:7.1f} {len(log.queries):8d}")
    print(f"\nworst p95: {worst:.1f} ms (target < 150 ms) — {'met' if worst < 150 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
