"""CloudFront distributions (global): viewer and origin protocols, TLS policy, WAF, S3 origins and their
access control, access logging."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import Any

from inventory.collectors.aws._util import Details, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

# bucket.s3.amazonaws.com, bucket.s3.eu-west-1.amazonaws.com, bucket.s3-eu-west-1.amazonaws.com and the
# website endpoints bucket.s3-website-eu-west-1.amazonaws.com / bucket.s3-website.eu-west-1.amazonaws.com
S3_DOMAIN = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?P<website>[.-]website)?(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$"
)


def _items(container: dict | None) -> list:
    return list((container or {}).get("Items") or [])


def s3_origin_bucket(domain_name: str) -> tuple[str | None, bool]:
    """(bucket, is_website_endpoint) of an S3 origin's domain name; (None, False) for anything else."""
    match = S3_DOMAIN.match((domain_name or "").lower())
    if not match:
        return None, False
    return match.group("bucket"), bool(match.group("website"))


def _origin(origin: dict) -> dict[str, Any]:
    bucket, website = s3_origin_bucket(origin.get("DomainName") or "")
    custom = origin.get("CustomOriginConfig") or {}
    if "S3OriginConfig" in origin or (bucket and not website and not custom):
        kind = "s3"
    elif bucket and website:
        kind = "s3_website"
    else:
        kind = "custom"
    oai = (origin.get("S3OriginConfig") or {}).get("OriginAccessIdentity") or None
    return {
        "id": origin.get("Id"),
        "domain_name": origin.get("DomainName"),
        "kind": kind,
        "s3_bucket": bucket if kind != "custom" else None,
        "origin_access_control_id": origin.get("OriginAccessControlId") or None,
        "origin_access_identity": oai,
        "origin_protocol_policy": custom.get("OriginProtocolPolicy"),
        "origin_ssl_protocols": _items(custom.get("OriginSslProtocols")),
    }


@collector("aws", "cloudfront.distribution", service="cloudfront", regional=False)
def distributions(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("cloudfront", "list_distributions"):
        listed = _items(page.get("DistributionList"))
        yield from fan_out(ctx, partial(_distribution_record, ctx), listed)


def _distribution_record(ctx: CollectContext, dist: dict) -> ResourceRecord:
    details = Details(ctx)
    dist_id = dist["Id"]
    dist_arn = dist.get("ARN") or f"arn:aws:cloudfront::{ctx.account_id}:distribution/{dist_id}"
    default = dist.get("DefaultCacheBehavior") or {}
    behaviors = [default, *_items(dist.get("CacheBehaviors"))]
    policies = sorted({b.get("ViewerProtocolPolicy") for b in behaviors if b.get("ViewerProtocolPolicy")})
    certificate = dist.get("ViewerCertificate") or {}
    origins = [_origin(o) for o in _items(dist.get("Origins"))]

    answer = details.get("logging", "cloudfront", "get_distribution_config", Id=dist_id)
    logging = None
    if answer is not None:
        settings = (answer.get("DistributionConfig") or {}).get("Logging") or {}
        enabled = bool(settings.get("Enabled", False))
        logging = {
            "enabled": enabled,
            "bucket": settings.get("Bucket") if enabled else None,
            "prefix": settings.get("Prefix") if enabled else None,
        }
    tags = details.get("tags", "cloudfront", "list_tags_for_resource", Resource=dist_arn)

    config: dict[str, Any] = {
        "distribution_id": dist_id,
        "domain_name": dist.get("DomainName"),
        "aliases": _items(dist.get("Aliases")),
        "enabled": bool(dist.get("Enabled", False)),
        "status": dist.get("Status"),
        "comment": dist.get("Comment") or None,
        "price_class": dist.get("PriceClass"),
        "http_version": dist.get("HttpVersion"),
        "ipv6_enabled": bool(dist.get("IsIPV6Enabled", False)),
        "web_acl_id": dist.get("WebACLId") or None,
        "last_modified_time": iso(dist.get("LastModifiedTime")),
        "default_viewer_protocol_policy": default.get("ViewerProtocolPolicy"),
        "viewer_protocol_policies": policies,
        "allows_http": "allow-all" in policies,
        "viewer_certificate": {
            "cloudfront_default_certificate": bool(certificate.get("CloudFrontDefaultCertificate", False)),
            "acm_certificate_arn": certificate.get("ACMCertificateArn") or None,
            "iam_certificate_id": certificate.get("IAMCertificateId") or None,
            "ssl_support_method": certificate.get("SSLSupportMethod"),
            "minimum_protocol_version": certificate.get("MinimumProtocolVersion"),
        },
        "origins": origins,
        "geo_restriction": ((dist.get("Restrictions") or {}).get("GeoRestriction") or {}).get("RestrictionType"),
        "logging": logging,
    }
    relations = [Rel("routes_to", f"arn:aws:s3:::{o['s3_bucket']}") for o in origins if o["s3_bucket"]]
    log_bucket, _ = s3_origin_bucket((logging or {}).get("bucket") or "")
    if log_bucket:
        relations.append(Rel("logs_to", f"arn:aws:s3:::{log_bucket}"))
    return ResourceRecord(
        native_id=dist_arn,
        name=(config["aliases"] or [dist.get("DomainName") or dist_id])[0],
        config=details.finish(config),
        tags=tags_dict(_items((tags or {}).get("Tags"))),
        relations=list(dict.fromkeys(relations)),
    )
