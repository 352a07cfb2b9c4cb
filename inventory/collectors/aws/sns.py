"""SNS topics: encryption at rest, the access policy (summarized), subscriptions and delivery logging."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._policy import summarize_resource_policy
from inventory.collectors.aws._util import Details, error_code, fan_out, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

PROTOCOLS_WITH_FEEDBACK = ("HTTP", "Lambda", "SQS", "Application", "Firehose")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@collector("aws", "sns.topic", service="sns", regional=True)
def topics(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("sns", "list_topics"):
        arns = [t["TopicArn"] for t in page.get("Topics") or [] if t.get("TopicArn")]
        for record in fan_out(ctx, partial(_topic_record, ctx), arns):
            if record is not None:
                yield record


def _topic_record(ctx: CollectContext, topic_arn: str) -> ResourceRecord | None:
    details = Details(ctx, gone=("NotFound", "NotFoundException"))
    try:
        answer = details.get("attributes", "sns", "get_topic_attributes", TopicArn=topic_arn)
    except ClientError as error:
        if error_code(error) in details.gone:
            return None  # deleted after the listing
        raise
    tags = (details.get("tags", "sns", "list_tags_for_resource", ResourceArn=topic_arn) or {}).get("Tags")
    name = topic_arn.rsplit(":", 1)[-1]
    if answer is None:
        config: dict[str, Any] = {"topic_name": name, "kms_master_key_id": None, "policy": None}
    else:
        attributes = answer.get("Attributes") or {}
        config = {
            "topic_name": name,
            "display_name": attributes.get("DisplayName") or None,
            "fifo": str(attributes.get("FifoTopic", "false")).lower() == "true",
            "kms_master_key_id": attributes.get("KmsMasterKeyId") or None,
            "policy": summarize_resource_policy(attributes.get("Policy"), ctx.account_id),
            "subscriptions_confirmed": _int(attributes.get("SubscriptionsConfirmed")),
            "subscriptions_pending": _int(attributes.get("SubscriptionsPending")),
            "delivery_status_logging": sorted(
                p for p in PROTOCOLS_WITH_FEEDBACK if attributes.get(f"{p}SuccessFeedbackRoleArn")
            ),
        }
    relations = []
    if str(config.get("kms_master_key_id") or "").startswith("arn:"):
        relations.append(Rel("encrypted_with", config["kms_master_key_id"]))
    return ResourceRecord(
        native_id=topic_arn,
        name=name,
        config=details.finish(config),
        tags=tags_dict(tags),
        relations=relations,
    )
