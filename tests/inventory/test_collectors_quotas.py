"""Every API call of the #19 collectors (containers, data stores, APIs, edge, organization) is paced by a
client-side quota of its own service, like the rest (inventory/ratelimit.py)."""

from __future__ import annotations

import boto3
import pytest

from inventory.collectors.aws.context import AwsContext
from inventory.collectors.base import collectors_for
from inventory.ratelimit import AWS_QUOTAS
from tests.inventory.collector_helpers import ACCOUNT_ID, REGION, moto_account

MODULES = {
    "acm", "apigateway", "autoscaling", "cloudwatch", "dynamodb", "ecr", "ecs", "efs", "eks", "elasticache",
    "organizations", "secretsmanager", "sns", "sqs", "wafv2",
}  # fmt: skip


class Recorder:
    def __init__(self) -> None:
        self.services: set[str] = set()

    def acquire(self, service: str, region: str) -> None:
        self.services.add(service)


@pytest.fixture
def seeded(monkeypatch):
    with moto_account(monkeypatch):
        # One resource for the collectors whose detail calls only happen when something exists.
        boto3.client("logs", region_name=REGION).create_log_group(logGroupName="app")
        boto3.client("logs", region_name=REGION).put_metric_filter(
            logGroupName="app",
            filterName="errors",
            filterPattern="ERROR",
            metricTransformations=[{"metricName": "errors", "metricNamespace": "app", "metricValue": "1"}],
        )
        boto3.client("sqs", region_name=REGION).create_queue(QueueName="jobs")
        yield


def test_every_service_called_has_a_quota(seeded):
    entries = [c for c in collectors_for("aws") if c.func.__module__.rsplit(".", 1)[-1] in MODULES]
    assert len(entries) == 29
    recorder = Recorder()
    contexts = {where: AwsContext(boto3.Session(), ACCOUNT_ID, where, limiter=recorder) for where in (REGION, "global")}
    for entry in entries:
        list(entry.func(contexts[REGION if entry.regional else "global"]))
    assert {"logs", "monitoring", "sqs", "ecs", "organizations"} <= recorder.services
    assert recorder.services - set(AWS_QUOTAS) == set()
    assert {entry.service for entry in entries} - set(AWS_QUOTAS) == set()
