"""azure-core's retries are paced by the rate limiter too: AzureContext takes a token in a per-retry pipeline
policy, which runs before every HTTP attempt, so a throttled call's retries spend tokens like any other call
(they used to slip through: the token was taken once per call, in a per-call policy, before the retry
policy). Calls are still counted once, however many times they are retried."""

from __future__ import annotations

import threading
import time

import pytest

from inventory.ratelimit import ARM_SUBSCRIPTION_READS, AZURE_QUOTAS, Quota, RateLimiter
from inventory.sync import SyncCancelled, _Pacer
from tests.fakes.azure_arm import arm_error
from tests.inventory.test_azure_collectors import CLIENT, SECRET, SUB, TENANT, RecordingLimiter, make_context

RG = "rg-Pacing"
VNETS = f"/subscriptions/{SUB}/providers/Microsoft.Network/virtualNetworks"
# An App Service read through the plain-GET helper (_arm), spelled lowercase as some ids are.
SITE_CONFIG = f"/subscriptions/{SUB}/resourcegroups/rg-pacing/providers/microsoft.web/sites/app/config/web"
TINY_RETRY_AFTER = "0.01"  # seconds: azure-core sleeps for it instead of its exponential backoff


@pytest.fixture
def fake(fake_azure):
    fake_azure.add_tenant(TENANT, domain="contoso.onmicrosoft.com")
    fake_azure.add_app(TENANT, CLIENT, SECRET)
    fake_azure.add_subscription(TENANT, SUB, "Contoso Production")
    fake_azure.add_resource_group(SUB, RG, "westeurope")
    fake_azure.add_resource(SUB, RG, "Microsoft.Network/virtualNetworks", "vnet", location="westeurope")
    return fake_azure


def fail_then_answer(fake, path: str) -> None:
    """The first attempt at ``path`` is throttled (429), the second finds the service unavailable (503); the
    third is answered normally. Both failures ask to retry at once."""
    fake.throttle(path, times=1, retry_after=0)
    fake.fail(
        path,
        503,
        arm_error("ServiceUnavailable", "The service is unavailable."),
        times=1,
        headers={"Retry-After": TINY_RETRY_AFTER},
    )


def frozen_limiter() -> tuple[RateLimiter, dict]:
    """A real subscription limiter whose buckets never refill (its clock stands still): what is left in a
    bucket tells how many tokens were taken from it."""
    buckets: dict = {}
    limiter = RateLimiter(
        SUB,
        fraction=1.0,
        quotas=AZURE_QUOTAS,
        account_quota=ARM_SUBSCRIPTION_READS,
        buckets=buckets,
        clock=lambda: 0.0,
    )
    return limiter, buckets


def tokens_taken(buckets: dict, service: str) -> float:
    bucket = buckets[(SUB, "global", service)]
    return bucket.burst - bucket._tokens


@pytest.fixture
def closing():
    made = []
    yield made.append
    for ctx in made:
        ctx.close()


def test_each_retried_attempt_takes_a_token(fake, closing):
    limiter = RecordingLimiter()
    ctx = make_context(limiter)
    closing(ctx)
    fail_then_answer(fake, VNETS)

    vnets = list(ctx.items("network", "virtual_networks.list_all"))

    assert [vnet["name"] for vnet in vnets] == ["vnet"]
    assert [c.status for c in fake.calls(VNETS)] == [429, 503, 200]
    assert limiter.acquired == [("Microsoft.Network", "global")] * 3  # one token per HTTP attempt
    assert ctx.api_calls == 1  # still one call in the run's statistics


def test_the_bucket_is_charged_per_attempt_and_a_normal_call_once(fake, closing):
    limiter, buckets = frozen_limiter()
    ctx = make_context(limiter)
    closing(ctx)

    list(ctx.items("network", "virtual_networks.list_all"))
    assert tokens_taken(buckets, "Microsoft.Network") == 1  # a call answered at once: one token, not two

    fail_then_answer(fake, VNETS)
    list(ctx.items("network", "virtual_networks.list_all"))
    assert tokens_taken(buckets, "Microsoft.Network") == 1 + 3  # two failed attempts and the answer
    assert tokens_taken(buckets, "*") == 4  # Resource Manager's subscription bucket, as every attempt
    assert ctx.api_calls == 2


def test_plain_gets_are_paced_per_attempt_in_their_providers_bucket(fake, closing):
    from inventory.collectors.azure import _arm

    fake.register(SITE_CONFIG, {"properties": {"minTlsVersion": "1.2"}})
    fail_then_answer(fake, SITE_CONFIG)
    limiter, buckets = frozen_limiter()
    ctx = make_context(limiter)
    closing(ctx)

    answer = _arm.get(ctx, SITE_CONFIG, "2023-01-01")

    assert answer["properties"]["minTlsVersion"] == "1.2"
    assert tokens_taken(buckets, "Microsoft.Web") == 3  # "microsoft.web" in the path: the same bucket
    assert (SUB, "global", "Microsoft.Resources") not in buckets  # not the resource client's provider
    assert ctx.api_calls == 1


def test_retries_wait_for_the_bucket(fake, closing):
    """With a bucket of one token at 2/s, each retry of a throttled call waits for its token."""
    slept: list[float] = []
    limiter = RateLimiter(
        SUB,
        fraction=1.0,
        quotas={"Microsoft.Network": Quota(rate=2, burst=1)},
        clock=lambda: 0.0,
        sleep=slept.append,
    )
    ctx = make_context(limiter)
    closing(ctx)
    fail_then_answer(fake, VNETS)

    list(ctx.items("network", "virtual_networks.list_all"))

    assert slept == [0.5, 1.0]  # the second and third attempts, queued behind the first
    assert limiter.waited == 1.5


def test_a_cancelled_run_stops_at_the_next_retry(fake, closing):
    """The pacer raises SyncCancelled inside the pipeline; azure-core's retry policy must not swallow it."""
    cancelled = threading.Event()
    recording = RecordingLimiter()

    class CancelAfterFirstAttempt:
        def acquire(self, service: str, region: str) -> None:
            recording.acquire(service, region)
            cancelled.set()  # the run is cancelled while the first attempt is out

    ctx = make_context(_Pacer(CancelAfterFirstAttempt(), cancelled))
    closing(ctx)
    fake.throttle(VNETS, times=5, retry_after=0)

    started = time.monotonic()
    with pytest.raises(SyncCancelled):
        list(ctx.items("network", "virtual_networks.list_all"))

    assert [c.status for c in fake.calls(VNETS)] == [429]  # no retry was sent
    assert len(recording.acquired) == 1
    assert time.monotonic() - started < 5
