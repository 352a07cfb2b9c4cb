"""Locust users for bench/load_test.py: signed-in members browsing the daily pages.

bench/load_test.py prepares the database and passes, through the environment:
- ``LOAD_TEST_PAGES``: a JSON list of [name, path, weight] (the daily pages of the seeded organization
  and the trivial baseline page);
- ``LOAD_TEST_SESSIONS``: a JSON list of session keys of the member (one per simulated user, reused
  round-robin), so no user logs in during the measurement;
- ``LOAD_TEST_WAIT``: "min,max" seconds a user thinks between two pages (default 1,3).

Every request is named by its page, so locust's statistics come out per page.
"""

from __future__ import annotations

import itertools
import json
import os
import random

from locust import HttpUser, between, task

PAGES: list[tuple[str, str, int]] = [tuple(p) for p in json.loads(os.environ.get("LOAD_TEST_PAGES", "[]"))]
SESSIONS = itertools.cycle(json.loads(os.environ.get("LOAD_TEST_SESSIONS", '[""]')))
WAIT = [float(x) for x in os.environ.get("LOAD_TEST_WAIT", "1,3").split(",")]


class Member(HttpUser):
    wait_time = between(WAIT[0], WAIT[1])

    def on_start(self) -> None:
        self.client.cookies.set("sessionid", next(SESSIONS))

    @task
    def browse(self) -> None:
        name, path, _ = random.choices(PAGES, weights=[w for _, _, w in PAGES])[0]  # noqa: S311
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
