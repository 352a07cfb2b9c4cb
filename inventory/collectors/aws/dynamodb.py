"""DynamoDB tables: encryption, point-in-time recovery, deletion protection and capacity. Item counts and
sizes are refreshed by DynamoDB about every six hours: stored (cost rules read them), never a change."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, error_code, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector


@collector("aws", "dynamodb.table", service="dynamodb", regional=True, volatile=("item_count", "size_bytes"))
def tables(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("dynamodb", "list_tables"):
        for record in fan_out(ctx, partial(_table_record, ctx), page.get("TableNames") or []):
            if record is not None:
                yield record


def _table_record(ctx: CollectContext, name: str) -> ResourceRecord | None:
    try:
        table = ctx.call("dynamodb", "describe_table", TableName=name).get("Table") or {}
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None  # deleted after the listing
        raise
    table_arn = table["TableArn"]
    details = Details(ctx, gone=("ResourceNotFoundException", "TableNotFoundException"))
    backups = details.get("point_in_time_recovery", "dynamodb", "describe_continuous_backups", TableName=name)
    pitr = None
    if backups is not None:
        status = ((backups.get("ContinuousBackupsDescription") or {}).get("PointInTimeRecoveryDescription") or {}).get(
            "PointInTimeRecoveryStatus"
        )
        pitr = status == "ENABLED"
    tags = details.items("tags", "dynamodb", "list_tags_of_resource", "Tags", ResourceArn=table_arn)
    sse = table.get("SSEDescription") or {}
    throughput = table.get("ProvisionedThroughput") or {}
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    config: dict[str, Any] = {
        "table_name": table.get("TableName") or name,
        "status": table.get("TableStatus"),
        "billing_mode": billing,  # PROVISIONED | PAY_PER_REQUEST
        "read_capacity_units": throughput.get("ReadCapacityUnits") if billing == "PROVISIONED" else None,
        "write_capacity_units": throughput.get("WriteCapacityUnits") if billing == "PROVISIONED" else None,
        "global_secondary_indexes": [
            {
                "name": index.get("IndexName"),
                "read_capacity_units": (index.get("ProvisionedThroughput") or {}).get("ReadCapacityUnits"),
                "write_capacity_units": (index.get("ProvisionedThroughput") or {}).get("WriteCapacityUnits"),
            }
            for index in table.get("GlobalSecondaryIndexes") or []
        ],
        "item_count": table.get("ItemCount"),
        "size_bytes": table.get("TableSizeBytes"),
        "table_class": (table.get("TableClassSummary") or {}).get("TableClass") or "STANDARD",
        # No SSEDescription: encrypted with an AWS owned key (DynamoDB always encrypts at rest).
        "sse_type": sse.get("SSEType") if sse.get("Status") in ("ENABLED", "UPDATING") else "AWS_OWNED",
        "kms_key_arn": sse.get("KMSMasterKeyArn"),
        "deletion_protection": bool(table.get("DeletionProtectionEnabled", False)),
        "point_in_time_recovery": pitr,
        "stream_enabled": bool((table.get("StreamSpecification") or {}).get("StreamEnabled", False)),
        "replica_regions": [r.get("RegionName") for r in table.get("Replicas") or [] if r.get("RegionName")],
        "created_at": iso(table.get("CreationDateTime")),
    }
    relations = [Rel("encrypted_with", sse["KMSMasterKeyArn"])] if sse.get("KMSMasterKeyArn") else []
    return ResourceRecord(
        native_id=table_arn,
        name=config["table_name"],
        config=details.finish(config),
        tags=tags_dict(tags),
        relations=relations,
    )
