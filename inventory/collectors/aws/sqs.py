"""SQS queues: encryption at rest, the access policy (summarized: public or not, other accounts) and the
dead-letter queue. Message counts are stored but never a change event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from inventory.collectors.aws._policy import summarize_resource_policy
from inventory.collectors.aws._util import Details, arn, error_code, fan_out, iso
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

GONE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def queue_arn_from_url(ctx: CollectContext, url: str) -> str:
    """https://sqs.<region>.amazonaws.com/<account>/<name> → arn:aws:sqs:<region>:<account>:<name>."""
    parts = urlsplit(url).path.strip("/").split("/")
    account, name = (parts[0], parts[-1]) if len(parts) >= 2 else (ctx.account_id, parts[-1])
    return arn("sqs", ctx.region, account, name)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> str | None:
    try:
        return iso(datetime.fromtimestamp(float(value), tz=UTC))
    except (TypeError, ValueError, OverflowError):
        return None


@collector("aws", "sqs.queue", service="sqs", regional=True, volatile=("approximate_messages",))
def queues(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("sqs", "list_queues"):
        for record in fan_out(ctx, partial(_queue_record, ctx), page.get("QueueUrls") or []):
            if record is not None:
                yield record


def _queue_record(ctx: CollectContext, url: str) -> ResourceRecord | None:
    details = Details(ctx, gone=GONE)
    try:
        answer = details.get("attributes", "sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])
    except ClientError as error:
        if error_code(error) in GONE:
            return None  # deleted after the listing
        raise
    attributes = None if answer is None else (answer.get("Attributes") or {})
    tags = details.get("tags", "sqs", "list_queue_tags", QueueUrl=url)
    queue_arn = (attributes or {}).get("QueueArn") or queue_arn_from_url(ctx, url)
    name = queue_arn.rsplit(":", 1)[-1]
    if attributes is None:
        config: dict[str, Any] = {"queue_name": name, "url": url, "sse_enabled": None, "policy": None}
    else:
        kms_key = attributes.get("KmsMasterKeyId") or None
        sqs_managed = str(attributes.get("SqsManagedSseEnabled", "false")).lower() == "true"
        redrive = json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else {}
        config = {
            "queue_name": name,
            "url": url,
            "fifo": str(attributes.get("FifoQueue", "false")).lower() == "true",
            "kms_master_key_id": kms_key,
            "sqs_managed_sse": sqs_managed,
            "sse_enabled": bool(kms_key) or sqs_managed,
            "policy": summarize_resource_policy(attributes.get("Policy"), ctx.account_id),
            "dead_letter_target_arn": redrive.get("deadLetterTargetArn"),
            "max_receive_count": _int(redrive.get("maxReceiveCount")),
            "message_retention_seconds": _int(attributes.get("MessageRetentionPeriod")),
            "visibility_timeout_seconds": _int(attributes.get("VisibilityTimeout")),
            "approximate_messages": _int(attributes.get("ApproximateNumberOfMessages")),
            "created_at": _epoch(attributes.get("CreatedTimestamp")),
        }
    relations = []
    if config.get("dead_letter_target_arn"):
        relations.append(Rel("routes_to", config["dead_letter_target_arn"]))
    if str(config.get("kms_master_key_id") or "").startswith("arn:"):
        relations.append(Rel("encrypted_with", config["kms_master_key_id"]))
    return ResourceRecord(
        native_id=queue_arn,
        name=name,
        config=details.finish(config),
        tags={str(k): str(v) for k, v in ((tags or {}).get("Tags") or {}).items()},
        relations=relations,
    )
