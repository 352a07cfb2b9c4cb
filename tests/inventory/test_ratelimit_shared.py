"""Rate limits shared by every worker process and host: with REDIS_URL the buckets live in Redis, taken
and refilled by one atomic script (inventory/ratelimit.py: RedisBuckets), so N processes scanning one
account spend one budget, not N. Without Redis the same interface keeps the buckets in the process.

The Redis tests run where REDIS_URL is set (CI; locally ``REDIS_URL=redis://127.0.0.1:6379/<db> /tmp/qt``)."""

from __future__ import annotations

import importlib.util
import logging
import os
import uuid
from pathlib import Path

import pytest

from inventory import ratelimit
from inventory.ratelimit import LocalBuckets, Quota, RateLimiter, RedisBuckets

ROOT = Path(__file__).resolve().parents[2]
needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI runs it)")


def load_bench():
    """bench/ratelimit.py: its ``--worker`` mode is the worker process of these tests."""
    spec = importlib.util.spec_from_file_location("bench_ratelimit", ROOT / "bench" / "ratelimit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def redis_store():
    client = ratelimit.redis_client(os.environ["REDIS_URL"])
    prefix = f"test:ratelimit:{uuid.uuid4().hex[:8]}:"
    yield RedisBuckets(client, prefix=prefix)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


# --- the store is chosen from settings ------------------------------------------------------------------


def test_without_redis_the_buckets_are_the_process_ones(settings, monkeypatch):
    settings.REDIS_URL = None
    shared: dict = {}
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", shared)
    limiter = ratelimit.limiter_for_account("123456789012")
    assert isinstance(limiter.store, LocalBuckets)
    limiter.acquire("ec2", "eu-west-1")
    assert set(shared) == {("123456789012", "eu-west-1", "ec2")}
    assert ratelimit.bucket_keys() == {("123456789012", "eu-west-1", "ec2")}


def test_with_redis_every_limiter_uses_the_redis_store(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"  # no connection is made until a call
    assert isinstance(ratelimit.limiter_for_account("123456789012").store, RedisBuckets)
    assert isinstance(ratelimit.limiter_for_subscription("00000000-0000-0000-0000-000000000000").store, RedisBuckets)


def test_redis_unreachable_falls_back_to_the_process_buckets(caplog):
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisBuckets(client, fallback=LocalBuckets())
    slept: list[float] = []
    limiter = RateLimiter("123456789012", fraction=1.0, quotas={"ec2": Quota(2, 1)}, store=store, sleep=slept.append)
    with caplog.at_level(logging.WARNING, logger="inventory.ratelimit"):
        limiter.acquire("ec2", "eu-west-1")
        limiter.acquire("ec2", "eu-west-1")
    assert len(slept) == 1 and 0.4 < slept[0] <= 0.5  # still paced, by this process's bucket
    assert "Redis unreachable" in caplog.text


# --- the script ----------------------------------------------------------------------------------------


@needs_redis
def test_the_script_lets_a_burst_through_then_queues_callers_at_the_rate(redis_store):
    key, quota = ("123456789012", "eu-west-1", "ec2"), Quota(rate=4, burst=2)
    waits = [redis_store.reserve([(key, quota)]) for _ in range(5)]
    assert waits[:2] == [0.0, 0.0]
    # Reservations: the third caller waits 1/rate, the next 2/rate... (minus the few ms the calls took).
    assert waits[2:] == pytest.approx([0.25, 0.5, 0.75], abs=0.03)
    assert redis_store.keys() == {key}
    ttl_ms = redis_store.client.pttl(redis_store.redis_key(key))
    assert 0 < ttl_ms <= 60_000  # forgotten a minute after it would be full again (missing means full)


@needs_redis
def test_one_call_takes_from_every_claimed_bucket_and_waits_for_the_later(redis_store):
    """Azure: a resource provider's bucket and Resource Manager's subscription bucket, in one round trip."""
    sub = "00000000-0000-0000-0000-000000000001"
    provider, arm = (sub, "global", "Microsoft.Network"), (sub, "global", ratelimit.ACCOUNT_WIDE)
    claims = [(provider, Quota(100, 100)), (arm, Quota(2, 1))]
    assert redis_store.reserve(claims) == 0.0
    assert redis_store.reserve(claims) == pytest.approx(0.5, abs=0.03)  # the subscription's bucket is empty
    assert redis_store.keys() == {provider, arm}


@needs_redis
def test_buckets_are_per_account_region_and_service(redis_store):
    quota = Quota(1, 1)
    for key in [("111111111111", "eu-west-1", "ec2"), ("222222222222", "eu-west-1", "ec2")]:
        assert redis_store.reserve([(key, quota)]) == 0.0
    assert redis_store.reserve([(("111111111111", "us-east-1", "ec2"), quota)]) == 0.0
    assert redis_store.reserve([(("111111111111", "eu-west-1", "iam"), quota)]) == 0.0
    assert redis_store.reserve([(("111111111111", "eu-west-1", "ec2"), quota)]) > 0.9  # the first one's


# --- several worker processes on one bucket ------------------------------------------------------------


@needs_redis
def test_worker_processes_share_one_bucket_in_redis():
    """Three processes of two threads each call acquire() as fast as they may for 3 seconds against one
    (account, region, service) bucket of 20/s, burst 5. Together they get the bucket's budget (burst + rate
    x seconds), whereas with per-process buckets (the baseline, measured the same way) each one alone
    gets that much."""
    bench = load_bench()
    seconds, rate, burst = 3.0, 20.0, 5.0
    budget = burst + rate * seconds

    shared = bench.run_round("redis", 3, 2, seconds, "ec2", rate, burst)
    assert shared["budget"] == budget
    assert shared["total"] <= budget * 1.02 + 2, shared  # never more than the customer's quota share
    assert shared["total"] >= budget * 0.8, shared  # and the scans are not starved either

    alone = bench.run_round("local", 3, 2, seconds, "ec2", rate, burst)
    assert all(count >= budget * 0.8 for count in alone["per_process"]), alone  # each alone goes that fast
    assert alone["total"] > 2 * budget  # so without Redis, N processes would spend N budgets
