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
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_region(self) -> str:
        return "us-east-1" if self.region == "global" else self.region

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                made = self.session.client(service, region_name=self.api_region, config=self.config)
                # Every API call, whoever makes it (a paginator included), is paced and counted.
                made.meta.events.register("before-call.*.*", self._before_call)
                self._clients[service] = made
            return self._clients[service]

    def _before_call(self, model=None, **kwargs: Any) -> None:
        service = model.service_model.endpoint_prefix if model is not None else "unknown"
        self.limiter.acquire(service, self.api_region)
        with self._lock:
            self.api_calls += 1

    def call(self, service: str, operation: str, **kwargs: Any) -> dict:
        return getattr(self.client(service), operation)(**kwargs)

    def paginate(self, service: str, operation: str, **kwargs: Any) -> Iterator[dict]:
        yield from self.client(service).get_paginator(operation).paginate(**kwargs)
