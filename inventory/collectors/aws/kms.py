"""KMS customer-managed keys. AWS-managed keys (alias/aws/...) are skipped: nobody can change them, so
there is nothing to report about them."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, error_code, fan_out, iso
from inventory.collectors.base import CollectContext, ResourceRecord, collector

ROTATABLE_STATES = frozenset({"Enabled", "Disabled"})


def _aliases(ctx: CollectContext) -> tuple[dict[str, list[str]] | None, set[str]]:
    """Alias names by target key id (None when unreadable), and the ids of AWS-managed keys."""
    details = Details(ctx)
    listed = details.items("aliases", "kms", "list_aliases", "Aliases")
    by_key: dict[str, list[str]] = {}
    aws_managed: set[str] = set()
    for alias in listed or []:
        key_id, name = alias.get("TargetKeyId"), alias.get("AliasName") or ""
        if not key_id:
            continue
        by_key.setdefault(key_id, []).append(name)
        if name.startswith("alias/aws/"):
            aws_managed.add(key_id)
    return (None if listed is None else by_key), aws_managed


@collector("aws", "kms.key", service="kms", regional=True)
def keys(ctx: CollectContext) -> Iterator[ResourceRecord]:
    aliases: tuple[dict[str, list[str]] | None, set[str]] | None = None
    for page in ctx.paginate("kms", "list_keys"):
        if aliases is None:
            aliases = _aliases(ctx)
        by_key, aws_managed = aliases
        listed = [k for k in page.get("Keys") or [] if k.get("KeyId") not in aws_managed]
        for record in fan_out(ctx, partial(_key_record, ctx, by_key), listed):
            if record is not None:
                yield record


def _key_record(ctx: CollectContext, aliases: dict[str, list[str]] | None, key: dict) -> ResourceRecord | None:
    try:
        return _read_key(ctx, aliases, key)
    except ClientError as error:
        if error_code(error) == "NotFoundException":
            return None  # deleted between the listing and its reads
        raise


def _read_key(ctx: CollectContext, aliases: dict[str, list[str]] | None, key: dict) -> ResourceRecord | None:
    key_id = key["KeyId"]
    details = Details(ctx, gone=("NotFoundException",))
    if aliases is None:
        details.unreadable.append("aliases")
    answer = details.get("key_metadata", "kms", "describe_key", KeyId=key_id)
    meta = (answer or {}).get("KeyMetadata") or {}
    if meta.get("KeyManager") == "AWS":
        return None
    state = meta.get("KeyState")
    spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
    rotation_supported = None
    rotation = None
    if answer is not None:
        # Automatic rotation exists only for symmetric keys with KMS-generated material.
        rotation_supported = spec == "SYMMETRIC_DEFAULT" and meta.get("Origin") == "AWS_KMS"
        if rotation_supported and state in ROTATABLE_STATES:
            rotation = details.get("rotation_enabled", "kms", "get_key_rotation_status", KeyId=key_id)
    tags = details.items("tags", "kms", "list_resource_tags", "Tags", KeyId=key_id)
    multi_region = meta.get("MultiRegionConfiguration") or {}
    key_aliases = sorted((aliases or {}).get(key_id, []))
    config: dict[str, Any] = {
        "key_id": key_id,
        "key_manager": meta.get("KeyManager"),
        "key_state": state,
        "enabled": None if answer is None else bool(meta.get("Enabled", False)),
        "key_spec": spec,
        "key_usage": meta.get("KeyUsage"),
        "origin": meta.get("Origin"),
        "description": meta.get("Description"),
        "creation_date": iso(meta.get("CreationDate")),
        "deletion_date": iso(meta.get("DeletionDate")),
        "pending_deletion_window_days": meta.get("PendingDeletionWindowInDays"),
        "multi_region": None if answer is None else bool(meta.get("MultiRegion", False)),
        "multi_region_key_type": multi_region.get("MultiRegionKeyType"),
        "rotation_supported": rotation_supported,
        "rotation_enabled": (
            bool(rotation.get("KeyRotationEnabled", False))
            if rotation is not None
            else (False if rotation_supported is False else None)
        ),
        "rotation_period_days": (rotation or {}).get("RotationPeriodInDays"),
        "aliases": None if aliases is None else key_aliases,
    }
    return ResourceRecord(
        native_id=meta.get("Arn") or key.get("KeyArn"),
        name=key_aliases[0].removeprefix("alias/") if key_aliases else key_id,
        config=details.finish(config),
        tags={str(t.get("TagKey")): str(t.get("TagValue", "")) for t in tags or [] if t.get("TagKey") is not None},
    )
