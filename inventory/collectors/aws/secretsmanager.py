"""Secrets Manager secrets: METADATA ONLY (rotation, last rotated / changed / accessed dates, the KMS key,
the resource policy summarized). Cloustral never calls GetSecretValue or BatchGetSecretValue, and its
read-only role needs neither: a secret's value never reaches this process."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from inventory.collectors.aws._policy import summarize_resource_policy
from inventory.collectors.aws._util import Details, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector


@collector(
    "aws",
    "secretsmanager.secret",
    service="secretsmanager",
    regional=True,
    volatile=("last_accessed_date",),  # the day of the last read: a use, not a change
)
def secrets(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("secretsmanager", "list_secrets"):
        yield from fan_out(ctx, partial(_secret_record, ctx), page.get("SecretList") or [])


def _secret_record(ctx: CollectContext, secret: dict) -> ResourceRecord:
    secret_arn = secret["ARN"]
    details = Details(ctx)
    policy = details.get(
        "policy", "secretsmanager", "get_resource_policy", missing=("ResourceNotFoundException",), SecretId=secret_arn
    )
    rules = secret.get("RotationRules") or {}
    kms_key = secret.get("KmsKeyId")
    config: dict[str, Any] = {
        "secret_name": secret.get("Name"),
        "description": secret.get("Description"),
        "kms_key_id": kms_key,  # null: the AWS managed key aws/secretsmanager
        "rotation_enabled": bool(secret.get("RotationEnabled", False)),
        "rotation_lambda_arn": secret.get("RotationLambdaARN"),
        "rotation_interval_days": rules.get("AutomaticallyAfterDays"),
        "rotation_schedule": rules.get("ScheduleExpression"),
        "last_rotated_date": iso(secret.get("LastRotatedDate")),
        "next_rotation_date": iso(secret.get("NextRotationDate")),
        "last_changed_date": iso(secret.get("LastChangedDate")),
        "last_accessed_date": iso(secret.get("LastAccessedDate")),
        "created_date": iso(secret.get("CreatedDate")),
        "deleted_date": iso(secret.get("DeletedDate")),
        "owning_service": secret.get("OwningService"),
        "primary_region": secret.get("PrimaryRegion"),
        "policy": None if policy is None else summarize_resource_policy(policy.get("ResourcePolicy"), ctx.account_id),
    }
    relations = []
    if (kms_key or "").startswith("arn:") and ":alias/" not in kms_key:
        relations.append(Rel("encrypted_with", kms_key))
    if secret.get("RotationLambdaARN"):
        relations.append(Rel("associated_with", secret["RotationLambdaARN"]))  # the rotation function
    return ResourceRecord(
        native_id=secret_arn,
        name=secret.get("Name") or secret_arn,
        config=details.finish(config),
        tags=tags_dict(secret.get("Tags")),
        relations=relations,
    )
