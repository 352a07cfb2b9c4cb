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
    region = bucket.get("BucketRegion")
    if not region:
        location = details.get("region", "s3", "get_bucket_location", Bucket=name)
        if location is not None:
            # Buckets in us-east-1 answer null; a few legacy ones answer "EU".
            constraint = location.get("LocationConstraint")
            region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)

    config: dict[str, Any] = {"name": name, "region": region, "creation_date": iso(bucket.get("CreationDate"))}
    relations: list[Rel] = []

    encryption = details.get(
        "encryption",
        "s3",
        "get_bucket_encryption",
        missing=("ServerSideEncryptionConfigurationNotFoundError",),
        Bucket=name,
    )
    config["encryption"] = None if encryption is None else _encryption(encryption)
    key_id = (config["encryption"] or {}).get("kms_key_id") or ""
    if key_id.startswith("arn:") and ":key/" in key_id:
        relations.append(Rel("encrypted_with", key_id))

    versioning = details.get("versioning", "s3", "get_bucket_versioning", Bucket=name)
    config["versioning"] = (
        None
        if versioning is None
        else {
            "status": versioning.get("Status") or "Disabled",
            "mfa_delete": versioning.get("MFADelete") == "Enabled",
        }
    )

    pab = details.get(
        "public_access_block",
        "s3",
        "get_public_access_block",
        missing=("NoSuchPublicAccessBlockConfiguration",),
        Bucket=name,
    )
    config["public_access_block"] = None if pab is None else normalize_pab(pab.get("PublicAccessBlockConfiguration"))
    account_flags, account_readable = account_pab or (None, False)
    if not account_readable:
        details.unreadable.append("account_public_access_block")
    config["account_public_access_block"] = account_flags
    if config["public_access_block"] is not None and account_flags is not None:
        # What S3 enforces: a flag set on either level applies.
        config["effective_public_access_block"] = {
            key: config["public_access_block"][key] or account_flags[key] for key in _PAB_KEYS.values()
        }
    else:
        config["effective_public_access_block"] = None

    status = details.get(
        "policy_status", "s3", "get_bucket_policy_status", missing=("NoSuchBucketPolicy",), Bucket=name
    )
    config["policy_status"] = (
        None
        if status is None
        else {
            "has_policy": bool(status),
            "is_public": bool((status.get("PolicyStatus") or {}).get("IsPublic", False)),
        }
    )

    acl = details.get("acl", "s3", "get_bucket_acl", Bucket=name)
    if acl is None:
        config["acl"] = None
    else:
        grants = normalize_grants(acl.get("Grants"))
        public = sorted({g["permission"] for g in grants if g["grantee"] in PUBLIC_GRANTEES and g["permission"]})
        config["acl"] = {
            "owner_id": (acl.get("Owner") or {}).get("ID"),
            "grants": grants,
            "public_acl": bool(public),
            "public_permissions": public,
        }

    logging = details.get("logging", "s3", "get_bucket_logging", Bucket=name)
    if logging is None:
        config["logging"] = None
    else:
        enabled = logging.get("LoggingEnabled") or {}
        target = enabled.get("TargetBucket")
        config["logging"] = {
            "enabled": bool(target),
            "target_bucket": target,
            "target_prefix": enabled.get("TargetPrefix") if target else None,
        }
        if target:
            relations.append(Rel("logs_to", bucket_arn(target)))

    ownership = details.get(
        "object_ownership",
        "s3",
        "get_bucket_ownership_controls",
        missing=("OwnershipControlsNotFoundError",),
        Bucket=name,
    )
    if ownership is None:
        config["object_ownership"] = None
    else:
        rules = (ownership.get("OwnershipControls") or {}).get("Rules") or [{}]
        # No ownership controls behave as "ObjectWriter" (ACLs enabled), S3's behaviour before 2023.
        config["object_ownership"] = rules[0].get("ObjectOwnership") or "ObjectWriter"

    tagging = details.get("tags", "s3", "get_bucket_tagging", missing=("NoSuchTagSet",), Bucket=name)
    tags = tags_dict((tagging or {}).get("TagSet"))

    return ResourceRecord(
        native_id=bucket_arn(name),
        name=name,
        config=details.finish(config),
        tags=tags,
        relations=list(dict.fromkeys(relations)),
        region=region or "",
    )


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
