"""The context AWS collectors run in: one boto3 client per (connection, region, service), every call
counted and paced by a client-side rate limit so a scan never throttles the customer's workloads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode with more attempts; adaptive mode would share one limiter across tenants.
SCAN_CONFIG = Config(connect_timeout=10, read_timeout=60, retries={"mode": "standard", "max_attempts": 8})

# What botocore's standard mode retries that no retry will fix: an operation the endpoint does not
# implement, and a 5xx that is not an AWS error document (no error code, only the status: an emulator's or
# a proxy's page), which gets one more try instead of seven with backoff (seconds of sleep per call).
NOT_IMPLEMENTED_CODES = frozenset({"NotImplemented", "NotImplementedException", "UnknownOperationException"})
FOREIGN_5XX_ATTEMPTS = 2


def _veto_hopeless_retry(response=None, attempts: int = 1, **kwargs: Any) -> bool | None:
    """A ``needs-retry`` handler run before botocore's: False stops the retries, None lets it decide."""
    if response is None:
        return None  # no answer at all (connection error): botocore's policy
    http, parsed = response
    status = getattr(http, "status_code", 0) or 0
    code = str(((parsed or {}).get("Error") or {}).get("Code") or "")
    if status == 501 or code in NOT_IMPLEMENTED_CODES:
        return False
    if status >= 500 and (not code or code == str(status)) and attempts >= FOREIGN_5XX_ATTEMPTS:
        return False
    return None


def limit_hopeless_retries(client: Any) -> Any:
    """Register ``_veto_hopeless_retry`` on ``client`` (the scan's clients, and the benchmark's bare ones)."""
    client.meta.events.register_first("needs-retry.*.*", _veto_hopeless_retry)
    return client


class _NoLimit:
    def acquire(self, service: str, region: str) -> None:
        return None


@dataclass
class AwsContext:
    session: boto3.Session
    account_id: str
    region: str  # "global" for global collectors (their clients use us-east-1)
    limiter: Any = field(default_factory=_NoLimit)  # .acquire(service, region) before every call
    config: Config = SCAN_CONFIG
    provider: str = "aws"
    api_calls: int = 0
    _clients: dict[str, Any] = field(default_factory=dict)
    # Two locks: creating a client waits for the session (one creation at a time across the sync), and
    # that wait must not hold up the calls of this region's other workers, which only count.
    _lock: threading.Lock = field(default_factory=threading.Lock)  # creating clients
    _count_lock: threading.Lock = field(default_factory=threading.Lock)  # api_calls

    @property
    def api_region(self) -> str:
        return "us-east-1" if self.region == "global" else self.region

    def client(self, service: str) -> Any:
        made = self._clients.get(service)  # a dict read is atomic: no lock once the client exists
        if made is not None:
            return made
        with self._lock:
            if service not in self._clients:
                made = limit_hopeless_retries(
                    self.session.client(service, region_name=self.api_region, config=self.config)
                )
                # Every API call, whoever makes it (a paginator included), is counted once; every HTTP
                # attempt, botocore's retries included, takes a token from the service's bucket.
                made.meta.events.register("before-call.*.*", self._before_call)
                prefix = made.meta.service_model.endpoint_prefix
                made.meta.events.register("before-send.*.*", lambda **kwargs: self._before_send(prefix))
                self._clients[service] = made
            return self._clients[service]

    def _before_call(self, **kwargs: Any) -> None:
        with self._count_lock:
            self.api_calls += 1

    def _before_send(self, service: str) -> None:
        self.limiter.acquire(service, self.api_region)

    def call(self, service: str, operation: str, **kwargs: Any) -> dict:
        return getattr(self.client(service), operation)(**kwargs)

    def paginate(self, service: str, operation: str, **kwargs: Any) -> Iterator[dict]:
        yield from self.client(service).get_paginator(operation).paginate(**kwargs)
