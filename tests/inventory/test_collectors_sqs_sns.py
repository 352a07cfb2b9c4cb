"""SQS queue and SNS topic collectors against moto, and the resource policy summary they share."""

from __future__ import annotations

import json

import boto3
import pytest

from inventory.collectors.aws._policy import summarize_resource_policy
from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    REGION,
    collect,
    fail_operation,
    judge,
    make_context,
    moto_account,
    rels,
)

OPEN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}]}


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.mark.parametrize(
    ("statement", "public"),
    [
        ({"Effect": "Allow", "Principal": "*", "Action": "sqs:*"}, True),
        ({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sns:Publish"]}, True),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sns:Publish",
                "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads"}},
            },
            False,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "SNS:Publish",
                "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT_ID}},
            },
            False,
        ),
        ({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage"}, False),
        ({"Effect": "Deny", "Principal": "*", "Action": "sqs:*"}, False),
    ],
)
def test_public_resource_policies(statement, public):
    summary = summarize_resource_policy(json.dumps({"Statement": [statement]}), ACCOUNT_ID)
    assert summary["present"] is True and summary["public"] is public


def test_policy_summary_accounts_and_tls():
    document = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sqs:*"},
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT_ID}, "Action": "sqs:*"},
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
    }
    summary = summarize_resource_policy(document, ACCOUNT_ID)
    assert summary["external_accounts"] == ["210987654321"]
    assert summary["requires_secure_transport"] is True and summary["public"] is False
    assert summarize_resource_policy(None, ACCOUNT_ID) == {
        "present": False,
        "public": False,
        "public_actions": [],
        "external_accounts": [],
        "requires_secure_transport": False,
    }


# --- SQS ------------------------------------------------------------------------------------------


@pytest.fixture
def queues(ctx):
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="jobs-dlq", Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(
        QueueName="jobs",
        Attributes={
            "KmsMasterKeyId": "alias/aws/sqs",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
        tags={"team": "core"},
    )
    sqs.create_queue(QueueName="inbox", Attributes={"SqsManagedSseEnabled": "false", "Policy": json.dumps(OPEN)})
    return {"dlq_arn": dlq_arn}


def test_registered_queue_collector():
    entry = get_collector("aws.sqs.queue")
    assert entry.service == "sqs" and entry.regional and "approximate_messages" in entry.volatile


def test_queues(ctx, queues):
    records = {r.name: r for r in collect(ctx, "aws.sqs.queue")}
    assert set(records) == {"jobs", "jobs-dlq", "inbox"}
    jobs = records["jobs"]
    assert jobs.native_id == f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:jobs"
    assert jobs.config["sse_enabled"] is True and jobs.config["kms_master_key_id"] == "alias/aws/sqs"
    assert jobs.config["dead_letter_target_arn"] == queues["dlq_arn"] and jobs.config["max_receive_count"] == 5
    assert jobs.config["policy"]["present"] is False and jobs.tags == {"team": "core"}
    assert rels(jobs, "routes_to") == {queues["dlq_arn"]}
    inbox = records["inbox"]
    assert inbox.config["sse_enabled"] is False
    assert inbox.config["policy"]["public"] is True and inbox.config["policy"]["public_actions"] == ["sqs:SendMessage"]
    collected = {"aws.sqs.queue": list(records.values())}
    assert judge("aws-sqs-queue-not-encrypted", collected) == {inbox.native_id}
    assert judge("aws-sqs-queue-public-policy", collected) == {inbox.native_id}
    assert judge("aws-sqs-queue-no-dead-letter-queue", collected) == {inbox.native_id}


def test_unreadable_queue_attributes_are_unknown(ctx, queues):
    fail_operation(ctx, "sqs", "GetQueueAttributes", code="AccessDenied")
    records = collect(ctx, "aws.sqs.queue")
    assert {r.native_id for r in records} == {
        f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}" for name in ("jobs", "jobs-dlq", "inbox")
    }
    assert all(r.config["sse_enabled"] is None and r.config["unreadable"] == ["attributes"] for r in records)
    for rule in ("aws-sqs-queue-not-encrypted", "aws-sqs-queue-public-policy", "aws-sqs-queue-no-dead-letter-queue"):
        assert judge(rule, {"aws.sqs.queue": records}) == set(), rule


# --- SNS ------------------------------------------------------------------------------------------


@pytest.fixture
def topics(ctx):
    sns = boto3.client("sns", region_name=REGION)
    alerts = sns.create_topic(
        Name="alerts", Attributes={"KmsMasterKeyId": "alias/aws/sns"}, Tags=[{"Key": "team", "Value": "ops"}]
    )["TopicArn"]
    sns.subscribe(TopicArn=alerts, Protocol="email", Endpoint="ops@example.com")
    public = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "SNS:Subscribe", "Resource": "*"}]}
    sns.create_topic(Name="uploads", Attributes={"Policy": json.dumps(public)})
    return {"alerts": alerts}


def test_topics(ctx, topics):
    entry = get_collector("aws.sns.topic")
    assert entry.service == "sns" and entry.regional
    records = {r.name: r for r in collect(ctx, "aws.sns.topic")}
    alerts, uploads = records["alerts"], records["uploads"]
    assert alerts.native_id == topics["alerts"]
    assert alerts.config["kms_master_key_id"] == "alias/aws/sns" and alerts.tags == {"team": "ops"}
    assert alerts.config["policy"]["public"] is False  # the default policy is narrowed to the owner
    # moto does not count subscriptions in the topic's attributes (AWS does): only the key is checked.
    assert {"subscriptions_confirmed", "subscriptions_pending"} <= set(alerts.config)
    assert uploads.config["policy"]["public"] is True and uploads.config["kms_master_key_id"] is None
    collected = {"aws.sns.topic": [alerts, uploads]}
    assert judge("aws-sns-topic-public-policy", collected) == {uploads.native_id}
    assert judge("aws-sns-topic-not-kms-encrypted", collected) == {uploads.native_id}
    assert uploads.native_id in judge("aws-sns-topic-no-subscriptions", collected)


def test_unreadable_topic_attributes_are_unknown(ctx, topics):
    fail_operation(ctx, "sns", "GetTopicAttributes", code="AuthorizationError")
    records = collect(ctx, "aws.sns.topic")
    assert all(r.config["unreadable"] == ["attributes"] and r.config["policy"] is None for r in records)
    assert judge("aws-sns-topic-not-kms-encrypted", {"aws.sns.topic": records}) == set()
