"""AWS WAF (v2) web ACLs: regional ones (load balancers, API Gateway stages, AppSync, Cognito, App Runner)
per region, and CloudFront ones once per account (their scope lives in us-east-1). Rules are summarized
(name, action, kind, metrics), the resources each ACL protects and where it logs are recorded.

What an ACL protects is read like the listing itself: a refusal fails the unit. Rules judge a load
balancer "not protected" from the absence of an ACL pointing at it, which must never come from a read
that was denied."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, error_code, fan_out, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

GONE = ("WAFNonexistentItemException",)
REGIONAL_RESOURCE_TYPES = (
    "APPLICATION_LOAD_BALANCER",
    "API_GATEWAY",
    "APPSYNC",
    "COGNITO_USER_POOL",
    "APP_RUNNER_SERVICE",
    "VERIFIED_ACCESS_INSTANCE",
)
STATEMENT_KINDS = {
    "ManagedRuleGroupStatement": "managed_rule_group",
    "RuleGroupReferenceStatement": "rule_group",
    "RateBasedStatement": "rate_based",
}


def _listed(ctx: CollectContext, scope: str) -> list[dict]:
    """Every web ACL summary of ``scope`` (ListWebACLs pages with NextMarker; botocore has no paginator)."""
    found: list[dict] = []
    marker: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Scope": scope, "Limit": 100}
        if marker:
            kwargs["NextMarker"] = marker
        answer = ctx.call("wafv2", "list_web_acls", **kwargs)
        found += answer.get("WebACLs") or []
        marker = answer.get("NextMarker")
        if not marker or not answer.get("WebACLs"):
            return found


def _action(rule: dict) -> str | None:
    for key in ("Action", "OverrideAction"):
        value = rule.get(key) or {}
        if value:
            return next(iter(value)).lower()  # allow | block | count | captcha | challenge | none
    return None


def _rule(rule: dict) -> dict[str, Any]:
    statement = rule.get("Statement") or {}
    kind = next((STATEMENT_KINDS[k] for k in statement if k in STATEMENT_KINDS), "custom")
    managed = statement.get("ManagedRuleGroupStatement") or {}
    return {
        "name": rule.get("Name"),
        "priority": rule.get("Priority"),
        "action": _action(rule),
        "kind": kind,
        "managed_rule_group": f"{managed.get('VendorName')}:{managed.get('Name')}" if managed else None,
        "metrics_enabled": bool((rule.get("VisibilityConfig") or {}).get("CloudWatchMetricsEnabled", False)),
    }


def _web_acl_record(ctx: CollectContext, scope: str, summary: dict) -> ResourceRecord | None:
    try:
        return _read_web_acl(ctx, scope, summary)
    except ClientError as error:
        if error_code(error) in GONE:
            return None  # deleted after the listing
        raise


def _protected(ctx: CollectContext, scope: str, acl_arn: str) -> list[str]:
    """The ARNs of what the ACL protects (errors propagate: see the module's docstring)."""
    found: list[str] = []
    if scope == "CLOUDFRONT":
        marker = ""
        while True:  # pages with Marker / NextMarker; botocore has no paginator for this call
            kwargs = {"WebACLId": acl_arn, **({"Marker": marker} if marker else {})}
            answer = ctx.call("cloudfront", "list_distributions_by_web_acl_id", **kwargs)
            listing = answer.get("DistributionList") or {}
            found += [d["ARN"] for d in listing.get("Items") or [] if d.get("ARN")]
            marker = listing.get("NextMarker") or ""
            if not listing.get("IsTruncated") or not marker:
                return sorted(found)
    for resource_type in REGIONAL_RESOURCE_TYPES:
        answer = ctx.call("wafv2", "list_resources_for_web_acl", WebACLArn=acl_arn, ResourceType=resource_type)
        found += answer.get("ResourceArns") or []
    return sorted(found)


def _read_web_acl(ctx: CollectContext, scope: str, summary: dict) -> ResourceRecord:
    acl_arn = summary["ARN"]
    details = Details(ctx, gone=GONE)
    answer = details.get("rules", "wafv2", "get_web_acl", Name=summary["Name"], Id=summary["Id"], Scope=scope)
    acl = (answer or {}).get("WebACL") or {}
    logging = details.get("logging", "wafv2", "get_logging_configuration", missing=GONE, ResourceArn=acl_arn)
    logged = (logging or {}).get("LoggingConfiguration") or {}
    destinations = None if logging is None else list(logged.get("LogDestinationConfigs") or [])
    protected = _protected(ctx, scope, acl_arn)
    tags = details.get("tags", "wafv2", "list_tags_for_resource", ResourceARN=acl_arn)
    visibility = acl.get("VisibilityConfig") or {}
    rules = None if answer is None else [_rule(r) for r in acl.get("Rules") or []]
    config: dict[str, Any] = {
        "web_acl_id": summary.get("Id"),
        "scope": scope,
        "description": summary.get("Description") or None,
        "default_action": None if answer is None else next(iter(acl.get("DefaultAction") or {"allow": 0})).lower(),
        "rules": rules,
        "rule_count": None if rules is None else len(rules),
        "capacity": acl.get("Capacity"),
        "metrics_enabled": None if answer is None else bool(visibility.get("CloudWatchMetricsEnabled", False)),
        "sampled_requests_enabled": None if answer is None else bool(visibility.get("SampledRequestsEnabled", False)),
        "managed_by_firewall_manager": bool(acl.get("ManagedByFirewallManager", False)),
        "logging_enabled": None if destinations is None else bool(destinations),
        "log_destinations": destinations,
        "protected_resources": protected,
    }
    relations = [Rel("protects", resource) for resource in protected]
    relations += [Rel("logs_to", d.removesuffix(":*")) for d in destinations or [] if ":logs:" in d or ":s3:" in d]
    return ResourceRecord(
        native_id=acl_arn,
        name=summary.get("Name") or acl_arn,
        config=details.finish(config),
        tags=tags_dict(((tags or {}).get("TagInfoForResource") or {}).get("TagList")),
        relations=relations,
    )


def _web_acls(ctx: CollectContext, scope: str) -> Iterator[ResourceRecord]:
    for record in fan_out(ctx, partial(_web_acl_record, ctx, scope), _listed(ctx, scope)):
        if record is not None:
            yield record


@collector("aws", "wafv2.web_acl", service="wafv2", regional=True)
def regional_web_acls(ctx: CollectContext) -> Iterator[ResourceRecord]:
    yield from _web_acls(ctx, "REGIONAL")


@collector("aws", "wafv2.cloudfront_web_acl", service="wafv2", regional=False)
def cloudfront_web_acls(ctx: CollectContext) -> Iterator[ResourceRecord]:
    yield from _web_acls(ctx, "CLOUDFRONT")
