"""Client-side rate limits: token buckets per (account, region, service) seeded from AWS's documented
quotas, scaled by SYNC_RATE_FRACTION, pacing callers (tested with a fake clock)."""

from __future__ import annotations

import threading
import time

import pytest

from inventory.ratelimit import AWS_QUOTAS, DEFAULT_QUOTA, Quota, RateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_a_bucket_lets_a_burst_through_then_paces_at_its_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert bucket.acquire() == 0
    assert clock.slept == []
    for _ in range(3):
        bucket.acquire()
    assert clock.slept == [0.1, 0.1, 0.1]  # one token every 1/rate seconds
    clock.now += 10  # idle: refills, but never beyond the burst
    clock.slept.clear()
    for _ in range(6):
        bucket.acquire()
    assert clock.slept == [0.1]


def test_waiting_callers_queue_up_in_order():
    """Reservations: callers that arrive together at an empty bucket wait 1/rate, 2/rate, 3/rate..."""
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=1, clock=clock, sleep=clock.sleep)
    assert bucket.reserve() == 0
    assert [bucket.reserve() for _ in range(3)] == [0.25, 0.5, 0.75]


def test_rates_come_from_the_documented_quotas_scaled_by_the_fraction(settings):
    settings.SYNC_RATE_FRACTION = 0.5
    limiter = RateLimiter("123456789012")
    assert AWS_QUOTAS["ec2"].rate == 20 and AWS_QUOTAS["ec2"].burst == 100  # EC2 Describe* bucket
    assert limiter.quota_for("ec2").rate == 10 and limiter.quota_for("ec2").burst == 50
    assert limiter.quota_for("rds").rate == 6
    assert limiter.quota_for("lambda").rate == 7.5
    assert limiter.quota_for("something-new").rate == DEFAULT_QUOTA.rate * 0.5
    assert all(q.source for q in AWS_QUOTAS.values())
    assert RateLimiter("1", fraction=1.0).quota_for("iam").rate == AWS_QUOTAS["iam"].rate


def test_buckets_are_per_account_region_and_service():
    clock = FakeClock()
    quotas = {"ec2": Quota(1, 2), "iam": Quota(1, 1)}
    shared: dict = {}
    a = RateLimiter("111111111111", fraction=1.0, quotas=quotas, buckets=shared, clock=clock, sleep=clock.sleep)
    b = RateLimiter("222222222222", fraction=1.0, quotas=quotas, buckets=shared, clock=clock, sleep=clock.sleep)
    a_again = RateLimiter("111111111111", fraction=1.0, quotas=quotas, buckets=shared, clock=clock, sleep=clock.sleep)

    a.acquire("ec2", "eu-west-1")
    a.acquire("ec2", "eu-west-1")
    b.acquire("ec2", "eu-west-1")  # another account: its own bucket
    a.acquire("ec2", "us-east-1")  # another region
    a.acquire("iam", "us-east-1")  # another service
    assert clock.slept == []
    a_again.acquire("ec2", "eu-west-1")  # the same account's bucket, shared between limiters
    assert clock.slept == [1.0]
    assert a_again.waited == 1.0
    assert set(shared) == {
        ("111111111111", "eu-west-1", "ec2"),
        ("222222222222", "eu-west-1", "ec2"),
        ("111111111111", "us-east-1", "ec2"),
        ("111111111111", "us-east-1", "iam"),
    }


def test_the_limiter_is_thread_safe_and_really_paces():
    limiter = RateLimiter("123456789012", fraction=1.0, quotas={"ec2": Quota(rate=200, burst=10)})
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: [limiter.acquire("ec2", "r") for _ in range(10)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    # 80 calls, 10 free, 70 at 200/s: at least 0.35 s whatever the interleaving.
    assert elapsed >= 0.34
    assert limiter.waited > 0


def test_invalid_buckets_are_refused():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)


def test_the_engine_paces_every_api_call_through_the_limiter(monkeypatch, settings):
    """The AwsContext of a sync calls limiter.acquire(service, region) before each API call."""
    import boto3

    from inventory.collectors.aws.context import AwsContext
    from inventory.sync import _Pacer
    from tests.inventory.collector_helpers import moto_account

    calls = []

    class Recording:
        def acquire(self, service, region):
            calls.append((service, region))

    with moto_account(monkeypatch):
        cancelled = threading.Event()
        ctx = AwsContext(boto3.Session(), "123456789012", "eu-west-1", limiter=_Pacer(Recording(), cancelled))
        ctx.call("ec2", "describe_vpcs")
        list(ctx.paginate("ec2", "describe_subnets"))
        assert calls == [("ec2", "eu-west-1"), ("ec2", "eu-west-1")]
        assert ctx.api_calls == 2
        cancelled.set()
        from inventory.sync import SyncCancelled

        with pytest.raises(SyncCancelled):
            ctx.call("ec2", "describe_vpcs")
