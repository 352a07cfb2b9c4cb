"""Route 53 hosted zones (global): public or private (with their VPCs), record count, query logging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory.collectors.aws._util import Details, arn, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

TAGS_BATCH = 10  # ListTagsForResources takes at most 10 ids


def zone_id(raw: str) -> str:
    """ "/hostedzone/Z123" → "Z123"."""
    return raw.rsplit("/", 1)[-1]


@collector("aws", "route53.hosted_zone", service="route53", regional=False)
def hosted_zones(ctx: CollectContext) -> Iterator[ResourceRecord]:
    checked, logged = False, None
    for page in ctx.paginate("route53", "list_hosted_zones"):
        zones = page.get("HostedZones") or []
        if not zones:
            continue
        if not checked:
            # One account-wide listing tells which zones log their queries; None when unreadable.
            configs = Details(ctx).items(
                "query_logging", "route53", "list_query_logging_configs", "QueryLoggingConfigs"
            )
            checked, logged = True, None if configs is None else {zone_id(c.get("HostedZoneId") or "") for c in configs}
        tags = _tags(ctx, [zone_id(z["Id"]) for z in zones])
        for zone in zones:
            yield _zone_record(ctx, zone, logged, tags)


def _tags(ctx: CollectContext, ids: list[str]) -> dict[str, dict[str, str]] | None:
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(ids), TAGS_BATCH):
        answer = Details(ctx).get(
            "tags",
            "route53",
            "list_tags_for_resources",
            ResourceType="hostedzone",
            ResourceIds=ids[start : start + TAGS_BATCH],
        )
        if answer is None:
            return None
        for entry in answer.get("ResourceTagSets") or []:
            found[entry.get("ResourceId")] = tags_dict(entry.get("Tags"))
    return found


def _zone_record(
    ctx: CollectContext, zone: dict, logged: set[str] | None, tags: dict[str, dict[str, str]] | None
) -> ResourceRecord:
    details = Details(ctx)
    zid = zone_id(zone["Id"])
    private = bool((zone.get("Config") or {}).get("PrivateZone", False))
    vpcs: list[dict[str, str]] | None = []
    if private:
        answer = details.get("vpcs", "route53", "get_hosted_zone", Id=zid)
        vpcs = (
            None
            if answer is None
            else [{"vpc_id": v.get("VPCId"), "region": v.get("VPCRegion")} for v in answer.get("VPCs") or []]
        )
    if logged is None:
        details.unreadable.append("query_logging_enabled")
    if tags is None:
        details.unreadable.append("tags")
    config: dict[str, Any] = {
        "zone_id": zid,
        "name": zone.get("Name"),
        "private_zone": private,
        "comment": (zone.get("Config") or {}).get("Comment") or None,
        "record_set_count": zone.get("ResourceRecordSetCount"),
        "linked_service": (zone.get("LinkedService") or {}).get("ServicePrincipal"),
        "vpcs": vpcs,
        "query_logging_enabled": None if logged is None else zid in logged,
    }
    relations = [
        Rel("in_vpc", arn("ec2", v["region"], ctx.account_id, f"vpc/{v['vpc_id']}"))
        for v in vpcs or []
        if v["vpc_id"] and v["region"]
    ]
    return ResourceRecord(
        native_id=f"arn:aws:route53:::hostedzone/{zid}",
        name=(zone.get("Name") or zid).rstrip("."),
        config=details.finish(config),
        tags=(tags or {}).get(zid, {}),
        relations=relations,
    )
