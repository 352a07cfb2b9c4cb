"""Client-side rate limits for scans: a token bucket per (account, region, service), so a scan never
uses more than a fraction (``SYNC_RATE_FRACTION``, default half) of the API quota the customer's own
workloads depend on.

AWS throttles most APIs per account and region with token buckets of its own. ``AWS_QUOTAS`` seeds
ours from AWS's documented defaults where they exist, and from a conservative guess where AWS does
not publish one (``limiter_for_account``).

Azure throttles twice (``limiter_for_subscription``): Resource Manager per subscription, whatever the
resource provider (one account-wide bucket, ``ARM_SUBSCRIPTION_READS``), then each resource provider
with limits of its own (``AZURE_QUOTAS``, keyed by namespace: the ``service`` AzureContext passes). A
call waits for a token from both.

Where the buckets live is the store's business, behind one interface (``BucketStore.reserve``):
- with REDIS_URL, in Redis (``RedisBuckets``): every worker process on every host draws on the same
  bucket, refilled and taken by one atomic Lua script on Redis's clock; the script answers how long the
  caller must wait, and the caller sleeps here, so no Redis connection is held while waiting;
- without it (SQLite newcomer mode, eager Celery, the demo's threaded worker), in the process
  (``LocalBuckets``), shared by every scan in it. Redis unreachable mid-scan falls back to these too.

Every HTTP attempt takes a token, the SDKs' retries included (AwsContext paces on botocore's
``before-send``, AzureContext with an azure-core per-retry policy), so a throttled call's retries are paced
like any other call; the SDKs' backoff (botocore's standard mode, azure-core's Retry-After) comes on top.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)


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
    # Account and region settings (inventory/collectors/aws/account.py, region_settings.py): a few calls per
    # account or region and scan, each service paced on its own bucket.
    # "Security Hub quotas": most operations (DescribeHub included) 10 requests/s, burst 30.
    "securityhub": Quota(10, 30, "documented: Security Hub API rate, operations other than findings"),
    "guardduty": Quota(5, 10, "not documented per operation: conservative"),
    "config": Quota(5, 10, "not documented for Describe* calls: conservative"),
    "access-analyzer": Quota(5, 10, "not documented for ListAnalyzers: conservative"),
    "account": Quota(2, 5, "not documented (Account Management API, global): conservative"),
    "s3-control": Quota(5, 10, "not documented for GetPublicAccessBlock: conservative"),
    # Containers, data stores, APIs, edge, organization (collectors ecs.py … organizations.py). Figures marked
    # "to verify" are recalled from the service's quota page, not re-checked: kept at or below them.
    # "Request throttling for the Amazon ECS API": cluster read actions, bucket 50, refill 20/s.
    "ecs": Quota(20, 50, "documented: ECS API throttling, cluster read actions (bucket 50, refill 20/s)"),
    "eks": Quota(10, 20, "not documented per operation: conservative"),
    "dynamodb": Quota(10, 20, "not documented as a rate for control-plane reads: conservative"),
    "sqs": Quota(20, 50, "not documented for queue attribute reads (very high in practice): conservative"),
    "sns": Quota(10, 30, "to verify: per-action TPS, ListTopics the lowest we call"),
    "elasticache": Quota(5, 10, "not documented: conservative"),
    # API Gateway's management API (v1 and v2 share the endpoint).
    "apigateway": Quota(5, 20, "to verify: management calls 10/s burst 40 per account, GetResources lower"),
    "secretsmanager": Quota(20, 40, "to verify: ListSecrets / GetResourcePolicy quotas are higher"),
    "api.ecr": Quota(10, 20, "to verify: per-operation rates, DescribeRepositories the lowest we call"),
    "elasticfilesystem": Quota(10, 20, "not documented: conservative"),
    "autoscaling": Quota(10, 20, "not documented (Describe* share a bucket): conservative"),
    "logs": Quota(5, 10, "to verify: DescribeLogGroups 10/s, DescribeMetricFilters 5/s (the lowest we call)"),
    "monitoring": Quota(9, 9, "to verify: CloudWatch DescribeAlarms 9 TPS"),
    "acm": Quota(8, 8, "to verify: ACM ListCertificates 8/s, DescribeCertificate 10/s"),
    "wafv2": Quota(5, 10, "not documented for reads: conservative"),
    # CloudFront's control plane is global (us-east-1); its read quotas are not published.
    "cloudfront": Quota(5, 10, "not documented for ListDistributions / GetDistributionConfig: conservative"),
    "organizations": Quota(5, 10, "not documented per operation (throttled per account): conservative"),
}
DEFAULT_QUOTA = Quota(5, 10, "default for services without an entry: conservative")

# Azure Resource Manager, "Understand how Azure Resource Manager throttles requests"
# (learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
# Since 2024, public-cloud subscriptions are throttled by a token bucket per subscription, principal and
# region: reads have a bucket of 250 and refill 25/s.
ARM_SUBSCRIPTION_READS = Quota(25, 250, "documented: ARM token bucket, subscription reads (bucket 250, 25/s)")
# The model the sovereign clouds still document (docs.azure.cn): 12,000 reads per hour per subscription
# and principal, i.e. 3.3/s; the burst stays small so that a scan never spends the hour's budget at once.
ARM_SUBSCRIPTION_READS_HOURLY = Quota(12000 / 3600, 100, "documented: ARM hourly model, 12,000 reads/hour")
# Resource providers' own read limits (the same page, "Resource provider limits"), keyed by the namespace
# AzureContext passes to ``acquire`` (inventory.collectors.azure.context.namespace_of).
AZURE_QUOTAS: dict[str, Quota] = {
    # Resource groups and the generic resource list are Resource Manager's own: its subscription quota.
    "Microsoft.Resources": ARM_SUBSCRIPTION_READS,
    # "Network throttling": read (GET) 10,000 per 5 minutes.
    "Microsoft.Network": Quota(10000 / 300, 100, "documented: Microsoft.Network reads, 10,000 per 5 minutes"),
    # "Storage throttling": management reads 800 per 5 minutes (lists 100 per 5 minutes; one per scan).
    "Microsoft.Storage": Quota(800 / 300, 20, "documented: storage account management reads, 800 per 5 minutes"),
    # Compute publishes its policies (HighCostGet3Min...) only in response headers, without defaults.
    "Microsoft.Compute": Quota(5, 20, "not documented (policies in x-ms-ratelimit-remaining-resource): conservative"),
    "Microsoft.Sql": Quota(5, 10, "not documented: conservative"),
    "Microsoft.KeyVault": Quota(5, 10, "not documented for the management plane: conservative"),
    # Platform, monitoring and governance providers (collectors aks.py … subscription.py). None publishes a
    # read quota of its own for these calls; Resource Manager's subscription bucket paces them all as well.
    "Microsoft.ContainerService": Quota(5, 10, "not documented for managedClusters reads: conservative"),
    "Microsoft.Web": Quota(5, 20, "not documented (several calls per site): conservative"),
    "Microsoft.DocumentDB": Quota(5, 10, "not documented for the management plane: conservative"),
    "Microsoft.ContainerRegistry": Quota(5, 10, "not documented for the management plane: conservative"),
    "Microsoft.OperationalInsights": Quota(5, 10, "not documented for workspace reads: conservative"),
    # One call per monitored resource; Azure Monitor's documented API limit is per subscription and higher.
    "Microsoft.Insights": Quota(5, 20, "not documented for diagnosticSettings reads: conservative"),
    "Microsoft.Security": Quota(2, 5, "not documented: conservative (three list calls per subscription)"),
    "Microsoft.Authorization": Quota(5, 10, "not documented (role definitions read once each): conservative"),
    "Microsoft.ManagedServices": Quota(2, 5, "not documented: conservative (one call per subscription)"),
    # Tenant-level reads (no subscription in the path): paced with the subscription that asks.
    "Microsoft.Subscription": Quota(1, 2, "not documented: conservative (one call per subscription)"),
    "microsoft.aadiam": Quota(1, 2, "not documented: conservative (one call per subscription)"),
}
AZURE_DEFAULT_QUOTA = Quota(5, 10, "default for resource providers without an entry: conservative")
ACCOUNT_WIDE = "*"  # the service name of an account-wide bucket (Resource Manager's per subscription)


BucketKey = tuple[str, str, str]  # (account or subscription, region, service)


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


class BucketStore(Protocol):
    """Where buckets live. ``reserve`` takes one token from each claimed bucket (created full on first
    use) and returns how long the caller must wait before its call: the latest of the reservations."""

    def reserve(self, claims: Sequence[tuple[BucketKey, Quota]]) -> float: ...

    def keys(self) -> set[BucketKey]: ...


class LocalBuckets:
    """Buckets in this process, in a dict the limiters handed the same one share."""

    _create_lock = threading.Lock()  # the dict may be shared between stores

    def __init__(
        self, buckets: dict[BucketKey, TokenBucket] | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.buckets = {} if buckets is None else buckets
        self._clock = clock

    def bucket(self, key: BucketKey, quota: Quota) -> TokenBucket:
        with self._create_lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(quota.rate, quota.burst, clock=self._clock)
                self.buckets[key] = bucket
            return bucket

    def reserve(self, claims: Sequence[tuple[BucketKey, Quota]]) -> float:
        return max((self.bucket(key, quota).reserve() for key, quota in claims), default=0.0)

    def keys(self) -> set[BucketKey]:
        return set(self.buckets)


# The same reservation as TokenBucket.reserve, atomically in Redis for every bucket of a call at once.
# KEYS: the buckets; ARGV: each one's rate and burst, in the same order. Redis's own clock, so that
# every host agrees on the refill. An idle bucket expires (missing means full) once it would be full
# again, and not within a minute of its last use, so the buckets of a scan in progress stay visible.
RESERVE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait = 0
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1])
  local at = tonumber(state[2])
  if tokens == nil or at == nil then
    tokens = burst
  else
    tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  end
  tokens = tokens - 1
  redis.call('HSET', key, 'tokens', string.format('%.17g', tokens), 'at', string.format('%.6f', now))
  redis.call('PEXPIRE', key, math.max(60000, math.ceil((burst - tokens) / rate * 1000) + 1000))
  if tokens < 0 then
    wait = math.max(wait, -tokens / rate)
  end
end
return string.format('%.6f', wait)
"""
REDIS_PREFIX = "cloustral:ratelimit:"


class RedisBuckets:
    """Buckets in Redis, shared by every process and host scanning the same account. One round trip
    (EVALSHA) per call; the wait happens in the caller. If Redis cannot be reached, the call is paced by
    ``fallback`` (this process's buckets) rather than fail the scan."""

    def __init__(self, client: Any, *, fallback: LocalBuckets | None = None, prefix: str = REDIS_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self.fallback = fallback if fallback is not None else LocalBuckets()
        self._script = client.register_script(RESERVE_SCRIPT)

    def redis_key(self, key: BucketKey) -> str:
        account, region, service = key
        return f"{self.prefix}{account}:{region}:{service}"

    def reserve(self, claims: Sequence[tuple[BucketKey, Quota]]) -> float:
        import redis

        keys = [self.redis_key(key) for key, _quota in claims]
        args = [value for _key, quota in claims for value in (quota.rate, quota.burst)]
        try:
            return float(self._script(keys=keys, args=args))
        except redis.RedisError as exc:
            _warn_fallback(exc)
            return self.fallback.reserve(claims)

    def keys(self) -> set[BucketKey]:
        found = set()
        for raw in self.client.scan_iter(match=f"{self.prefix}*", count=1000):
            name = raw.decode() if isinstance(raw, bytes) else raw
            account, region, service = name[len(self.prefix) :].rsplit(":", 2)
            found.add((account, region, service))
        return found


_last_fallback_warning = 0.0


def _warn_fallback(exc: Exception) -> None:
    global _last_fallback_warning
    now = time.monotonic()
    if now - _last_fallback_warning >= 60:  # once a minute, not once per API call
        _last_fallback_warning = now
        logger.warning("rate limits: Redis unreachable (%s); pacing with this process's buckets", type(exc).__name__)


class RateLimiter:
    """Token buckets per (account, region, service) in a ``BucketStore``. ``acquire(service, region)``
    is what ``AwsContext`` and ``AzureContext`` call before every HTTP attempt. With ``account_quota``,
    every call also takes a token from one bucket per account (key ``(account, region, "*")``): Azure
    Resource Manager's subscription limit, which every resource provider's calls share.

    Without ``store``, the buckets are this limiter's own (or those of ``buckets``, a dict shared between
    limiters); ``limiter_for_account`` and ``limiter_for_subscription`` pass the configured store."""

    def __init__(
        self,
        account_id: str,
        *,
        fraction: float | None = None,
        quotas: dict[str, Quota] | None = None,
        default: Quota = DEFAULT_QUOTA,
        account_quota: Quota | None = None,
        store: BucketStore | None = None,
        buckets: dict[BucketKey, TokenBucket] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account_id = account_id
        self.fraction = settings.SYNC_RATE_FRACTION if fraction is None else fraction
        self.quotas = AWS_QUOTAS if quotas is None else quotas
        self.default = default
        self.account_quota = account_quota
        self.store: BucketStore = store if store is not None else LocalBuckets(buckets, clock=clock)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._scaled: dict[str, Quota] = {}
        self.waited = 0.0  # seconds spent waiting, for the run's statistics

    def quota_for(self, service: str) -> Quota:
        scaled = self._scaled.get(service)
        if scaled is None:
            if service == ACCOUNT_WIDE and self.account_quota is not None:
                quota = self.account_quota
            else:
                quota = self.quotas.get(service, self.default)
            scaled = Quota(
                rate=max(quota.rate * self.fraction, 0.1),
                burst=max(quota.burst * self.fraction, 1.0),
                source=quota.source,
            )
            self._scaled[service] = scaled
        return scaled

    def acquire(self, service: str, region: str) -> None:
        # Reserve in each bucket at once, then wait once for the later of the reservations.
        claims = [((self.account_id, region, service), self.quota_for(service))]
        if self.account_quota is not None:
            claims.append(((self.account_id, region, ACCOUNT_WIDE), self.quota_for(ACCOUNT_WIDE)))
        wait = self.store.reserve(claims)
        if wait > 0:
            self._sleep(wait)
            with self._lock:
                self.waited += wait


# Without Redis, buckets shared by every scan in this process: two connections to one account share its quota.
_PROCESS_BUCKETS: dict[BucketKey, TokenBucket] = {}
_redis_clients: dict[str, Any] = {}
_redis_clients_lock = threading.Lock()


def redis_client(url: str) -> Any:
    """One client (and connection pool) per URL and process; redis-py renews the pool after a fork."""
    with _redis_clients_lock:
        client = _redis_clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
            _redis_clients[url] = client
        return client


def default_store() -> BucketStore:
    """Redis when REDIS_URL is set (every worker process and host shares the buckets), else this process's."""
    local = LocalBuckets(_PROCESS_BUCKETS)
    if not settings.REDIS_URL:
        return local
    return RedisBuckets(redis_client(settings.REDIS_URL), fallback=local)


def bucket_keys() -> set[BucketKey]:
    """The buckets that exist in the configured store (for support and tests)."""
    return default_store().keys()


def limiter_for_account(account_id: str) -> RateLimiter:
    """The limiter of an AWS account's scan."""
    return RateLimiter(account_id, store=default_store())


def limiter_for_subscription(subscription_id: str, cloud: str = "public") -> RateLimiter:
    """The limiter of an Azure subscription's scan: the resource providers' quotas and Resource Manager's
    subscription bucket (the token bucket in Azure's public cloud, the hourly model elsewhere)."""
    arm = ARM_SUBSCRIPTION_READS if cloud in ("", "public") else ARM_SUBSCRIPTION_READS_HOURLY
    return RateLimiter(
        subscription_id.lower(),
        quotas=AZURE_QUOTAS,
        default=AZURE_DEFAULT_QUOTA,
        account_quota=arm,
        store=default_store(),
    )
