"""ELBv2 collectors: application, network and gateway load balancers, and their target groups with the
health of every target."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, ec2_arn, error_code, fan_out, iso, name_from_tags, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

# A resource deleted between the listing and its detail calls is skipped, not an error.
GONE = ("LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound")

TAGS_PER_CALL = 20  # DescribeTags takes at most 20 ARNs


def _pages(ctx: CollectContext, operation: str, key: str, **kwargs: Any) -> Iterator[list[dict]]:
    for page in ctx.paginate("elbv2", operation, **kwargs):
        yield page.get(key) or []


def _tags(ctx: CollectContext, arns: list[str]) -> dict[str, dict[str, str]] | None:
    """Tags of many resources, 20 ARNs a call (DescribeLoadBalancers/TargetGroups return none); None
    when unreadable."""
    result: dict[str, dict[str, str]] = {}
    details = Details(ctx)
    for start in range(0, len(arns), TAGS_PER_CALL):
        answer = details.get("tags", "elbv2", "describe_tags", ResourceArns=arns[start : start + TAGS_PER_CALL])
        if answer is None:
            return None
        for item in answer.get("TagDescriptions") or []:
            result[item["ResourceArn"]] = tags_dict(item.get("Tags"))
    return result


def _skip_if_gone(build, *args: Any) -> ResourceRecord | None:
    try:
        return build(*args)
    except ClientError as error:
        if error_code(error) in GONE:
            return None
        raise


def _unique(rels: list[Rel]) -> list[Rel]:
    return list(dict.fromkeys(rel for rel in rels if rel.target_native_id))


def _is_true(value: str | None) -> bool | None:
    return None if value is None else value.lower() == "true"


def _listeners(details: Details, lb_arn: str) -> list[dict] | None:
    found = details.items("listeners", "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=lb_arn)
    if found is None:
        return None
    listeners = []
    for listener in found:
        actions = []
        for action in listener.get("DefaultActions") or []:
            forwards = [t["TargetGroupArn"] for t in (action.get("ForwardConfig") or {}).get("TargetGroups") or []]
            if action.get("TargetGroupArn"):
                forwards.insert(0, action["TargetGroupArn"])
            redirect = action.get("RedirectConfig") or {}
            actions.append(
                {
                    "type": action.get("Type"),
                    "target_group_arns": list(dict.fromkeys(forwards)),
                    "redirect_protocol": redirect.get("Protocol"),
                    "redirect_port": redirect.get("Port"),
                }
            )
        listeners.append(
            {
                "listener_arn": listener.get("ListenerArn"),
                "protocol": listener.get("Protocol"),
                "port": listener.get("Port"),
                "ssl_policy": listener.get("SslPolicy"),
                "certificate_arns": [c["CertificateArn"] for c in listener.get("Certificates") or []],
                "default_actions": actions,
            }
        )
    return listeners


ATTRIBUTE_FIELDS = ("attributes", "access_logs", "deletion_protection", "drop_invalid_header_fields")


def _attributes(details: Details, lb_arn: str) -> dict[str, str] | None:
    answer = details.get("attributes", "elbv2", "describe_load_balancer_attributes", LoadBalancerArn=lb_arn)
    if answer is None:
        details.unreadable.extend(f for f in ATTRIBUTE_FIELDS if f not in details.unreadable)
        return None
    return {a["Key"]: a.get("Value", "") for a in answer.get("Attributes") or []}


def _target_groups_by_lb(ctx: CollectContext) -> dict[str, list[str]] | None:
    """Every target group each load balancer uses (through any listener or rule), in one paged call;
    None when unreadable."""
    found = Details(ctx).items("target_group_arns", "elbv2", "describe_target_groups", "TargetGroups")
    if found is None:
        return None
    result: dict[str, list[str]] = {}
    for tg in found:
        for lb_arn in tg.get("LoadBalancerArns") or []:
            result.setdefault(lb_arn, []).append(tg["TargetGroupArn"])
    return result


@collector("aws", "elbv2.load_balancer", service="elasticloadbalancing", regional=True)
def load_balancers(ctx: CollectContext) -> Iterator[ResourceRecord]:
    fetched = False
    tgs_by_lb: dict[str, list[str]] | None = None
    for page in _pages(ctx, "describe_load_balancers", "LoadBalancers"):
        if not page:
            continue
        if not fetched:
            tgs_by_lb, fetched = _target_groups_by_lb(ctx), True
        tags = _tags(ctx, [lb["LoadBalancerArn"] for lb in page])
        build = partial(_skip_if_gone, _load_balancer_record, ctx, tags, tgs_by_lb)
        yield from (record for record in fan_out(ctx, build, page) if record is not None)


def _load_balancer_record(
    ctx: CollectContext, tags: dict[str, dict[str, str]] | None, tgs_by_lb: dict[str, list[str]] | None, lb: dict
) -> ResourceRecord:
    lb_arn = lb["LoadBalancerArn"]
    # Calls in a fixed order (tests answer them from a Stubber queue).
    details = Details(ctx, gone=GONE)
    listeners = _listeners(details, lb_arn)
    attrs = _attributes(details, lb_arn)
    if tags is None:
        details.unreadable.append("tags")
    if tgs_by_lb is None:
        details.unreadable.append("target_group_arns")
    subnet_ids = [z["SubnetId"] for z in lb.get("AvailabilityZones") or [] if z.get("SubnetId")]
    sg_ids = list(lb.get("SecurityGroups") or [])
    target_groups = list(
        dict.fromkeys(
            [
                *(tgs_by_lb or {}).get(lb_arn, []),
                *(tg for lst in listeners or [] for act in lst["default_actions"] for tg in act["target_group_arns"]),
            ]
        )
    )
    config = {
        "load_balancer_name": lb.get("LoadBalancerName"),
        "type": lb.get("Type"),
        "scheme": lb.get("Scheme"),
        "dns_name": lb.get("DNSName"),
        "vpc_id": lb.get("VpcId"),
        "state": (lb.get("State") or {}).get("Code"),
        "ip_address_type": lb.get("IpAddressType"),
        "created_time": iso(lb.get("CreatedTime")),
        "security_groups": sg_ids,
        "subnets": subnet_ids,
        "availability_zones": [z.get("ZoneName") for z in lb.get("AvailabilityZones") or []],
        "listeners": listeners,
        "target_group_arns": target_groups,
        "access_logs": None
        if attrs is None
        else {
            "enabled": bool(_is_true(attrs.get("access_logs.s3.enabled"))),
            "bucket": attrs.get("access_logs.s3.bucket") or None,
            "prefix": attrs.get("access_logs.s3.prefix") or None,
        },
        "deletion_protection": None if attrs is None else bool(_is_true(attrs.get("deletion_protection.enabled"))),
        "drop_invalid_header_fields": None
        if attrs is None
        else _is_true(attrs.get("routing.http.drop_invalid_header_fields.enabled")),
        "attributes": attrs,
    }
    details.finish(config)
    rels = [
        *(Rel("uses_security_group", ec2_arn(ctx, "security-group", sg)) for sg in sg_ids),
        *(Rel("in_subnet", ec2_arn(ctx, "subnet", s)) for s in subnet_ids),
        Rel("in_vpc", ec2_arn(ctx, "vpc", lb["VpcId"]) if lb.get("VpcId") else ""),
        *(Rel("forwards_to", tg) for tg in target_groups),
    ]
    own_tags = (tags or {}).get(lb_arn, {})
    return ResourceRecord(
        native_id=lb_arn,
        name=name_from_tags(own_tags, lb.get("LoadBalancerName") or lb_arn),
        config=config,
        tags=own_tags,
        relations=_unique(rels),
    )


def _target_ref(ctx: CollectContext, target_type: str | None, target_id: str) -> str:
    if target_type == "instance":
        return ec2_arn(ctx, "instance", target_id)
    if target_type in ("lambda", "alb"):
        return target_id  # already an ARN
    return ""  # ip targets are addresses, not resources


@collector("aws", "elbv2.target_group", service="elasticloadbalancing", regional=True)
def target_groups(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in _pages(ctx, "describe_target_groups", "TargetGroups"):
        if not page:
            continue
        tags = _tags(ctx, [tg["TargetGroupArn"] for tg in page])
        build = partial(_skip_if_gone, _target_group_record, ctx, tags)
        yield from (record for record in fan_out(ctx, build, page) if record is not None)


def _targets(details: Details, tg_arn: str) -> list[dict] | None:
    health = details.get("targets", "elbv2", "describe_target_health", TargetGroupArn=tg_arn)
    if health is None:
        return None
    return [
        {
            "id": (item.get("Target") or {}).get("Id"),
            "port": (item.get("Target") or {}).get("Port"),
            "availability_zone": (item.get("Target") or {}).get("AvailabilityZone"),
            "health": (item.get("TargetHealth") or {}).get("State"),
            "reason": (item.get("TargetHealth") or {}).get("Reason"),
        }
        for item in health.get("TargetHealthDescriptions") or []
    ]


def _target_group_record(ctx: CollectContext, tags: dict[str, dict[str, str]] | None, tg: dict) -> ResourceRecord:
    tg_arn = tg["TargetGroupArn"]
    target_type = tg.get("TargetType")
    details = Details(ctx, gone=GONE)
    targets = _targets(details, tg_arn)
    if tags is None:
        details.unreadable.append("tags")
    config = {
        "target_group_name": tg.get("TargetGroupName"),
        "protocol": tg.get("Protocol"),
        "protocol_version": tg.get("ProtocolVersion"),
        "port": tg.get("Port"),
        "vpc_id": tg.get("VpcId"),
        "target_type": target_type,
        "load_balancer_arns": list(tg.get("LoadBalancerArns") or []),
        "health_check": {
            "enabled": tg.get("HealthCheckEnabled"),
            "protocol": tg.get("HealthCheckProtocol"),
            "port": tg.get("HealthCheckPort"),
            "path": tg.get("HealthCheckPath"),
        },
        "targets": targets,
        "healthy_count": None if targets is None else sum(1 for t in targets if t["health"] == "healthy"),
        "unhealthy_count": None
        if targets is None
        else sum(1 for t in targets if str(t["health"] or "").startswith("unhealthy")),
    }
    if targets is None:
        details.unreadable += ["healthy_count", "unhealthy_count"]
    details.finish(config)
    rels = [
        Rel("in_vpc", ec2_arn(ctx, "vpc", tg["VpcId"]) if tg.get("VpcId") else ""),
        *(Rel("targets", _target_ref(ctx, target_type, t["id"] or "")) for t in targets or []),
    ]
    own_tags = (tags or {}).get(tg_arn, {})
    return ResourceRecord(
        native_id=tg_arn,
        name=name_from_tags(own_tags, tg.get("TargetGroupName") or tg_arn),
        config=config,
        tags=own_tags,
        relations=_unique(rels),
    )
