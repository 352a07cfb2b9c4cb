"""S3 buckets: one global listing, then a handful of per-bucket reads (region, encryption, versioning,
public access, ACL, logging, ownership, tags). A read the identity is denied leaves that field null and
lists it under ``config["unreadable"]``; a denied ListBuckets raises for the engine to classify."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, error_code, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
PUBLIC_GRANTEES = frozenset({ALL_USERS, AUTHENTICATED_USERS})

_PAB_KEYS = {
    "BlockPublicAcls": "block_public_acls",
    "IgnorePublicAcls": "ignore_public_acls",
    "BlockPublicPolicy": "block_public_policy",
    "RestrictPublicBuckets": "restrict_public_buckets",
}


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def normalize_pab(configuration: dict | None) -> dict[str, bool]:
    """A PublicAccessBlockConfiguration → the four flags, snake_case; absent → all false."""
    configuration = configuration or {}
    return {key: bool(configuration.get(aws_key, False)) for aws_key, key in _PAB_KEYS.items()}


def normalize_grants(grants: list[dict] | None) -> list[dict[str, str | None]]:
    """ACL grants → [{grantee_type, grantee (URI / canonical id / email), permission}]."""
    result = []
    for grant in grants or []:
        grantee = grant.get("Grantee") or {}
        result.append(
            {
                "grantee_type": grantee.get("Type"),
                "grantee": grantee.get("URI") or grantee.get("ID") or grantee.get("EmailAddress"),
                "permission": grant.get("Permission"),
            }
        )
    return result


def _account_public_access_block(ctx: CollectContext) -> tuple[dict[str, bool] | None, bool]:
    """The account-level block (s3control), once per run: (flags or None, readable)."""
    details = Details(ctx)
    answer = details.get(
        "account_public_access_block",
        "s3control",
        "get_public_access_block",
        missing=("NoSuchPublicAccessBlockConfiguration",),
        AccountId=ctx.account_id,
    )
    if answer is None:
        return None, False
    return normalize_pab(answer.get("PublicAccessBlockConfiguration")), True


@collector("aws", "s3.bucket", service="s3", regional=False)
def buckets(ctx: CollectContext) -> Iterator[ResourceRecord]:
    account_pab: tuple[dict[str, bool] | None, bool] | None = None
    # MaxBuckets makes ListBuckets page, and return each bucket's region (saving a GetBucketLocation).
    for page in ctx.paginate("s3", "list_buckets", MaxBuckets=1000):
        listed = page.get("Buckets") or []
        if listed and account_pab is None:
            account_pab = _account_public_access_block(ctx)
        for record in fan_out(ctx, partial(_bucket_record, ctx, account_pab=account_pab), listed):
            if record is not None:
                yield record


def _bucket_record(
    ctx: CollectContext, bucket: dict, account_pab: tuple[dict[str, bool] | None, bool] | None
) -> ResourceRecord | None:
    name = bucket["Name"]
    details = Details(ctx, gone=("NoSuchBucket",))
    try:
        return _read_bucket(ctx, details, name, bucket, account_pab)
    except ClientError as error:
        if error_code(error) == "NoSuchBucket":
            return None  # deleted between the listing and its reads
        raise


def _read_bucket(
    ctx: CollectContext,
    details: Details,
    name: str,
    bucket: dict,
    account_pab: tuple[dict[str, bool] | None, bool] | None,
) -> ResourceRecord:
    """One bucket's record: each setting read by its own call; an unreadable one is None (and listed in
    ``details.unreadable`` by ``Details``), never a guess."""
    region = bucket.get("BucketRegion") or _bucket_location(details, name)
    config: dict[str, Any] = {"name": name, "region": region, "creation_date": iso(bucket.get("CreationDate"))}
    config["encryption"] = _encryption_setting(details, name)
    config["versioning"] = _versioning(details, name)
    config.update(_public_access_blocks(details, name, account_pab))
    config["policy_status"] = _policy_status(details, name)
    config["acl"] = _acl(details, name)
    config["logging"] = _logging(details, name)
    config["object_ownership"] = _object_ownership(details, name)
    tagging = details.get("tags", "s3", "get_bucket_tagging", missing=("NoSuchTagSet",), Bucket=name)
    return ResourceRecord(
        native_id=bucket_arn(name),
        name=name,
        config=details.finish(config),
        tags=tags_dict((tagging or {}).get("TagSet")),
        relations=_relations(config),
        region=region or "",
    )


def _bucket_location(details: Details, name: str) -> str | None:
    location = details.get("region", "s3", "get_bucket_location", Bucket=name)
    if location is None:
        return None
    # Buckets in us-east-1 answer null; a few legacy ones answer "EU".
    constraint = location.get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)


def _encryption_setting(details: Details, name: str) -> dict[str, Any] | None:
    answer = details.get(
        "encryption",
        "s3",
        "get_bucket_encryption",
        missing=("ServerSideEncryptionConfigurationNotFoundError",),
        Bucket=name,
    )
    return None if answer is None else _encryption(answer)


def _versioning(details: Details, name: str) -> dict[str, Any] | None:
    answer = details.get("versioning", "s3", "get_bucket_versioning", Bucket=name)
    if answer is None:
        return None
    return {"status": answer.get("Status") or "Disabled", "mfa_delete": answer.get("MFADelete") == "Enabled"}


def _public_access_blocks(
    details: Details, name: str, account_pab: tuple[dict[str, bool] | None, bool] | None
) -> dict[str, Any]:
    """The bucket's and the account's public access blocks, and what S3 enforces from both."""
    answer = details.get(
        "public_access_block",
        "s3",
        "get_public_access_block",
        missing=("NoSuchPublicAccessBlockConfiguration",),
        Bucket=name,
    )
    bucket_flags = None if answer is None else normalize_pab(answer.get("PublicAccessBlockConfiguration"))
    account_flags, account_readable = account_pab or (None, False)
    if not account_readable:
        details.unreadable.append("account_public_access_block")
    effective = None
    if bucket_flags is not None and account_flags is not None:
        # A flag set on either level applies.
        effective = {key: bucket_flags[key] or account_flags[key] for key in _PAB_KEYS.values()}
    return {
        "public_access_block": bucket_flags,
        "account_public_access_block": account_flags,
        "effective_public_access_block": effective,
    }


def _policy_status(details: Details, name: str) -> dict[str, bool] | None:
    answer = details.get(
        "policy_status", "s3", "get_bucket_policy_status", missing=("NoSuchBucketPolicy",), Bucket=name
    )
    if answer is None:
        return None
    return {"has_policy": bool(answer), "is_public": bool((answer.get("PolicyStatus") or {}).get("IsPublic", False))}


def _acl(details: Details, name: str) -> dict[str, Any] | None:
    answer = details.get("acl", "s3", "get_bucket_acl", Bucket=name)
    if answer is None:
        return None
    grants = normalize_grants(answer.get("Grants"))
    public = sorted({g["permission"] for g in grants if g["grantee"] in PUBLIC_GRANTEES and g["permission"]})
    return {
        "owner_id": (answer.get("Owner") or {}).get("ID"),
        "grants": grants,
        "public_acl": bool(public),
        "public_permissions": public,
    }


def _logging(details: Details, name: str) -> dict[str, Any] | None:
    answer = details.get("logging", "s3", "get_bucket_logging", Bucket=name)
    if answer is None:
        return None
    enabled = answer.get("LoggingEnabled") or {}
    target = enabled.get("TargetBucket")
    return {
        "enabled": bool(target),
        "target_bucket": target,
        "target_prefix": enabled.get("TargetPrefix") if target else None,
    }


def _object_ownership(details: Details, name: str) -> str | None:
    answer = details.get(
        "object_ownership",
        "s3",
        "get_bucket_ownership_controls",
        missing=("OwnershipControlsNotFoundError",),
        Bucket=name,
    )
    if answer is None:
        return None
    rules = (answer.get("OwnershipControls") or {}).get("Rules") or [{}]
    # No ownership controls behave as "ObjectWriter" (ACLs enabled), S3's behaviour before 2023.
    return rules[0].get("ObjectOwnership") or "ObjectWriter"


def _relations(config: dict[str, Any]) -> list[Rel]:
    relations = []
    key_id = (config["encryption"] or {}).get("kms_key_id") or ""
    if key_id.startswith("arn:") and ":key/" in key_id:
        relations.append(Rel("encrypted_with", key_id))
    target = (config["logging"] or {}).get("target_bucket")
    if target:
        relations.append(Rel("logs_to", bucket_arn(target)))
    return relations


def _encryption(answer: dict) -> dict[str, Any]:
    rules = (answer.get("ServerSideEncryptionConfiguration") or {}).get("Rules") or []
    if not rules:
        return {"enabled": False, "algorithm": None, "kms_key_id": None, "bucket_key_enabled": False}
    default = rules[0].get("ApplyServerSideEncryptionByDefault") or {}
    return {
        "enabled": bool(default.get("SSEAlgorithm")),
        "algorithm": default.get("SSEAlgorithm"),
        "kms_key_id": default.get("KMSMasterKeyID"),
        "bucket_key_enabled": bool(rules[0].get("BucketKeyEnabled", False)),
    }
