"""botocore's retries are paced by the rate limiter too: AwsContext takes a token on ``before-send``, which
botocore emits for every HTTP attempt, so a throttled call's retries spend tokens like any other call
(they used to slip through: the token was taken once per call, on ``before-call``)."""

from __future__ import annotations

import threading

import boto3
from botocore.awsrequest import AWSResponse

from inventory.collectors.aws.context import AwsContext
from inventory.ratelimit import Quota, RateLimiter
from inventory.sync import _Pacer
from tests.inventory.collector_helpers import moto_account

THROTTLED = (
    b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    b"</Error></Errors><RequestID>r-1</RequestID></Response>"
)


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **kwargs):
        yield self.content


def throttle_first(attempts: int):
    """A before-send handler answering the first ``attempts`` HTTP attempts with EC2's throttling error
    (what AWS sends when the account's bucket is empty); later attempts go through to moto."""
    seen = {"attempts": 0}

    def handler(request, **kwargs):
        seen["attempts"] += 1
        if seen["attempts"] <= attempts:
            return AWSResponse(request.url, 503, {}, _Body(THROTTLED))
        return None

    return handler, seen


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def acquire(self, service: str, region: str) -> None:
        self.calls.append((service, region))


def test_each_retried_attempt_takes_a_token(monkeypatch):
    limiter = Recording()
    with moto_account(monkeypatch):
        ctx = AwsContext(boto3.Session(), "123456789012", "eu-west-1", limiter=_Pacer(limiter, threading.Event()))
        client = ctx.client("ec2")
        handler, seen = throttle_first(2)
        client.meta.events.register("before-send.ec2.DescribeVpcs", handler)

        response = ctx.call("ec2", "describe_vpcs")

    assert response["ResponseMetadata"]["RetryAttempts"] == 2  # botocore retried the throttled call twice
    assert seen["attempts"] == 3
    assert limiter.calls == [("ec2", "eu-west-1")] * 3  # one token per HTTP attempt, not one per call
    assert ctx.api_calls == 1  # still one API call in the run's statistics


def test_retries_wait_for_the_bucket(monkeypatch):
    """With a bucket of one token at 2/s, the two retries of a throttled call each wait for a token."""
    from botocore.retries.standard import ExponentialBackoff

    # botocore's own backoff (random, up to 1-2 s) would refill the bucket meanwhile: take it out.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    slept: list[float] = []
    # A clock that stands still: on a loaded machine the real one refilled the bucket between attempts.
    limiter = RateLimiter(
        "123456789012",
        fraction=1.0,
        quotas={"ec2": Quota(rate=2, burst=1)},
        clock=lambda: 1000.0,
        sleep=slept.append,
    )
    with moto_account(monkeypatch):
        ctx = AwsContext(boto3.Session(), "123456789012", "eu-west-1", limiter=limiter)
        handler, _seen = throttle_first(2)
        ctx.client("ec2").meta.events.register("before-send.ec2.DescribeVpcs", handler)
        ctx.call("ec2", "describe_vpcs")

    # The first attempt had the burst's token; each retry reserved the next one, 1/rate later.
    assert len(slept) == 2
    assert 0.3 < slept[0] <= 0.5 and 0.8 < slept[1] <= 1.0  # nothing really slept: reservations queue up
    assert limiter.waited == sum(slept)
