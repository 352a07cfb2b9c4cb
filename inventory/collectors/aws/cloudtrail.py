"""CloudTrail trails. A multi-region trail shows up in every region's DescribeTrails; it is recorded once,
by the collector run of its home region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, arn_account, error_code, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

TAGS_BATCH = 20  # ListTags takes at most 20 trail ARNs


def summarize_event_selectors(answer: dict) -> dict[str, Any]:
    """Basic or advanced event selectors → what the trail records: management events (and which kind),
    data events."""
    management = False
    kinds: set[str] = set()
    data_events = False
    for selector in answer.get("EventSelectors") or []:
        if selector.get("IncludeManagementEvents", True):
            management = True
            kinds.add(selector.get("ReadWriteType") or "All")
        if selector.get("DataResources"):
            data_events = True
    for selector in answer.get("AdvancedEventSelectors") or []:
        fields = {f.get("Field"): f for f in selector.get("FieldSelectors") or []}
        category = (fields.get("eventCategory") or {}).get("Equals") or []
        if "Management" in category:
            management = True
            read_only = (fields.get("readOnly") or {}).get("Equals") or []
            kinds.add({"true": "ReadOnly", "false": "WriteOnly"}.get(read_only[0], "All") if read_only else "All")
        elif "Data" in category:
            data_events = True
    if "All" in kinds or {"ReadOnly", "WriteOnly"} <= kinds:
        read_write = "All"
    else:
        read_write = next(iter(kinds), None)
    return {
        "management_events": management,
        "management_read_write_type": read_write if management else None,
        "data_events": data_events,
    }


_DEFAULT_SELECTORS = {"management_events": True, "management_read_write_type": "All", "data_events": False}


@collector("aws", "cloudtrail.trail", service="cloudtrail", regional=True)
def trails(ctx: CollectContext) -> Iterator[ResourceRecord]:
    listed = ctx.call("cloudtrail", "describe_trails", includeShadowTrails=False).get("trailList") or []
    # Shadow copies are excluded already; the home-region test also drops other accounts' organization
    # trails homed elsewhere.
    home = [t for t in listed if t.get("HomeRegion") == ctx.region and t.get("TrailARN")]
    own = [t["TrailARN"] for t in home if arn_account(t["TrailARN"]) in ("", ctx.account_id)]
    tags_by_arn: dict[str, dict[str, str]] = {}
    tags_readable = True
    for start in range(0, len(own), TAGS_BATCH):
        batch = Details(ctx)
        answer = batch.items(
            "tags", "cloudtrail", "list_tags", "ResourceTagList", ResourceIdList=own[start : start + TAGS_BATCH]
        )
        if answer is None:
            tags_readable = False
            continue
        for entry in answer:
            tags_by_arn[entry.get("ResourceId")] = tags_dict(entry.get("TagsList"))
    for trail in home:
        try:
            yield _trail_record(ctx, trail, tags_by_arn, tags_readable)
        except ClientError as error:
            if error_code(error) != "TrailNotFoundException":
                raise  # else deleted between the listing and its reads


def _trail_record(
    ctx: CollectContext, trail: dict, tags_by_arn: dict[str, dict[str, str]], tags_readable: bool
) -> ResourceRecord:
    trail_arn = trail["TrailARN"]
    details = Details(ctx, gone=("TrailNotFoundException",))
    if not tags_readable:
        details.unreadable.append("tags")
    status = details.get("status", "cloudtrail", "get_trail_status", Name=trail_arn)
    if trail.get("HasCustomEventSelectors"):
        selectors = details.get("event_selectors", "cloudtrail", "get_event_selectors", TrailName=trail_arn)
        event_selectors = None if selectors is None else summarize_event_selectors(selectors)
    else:
        event_selectors = dict(_DEFAULT_SELECTORS)
    config: dict[str, Any] = {
        "name": trail.get("Name"),
        "home_region": trail.get("HomeRegion"),
        "is_multi_region": bool(trail.get("IsMultiRegionTrail", False)),
        "is_organization_trail": bool(trail.get("IsOrganizationTrail", False)),
        "include_global_events": bool(trail.get("IncludeGlobalServiceEvents", False)),
        "log_file_validation": bool(trail.get("LogFileValidationEnabled", False)),
        "kms_key_id": trail.get("KmsKeyId"),
        "s3_bucket_name": trail.get("S3BucketName"),
        "s3_key_prefix": trail.get("S3KeyPrefix"),
        "sns_topic_arn": trail.get("SnsTopicARN"),
        "cloud_watch_logs_log_group_arn": trail.get("CloudWatchLogsLogGroupArn"),
        "has_event_selectors": bool(trail.get("HasCustomEventSelectors", False)),
        "has_insight_selectors": bool(trail.get("HasInsightSelectors", False)),
        "event_selectors": event_selectors,
        "is_logging": None if status is None else bool(status.get("IsLogging", False)),
        "latest_delivery_time": None if status is None else iso(status.get("LatestDeliveryTime")),
        "latest_delivery_error": None if status is None else (status.get("LatestDeliveryError") or None),
    }
    relations = []
    if trail.get("S3BucketName"):
        relations.append(Rel("logs_to", f"arn:aws:s3:::{trail['S3BucketName']}"))
    if trail.get("CloudWatchLogsLogGroupArn"):  # "arn:…:log-group:<name>:*"; the log group's id has no ":*"
        relations.append(Rel("logs_to", trail["CloudWatchLogsLogGroupArn"].removesuffix(":*")))
    if trail.get("KmsKeyId"):
        relations.append(Rel("encrypted_with", trail["KmsKeyId"]))
    return ResourceRecord(
        native_id=trail_arn,
        name=trail.get("Name") or trail_arn,
        config=details.finish(config),
        tags=tags_by_arn.get(trail_arn, {}),
        relations=relations,
    )
