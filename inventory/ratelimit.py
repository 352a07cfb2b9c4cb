"""Client-side rate limits for scans: a token bucket per (account, region, service), so a scan never
uses more than a fraction (``SYNC_RATE_FRACTION``, default half) of the API quota the customer's own
workloads depend on.

AWS throttles most APIs per account and region with token buckets of its own. The table below seeds
ours from AWS's documented defaults where they exist, and from a conservative guess where AWS does
not publish one. Buckets live in the process (a Celery worker) and are shared by every scan of the
same account in it; retries with backoff (botocore's standard mode) cover the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Quota:
    rate: float  # tokens added per second (sustained requests per second)
    burst: float  # bucket size (requests that may go at once)
    source: str = ""


# Keyed by botocore's endpoint prefix (what AwsContext passes to ``acquire``).
AWS_QUOTAS: dict[str, Quota] = {
    # "Request throttling for the Amazon EC2 API": non-mutating (Describe*) actions, bucket 100, refill 20/s.
    "ec2": Quota(20, 100, "documented: EC2 API throttling, non-mutating actions"),
    # "Request throttling for the Amazon RDS API": burst 300, sustained 12/s per account and region.
    "rds": Quota(12, 300, "documented: RDS API throttling"),
    # "Lambda quotas": control-plane requests (other than GetFunction/GetPolicy) 15/s.
    "lambda": Quota(15, 15, "documented: Lambda control-plane API rate"),
    # "AWS STS quotas": 600 requests/s per account and region.
    "sts": Quota(600, 600, "documented: STS request quota"),
    # "AWS KMS request quotas": ListKeys/ListAliases and most read operations 100/s or more.
    "kms": Quota(50, 50, "documented range 50-2000/s per operation; the lowest read quota we call"),
    # "Quotas, Amazon Route 53": five requests per second per account for the Route 53 API.
    "route53": Quota(5, 5, "documented: Route 53 API requests"),
    # IAM does not publish request quotas; observed throttling starts around 10-20/s per account.
    "iam": Quota(10, 20, "not documented: conservative"),
    # S3 bucket-level control calls (GetBucket*) are not documented separately from data-plane rates.
    "s3": Quota(50, 100, "not documented for control calls: conservative"),
    "elasticloadbalancing": Quota(10, 40, "not documented: conservative"),
    "cloudtrail": Quota(5, 10, "not documented: conservative"),
}
DEFAULT_QUOTA = Quota(5, 10, "default for services without an entry: conservative")


class TokenBucket:
    """A thread-safe token bucket that paces callers instead of refusing them.

    A caller takes a token if there is one; otherwise it reserves the next one (the balance goes
    negative) and sleeps until it is due, outside the lock, so waiting callers queue up in order.
    ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("A token bucket needs rate > 0 and burst >= 1.")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._updated = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; returns how many seconds the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


class RateLimiter:
    """Token buckets per (account, region, service), created on first use. ``acquire(service, region)``
    is what ``AwsContext`` calls before every API call."""

    _create_lock = threading.Lock()  # bucket dicts may be shared between limiters

    def __init__(
        self,
        account_id: str,
        *,
        fraction: float | None = None,
        quotas: dict[str, Quota] | None = None,
        default: Quota = DEFAULT_QUOTA,
        buckets: dict[tuple[str, str, str], TokenBucket] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account_id = account_id
        self.fraction = settings.SYNC_RATE_FRACTION if fraction is None else fraction
        self.quotas = AWS_QUOTAS if quotas is None else quotas
        self.default = default
        self._buckets = {} if buckets is None else buckets
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, for the run's statistics

    def quota_for(self, service: str) -> Quota:
        quota = self.quotas.get(service, self.default)
        return Quota(
            rate=max(quota.rate * self.fraction, 0.1), burst=max(quota.burst * self.fraction, 1.0), source=quota.source
        )

    def bucket(self, service: str, region: str) -> TokenBucket:
        key = (self.account_id, region, service)
        with self._create_lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                quota = self.quota_for(service)
                bucket = TokenBucket(quota.rate, quota.burst, clock=self._clock, sleep=self._sleep)
                self._buckets[key] = bucket
            return bucket

    def acquire(self, service: str, region: str) -> None:
        waited = self.bucket(service, region).acquire()
        if waited:
            with self._lock:
                self.waited += waited


# Buckets shared by every scan in this process: two connections to one account share its quota.
_PROCESS_BUCKETS: dict[tuple[str, str, str], TokenBucket] = {}


def limiter_for_account(account_id: str) -> RateLimiter:
    return RateLimiter(account_id, buckets=_PROCESS_BUCKETS)
