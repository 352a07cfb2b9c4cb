"""ECR private repositories: image scanning (as the registry's scanning configuration makes it effective),
tag immutability, encryption, the lifecycle and repository policies."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._policy import summarize_resource_policy
from inventory.collectors.aws._util import Details, error_code, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

ON_PUSH = frozenset({"SCAN_ON_PUSH", "CONTINUOUS_SCAN"})  # enhanced scanning's continuous scan covers pushes


def _registry_scanning(ctx: CollectContext) -> dict[str, Any] | None:
    """The registry's scanning configuration ({scan_type, rules}); None when unreadable."""
    answer = Details(ctx).get("registry_scanning", "ecr", "get_registry_scanning_configuration")
    if answer is None:
        return None
    scanning = answer.get("scanningConfiguration") or {}
    return {
        "scan_type": scanning.get("scanType") or "BASIC",
        "rules": [
            {
                "scan_frequency": rule.get("scanFrequency"),
                "filters": [f.get("filter") for f in rule.get("repositoryFilters") or [] if f.get("filter")],
            }
            for rule in scanning.get("rules") or []
        ],
    }


def effective_scan_on_push(name: str, repository_flag: bool, registry: dict[str, Any] | None) -> bool | None:
    """Whether a push is scanned: enhanced scanning by the registry's rules alone; basic scanning by a
    matching registry rule or the repository's own (legacy) flag. None when the registry is unknown."""
    if registry is None:
        return None
    matched = {
        rule["scan_frequency"]
        for rule in registry["rules"]
        if any(fnmatchcase(name, pattern) for pattern in rule["filters"])
    }
    if registry["scan_type"] == "ENHANCED":
        return bool(matched & ON_PUSH)
    return repository_flag or "SCAN_ON_PUSH" in matched


@collector("aws", "ecr.repository", service="api.ecr", regional=True)
def repositories(ctx: CollectContext) -> Iterator[ResourceRecord]:
    registry: dict[str, Any] | None | bool = False  # read once, with the first page
    for page in ctx.paginate("ecr", "describe_repositories"):
        if registry is False:
            registry = _registry_scanning(ctx)
        for record in fan_out(ctx, partial(_repository_record, ctx, registry), page.get("repositories") or []):
            if record is not None:
                yield record


def _repository_record(ctx: CollectContext, registry: dict[str, Any] | None, repo: dict) -> ResourceRecord | None:
    try:
        return _read_repository(ctx, registry, repo)
    except ClientError as error:
        if error_code(error) == "RepositoryNotFoundException":
            return None  # deleted after the listing
        raise


def _read_repository(ctx: CollectContext, registry: dict[str, Any] | None, repo: dict) -> ResourceRecord:
    name, repo_arn = repo["repositoryName"], repo["repositoryArn"]
    details = Details(ctx, gone=("RepositoryNotFoundException",))
    if registry is None:
        details.unreadable.append("scan_on_push")
    lifecycle = details.get(
        "lifecycle_policy",
        "ecr",
        "get_lifecycle_policy",
        missing=("LifecyclePolicyNotFoundException",),
        repositoryName=name,
    )
    policy = details.get(
        "policy", "ecr", "get_repository_policy", missing=("RepositoryPolicyNotFoundException",), repositoryName=name
    )
    tags = (details.get("tags", "ecr", "list_tags_for_resource", resourceArn=repo_arn) or {}).get("tags")
    encryption = repo.get("encryptionConfiguration") or {}
    flag = bool((repo.get("imageScanningConfiguration") or {}).get("scanOnPush", False))
    config: dict[str, Any] = {
        "repository_name": name,
        "repository_uri": repo.get("repositoryUri"),
        "image_tag_mutability": repo.get("imageTagMutability"),  # MUTABLE | IMMUTABLE (| …_WITH_EXCLUSION)
        "repository_scan_on_push": flag,
        "registry_scan_type": None if registry is None else registry["scan_type"],
        "scan_on_push": effective_scan_on_push(name, flag, registry),
        "encryption_type": encryption.get("encryptionType") or "AES256",  # AES256 | KMS | KMS_DSSE
        "kms_key_arn": encryption.get("kmsKey"),
        "lifecycle_policy": None if lifecycle is None else bool(lifecycle.get("lifecyclePolicyText")),
        "policy": None if policy is None else summarize_resource_policy(policy.get("policyText"), ctx.account_id),
        "created_at": iso(repo.get("createdAt")),
    }
    relations = [Rel("encrypted_with", encryption["kmsKey"])] if encryption.get("kmsKey") else []
    return ResourceRecord(
        native_id=repo_arn, name=name, config=details.finish(config), tags=tags_dict(tags), relations=relations
    )
