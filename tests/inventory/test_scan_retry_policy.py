"""The scan's clients retry what a retry can fix and nothing else: botocore's standard mode (1 + 8 retries with
exponential backoff) retries every 5xx, including an operation the endpoint does not implement and an
answer that is no AWS error at all (moto's unrouted services, a proxy's page), which cost seconds of
backoff per call and region. Every collector's service is paced by a quota of its own."""

from __future__ import annotations

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from inventory.collectors.aws.context import AwsContext
from inventory.collectors.azure.context import namespace_of
from inventory.collectors.base import collectors_for
from inventory.ratelimit import AWS_QUOTAS, AZURE_QUOTAS
from tests.inventory.collector_helpers import ACCOUNT_ID, moto_account

HTML_500 = b"<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>"
AWS_500 = b'{"__type": "InternalServerException", "message": "try again"}'
NOT_IMPLEMENTED = b'{"__type": "NotImplementedException", "message": "not here"}'
THROTTLED = b'{"__type": "ThrottlingException", "message": "slow down"}'


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **kwargs):
        yield self.content


@pytest.fixture
def access_analyzer(monkeypatch):
    """An Access Analyzer client of a scan, every HTTP attempt answered by ``answer`` and counted."""
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)  # backoff, not the point
    with moto_account(monkeypatch):
        ctx = AwsContext(boto3.Session(), ACCOUNT_ID, "eu-west-1")
        client = ctx.client("accessanalyzer")

        def attempts(status: int, body: bytes) -> int:
            seen = []

            def answer(request, **kwargs):
                seen.append(request.url)
                return AWSResponse(request.url, status, {"Content-Type": "application/json"}, _Body(body))

            client.meta.events.register("before-send.accessanalyzer.ListAnalyzers", answer)
            try:
                with pytest.raises(ClientError):
                    ctx.call("accessanalyzer", "list_analyzers")
            finally:
                client.meta.events.unregister("before-send.accessanalyzer.ListAnalyzers", answer)
            return len(seen)

        yield attempts


def test_an_answer_that_is_not_an_aws_error_is_tried_twice(access_analyzer):
    assert access_analyzer(500, HTML_500) == 2  # before: 9 attempts, seconds of backoff


def test_not_implemented_is_never_retried(access_analyzer):
    assert access_analyzer(501, b"") == 1
    assert access_analyzer(500, NOT_IMPLEMENTED) == 1


def test_aws_server_errors_and_throttling_keep_the_standard_retries(access_analyzer):
    assert access_analyzer(500, AWS_500) == 9  # max_attempts=8 counts retries: 1 + 8
    assert access_analyzer(400, THROTTLED) == 9


def test_every_collector_service_has_a_quota():
    assert {c.service for c in collectors_for("aws")} - set(AWS_QUOTAS) == set()
    assert {c.service for c in collectors_for("azure")} - set(AZURE_QUOTAS) == set()


def test_azure_namespaces_are_paced_whatever_their_case():
    """Role definitions and Defender paths are built lowercased: they share their provider's bucket."""
    base = "https://management.azure.com/subscriptions/s"
    assert namespace_of(f"{base}/providers/microsoft.authorization/roledefinitions/r?api-version=1") == (
        "Microsoft.Authorization"
    )
    assert namespace_of(f"{base}/providers/microsoft.security/pricings") == "Microsoft.Security"
    assert namespace_of(f"{base}/providers/Microsoft.Network/virtualNetworks") == "Microsoft.Network"
    assert namespace_of(f"{base}/resourceGroups/rg") == "Microsoft.Resources"
