"""CloudWatch Logs log group and metric alarm collectors against moto, and the CIS monitoring rules
judged end to end: a trail → its log group (logs_to) → the log group's metric filters and their alarms."""

from __future__ import annotations

import boto3
import pytest

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

UNAUTHORIZED = '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }'
ROOT = '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def monitoring(ctx):
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="cloudtrail", tags={"team": "security"})
    logs.put_retention_policy(logGroupName="cloudtrail", retentionInDays=400)
    logs.create_log_group(logGroupName="/aws/lambda/orders")
    for name, pattern in (("unauthorized", UNAUTHORIZED), ("root", ROOT)):
        logs.put_metric_filter(
            logGroupName="cloudtrail",
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[{"metricName": name, "metricNamespace": "CIS", "metricValue": "1"}],
        )
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="security")["TopicArn"]
    cw = boto3.client("cloudwatch", region_name=REGION)
    common = {"Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 1, "Namespace": "CIS"}
    common["ComparisonOperator"] = "GreaterThanOrEqualToThreshold"
    cw.put_metric_alarm(AlarmName="unauthorized", MetricName="unauthorized", AlarmActions=[topic], **common)
    cw.put_metric_alarm(AlarmName="root-muted", MetricName="root", AlarmActions=[], **common)  # notifies no one
    cw.put_metric_alarm(
        AlarmName="cpu",
        MetricName="CPUUtilization",
        AlarmActions=[topic],
        ActionsEnabled=False,
        **{**common, "Namespace": "AWS/EC2"},
    )
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="trail-logs", CreateBucketConfiguration={"LocationConstraint": REGION})
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:cloudtrail:*"
    trails = boto3.client("cloudtrail", region_name=REGION)
    trails.create_trail(
        Name="org",
        S3BucketName="trail-logs",
        IsMultiRegionTrail=True,
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/trail",
    )
    trails.start_logging(Name="org")
    return {"topic": topic}


def test_registered_collectors():
    assert get_collector("aws.logs.log_group").service == "logs"
    assert get_collector("aws.logs.log_group").volatile == ("stored_bytes",)
    assert get_collector("aws.cloudwatch.metric_alarm").service == "monitoring"
    assert set(get_collector("aws.cloudwatch.metric_alarm").volatile) == {"state_value", "state_updated_timestamp"}


def test_log_groups_carry_their_metric_filters_and_alarms(ctx, monitoring):
    records = {r.name: r for r in collect(ctx, "aws.logs.log_group")}
    trail_group, lambda_group = records["cloudtrail"], records["/aws/lambda/orders"]
    assert trail_group.native_id == f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:cloudtrail"
    assert trail_group.config["retention_in_days"] == 400 and trail_group.tags == {"team": "security"}
    filters = {f["filter_name"]: f for f in trail_group.config["metric_filters"]}
    assert filters["unauthorized"]["pattern"] == UNAUTHORIZED
    assert (
        filters["unauthorized"]["alarm_names"] == ["unauthorized"]
        and filters["unauthorized"]["alarms_with_actions"] == 1
    )
    assert filters["root"]["alarm_names"] == ["root-muted"] and filters["root"]["alarms_with_actions"] == 0
    assert lambda_group.config["retention_in_days"] is None and lambda_group.config["metric_filters"] == []
    assert lambda_group.config["unreadable"] == []
    collected = {"aws.logs.log_group": list(records.values())}
    assert judge("aws-logs-log-group-never-expires", collected) == {lambda_group.native_id}


def test_cis_monitoring_rules_follow_the_trail_to_its_log_group(ctx, monitoring):
    collected = {
        "aws.cloudtrail.trail": collect(ctx, "aws.cloudtrail.trail"),
        "aws.logs.log_group": collect(ctx, "aws.logs.log_group"),
    }
    [trail] = collected["aws.cloudtrail.trail"]
    assert rels(trail, "logs_to") >= {f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:cloudtrail"}
    assert judge("aws-cloudwatch-no-alarm-unauthorized-api-calls", collected) == set()  # filter + alarm with action
    assert judge("aws-cloudwatch-no-alarm-root-usage", collected) == {trail.native_id}  # its alarm notifies no one
    assert judge("aws-cloudwatch-no-alarm-security-group-changes", collected) == {trail.native_id}  # no filter


def test_unreadable_filters_or_alarms_are_not_judged(ctx, monitoring):
    fail_operation(ctx, "cloudwatch", "DescribeAlarms", code="AccessDenied")
    records = {r.name: r for r in collect(ctx, "aws.logs.log_group")}
    assert records["cloudtrail"].config["unreadable"] == ["metric_filter_alarms"]
    assert records["cloudtrail"].config["metric_filters"][0]["alarm_names"] is None
    collected = {
        "aws.cloudtrail.trail": collect(ctx, "aws.cloudtrail.trail"),
        "aws.logs.log_group": list(records.values()),
    }
    assert judge("aws-cloudwatch-no-alarm-root-usage", collected) == set()

    fail_operation(ctx, "logs", "DescribeMetricFilters", code="AccessDeniedException")
    records = collect(ctx, "aws.logs.log_group")
    assert all(r.config["metric_filters"] is None and r.config["unreadable"] == ["metric_filters"] for r in records)


def test_metric_alarms(ctx, monitoring):
    records = {r.name: r for r in collect(ctx, "aws.cloudwatch.metric_alarm")}
    assert set(records) == {"unauthorized", "root-muted", "cpu"}
    unauthorized = records["unauthorized"]
    assert unauthorized.native_id == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:unauthorized"
    assert unauthorized.config["alarm_actions"] == [monitoring["topic"]] and unauthorized.config["namespace"] == "CIS"
    assert rels(unauthorized, "notifies") == {monitoring["topic"]}
    collected = {"aws.cloudwatch.metric_alarm": list(records.values())}
    assert judge("aws-cloudwatch-alarm-no-actions", collected) == {records["root-muted"].native_id}
    assert judge("aws-cloudwatch-alarm-actions-disabled", collected) == {records["cpu"].native_id}
