"""CloudWatch Logs log groups and CloudWatch metric alarms.

A log group carries its metric filters, each with the alarms watching the filter's metric: the CIS
monitoring controls ("a log metric filter and alarm exist for …") are judged from the log group a
CloudTrail trail delivers to. Stored bytes and alarm states change on every read: stored, never a
change event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from inventory.collectors.aws._util import Details, arn, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector


def _millis(value: Any) -> str | None:
    if not isinstance(value, int | float):
        return None
    return iso(datetime.fromtimestamp(value / 1000, tz=UTC))


def log_group_arn(ctx: CollectContext, name: str) -> str:
    return arn("logs", ctx.region, ctx.account_id, f"log-group:{name}")


# --- log groups -----------------------------------------------------------------------------------


def _alarms_by_metric(ctx: CollectContext) -> dict[tuple[str, str], list[dict]] | None:
    """Metric alarms keyed by (namespace, metric name); None when DescribeAlarms is denied."""
    listed = Details(ctx).items(
        "metric_filter_alarms", "cloudwatch", "describe_alarms", "MetricAlarms", AlarmTypes=["MetricAlarm"]
    )
    if listed is None:
        return None
    by_metric: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for alarm in listed:
        by_metric[(alarm.get("Namespace") or "", alarm.get("MetricName") or "")].append(alarm)
    return by_metric


def _filters_by_group(ctx: CollectContext) -> tuple[dict[str, list[dict]] | None, bool]:
    """Metric filters keyed by log group name (None when unreadable), and whether alarms were readable."""
    listed = Details(ctx).items("metric_filters", "logs", "describe_metric_filters", "metricFilters")
    if listed is None:
        return None, True
    alarms = _alarms_by_metric(ctx) if listed else {}
    by_group: dict[str, list[dict]] = defaultdict(list)
    for item in listed:
        transformations = item.get("metricTransformations") or [{}]
        metric = transformations[0]
        key = (metric.get("metricNamespace") or "", metric.get("metricName") or "")
        watching = None if alarms is None else alarms.get(key, [])
        by_group[item.get("logGroupName") or ""].append(
            {
                "filter_name": item.get("filterName"),
                "pattern": item.get("filterPattern") or "",
                "metric_name": metric.get("metricName"),
                "metric_namespace": metric.get("metricNamespace"),
                "alarm_names": None if watching is None else sorted(a.get("AlarmName") for a in watching),
                # Alarms on the metric that notify someone (an action, and actions turned on).
                "alarms_with_actions": (
                    None
                    if watching is None
                    else sum(1 for a in watching if a.get("ActionsEnabled", True) and a.get("AlarmActions"))
                ),
            }
        )
    return by_group, alarms is not None


@collector("aws", "logs.log_group", service="logs", regional=True, volatile=("stored_bytes",))
def log_groups(ctx: CollectContext) -> Iterator[ResourceRecord]:
    filters: tuple[dict[str, list[dict]] | None, bool] | None = None
    for page in ctx.paginate("logs", "describe_log_groups"):
        groups = page.get("logGroups") or []
        if groups and filters is None:
            filters = _filters_by_group(ctx)
        yield from fan_out(ctx, partial(_log_group_record, ctx, filters), groups)


def _log_group_record(
    ctx: CollectContext, filters: tuple[dict[str, list[dict]] | None, bool] | None, group: dict
) -> ResourceRecord:
    name = group["logGroupName"]
    group_arn = group.get("logGroupArn") or log_group_arn(ctx, name)
    details = Details(ctx)
    by_group, alarms_readable = filters or ({}, True)
    if by_group is None:
        details.unreadable.append("metric_filters")
    elif not alarms_readable:
        details.unreadable.append("metric_filter_alarms")
    tags = details.get("tags", "logs", "list_tags_for_resource", resourceArn=group_arn)
    config: dict[str, Any] = {
        "log_group_name": name,
        "retention_in_days": group.get("retentionInDays"),  # null: kept forever
        "kms_key_id": group.get("kmsKeyId"),
        "stored_bytes": group.get("storedBytes"),
        "log_group_class": group.get("logGroupClass") or "STANDARD",
        "data_protection_status": group.get("dataProtectionStatus"),
        "metric_filters": None if by_group is None else by_group.get(name, []),
        "creation_time": _millis(group.get("creationTime")),
    }
    relations = [Rel("encrypted_with", group["kmsKeyId"])] if group.get("kmsKeyId") else []
    return ResourceRecord(
        native_id=group_arn,
        name=name,
        config=details.finish(config),
        tags={str(k): str(v) for k, v in ((tags or {}).get("tags") or {}).items()},
        relations=relations,
    )


# --- metric alarms --------------------------------------------------------------------------------


@collector(
    "aws",
    "cloudwatch.metric_alarm",
    service="monitoring",
    regional=True,
    volatile=("state_value", "state_updated_timestamp"),
)
def metric_alarms(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("cloudwatch", "describe_alarms", AlarmTypes=["MetricAlarm"]):
        yield from fan_out(ctx, partial(_alarm_record, ctx), page.get("MetricAlarms") or [])


def _alarm_record(ctx: CollectContext, alarm: dict) -> ResourceRecord:
    alarm_arn = alarm["AlarmArn"]
    details = Details(ctx)
    tags = (details.get("tags", "cloudwatch", "list_tags_for_resource", ResourceARN=alarm_arn) or {}).get("Tags")
    actions = list(alarm.get("AlarmActions") or [])
    config: dict[str, Any] = {
        "alarm_name": alarm.get("AlarmName"),
        "actions_enabled": bool(alarm.get("ActionsEnabled", False)),
        "alarm_actions": actions,
        "ok_actions": list(alarm.get("OKActions") or []),
        "insufficient_data_actions": list(alarm.get("InsufficientDataActions") or []),
        "state_value": alarm.get("StateValue"),  # OK | ALARM | INSUFFICIENT_DATA
        "state_updated_timestamp": iso(alarm.get("StateUpdatedTimestamp")),
        "namespace": alarm.get("Namespace"),
        "metric_name": alarm.get("MetricName"),
        "statistic": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
        "dimensions": [{"name": d.get("Name"), "value": d.get("Value")} for d in alarm.get("Dimensions") or []],
        "period": alarm.get("Period"),
        "evaluation_periods": alarm.get("EvaluationPeriods"),
        "threshold": alarm.get("Threshold"),
        "comparison_operator": alarm.get("ComparisonOperator"),
        "treat_missing_data": alarm.get("TreatMissingData"),
    }
    every_action = [*actions, *config["ok_actions"], *config["insufficient_data_actions"]]
    relations = [Rel("notifies", a) for a in dict.fromkeys(every_action) if a.startswith("arn:aws:sns:")]
    return ResourceRecord(
        native_id=alarm_arn,
        name=alarm.get("AlarmName") or alarm_arn,
        config=details.finish(config),
        tags=tags_dict(tags),
        relations=relations,
    )
