"""Per-region settings as a record of their own (``aws.region.settings``): what protects or records a
region whether or not any resource lives there. EBS encryption by default, the default VPC, GuardDuty,
Security Hub, the AWS Config recorder, IAM Access Analyzer, and which CloudTrail trails log the region.

One record per region, every run, even when every service is off: "not enabled" is a value rules can
judge. The default-VPC listing is the unit's main call (it raises, so a disabled region is skipped like
any other); every other setting is read by its own call, and one the identity may not read (or an
endpoint that does not offer it) is null and listed in ``config["unreadable"]``, never read as "off".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory.collectors.aws._util import Details, ec2_arn, iso
from inventory.collectors.aws.cloudtrail import summarize_event_selectors
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

# Security Hub answers "not subscribed" with InvalidAccessException; AccessDeniedException is a denial.
SECURITY_HUB_OFF = ("InvalidAccessException", "ResourceNotFoundException")
# What a trail without custom event selectors records.
DEFAULT_SELECTORS = {"management_events": True, "management_read_write_type": "All", "data_events": False}


def region_settings_arn(region: str, account_id: str) -> str:
    return f"arn:aws:account:{region}:{account_id}:region-settings"


@collector(
    "aws",
    "region.settings",
    service="ec2",
    regional=True,
    # Config's delivery status flips between PENDING and SUCCESS on its own: stored, never a change.
    volatile=("aws_config.recorders[].last_status",),
)
def region_settings(ctx: CollectContext) -> Iterator[ResourceRecord]:
    default_vpcs = ctx.call("ec2", "describe_vpcs", Filters=[{"Name": "isDefault", "Values": ["true"]}])
    default_vpc_id = next((v.get("VpcId") for v in default_vpcs.get("Vpcs") or []), None)
    details = Details(ctx)
    encryption_on, kms_key_id = _ebs_encryption(details)
    trails = _trails(details)
    config: dict[str, Any] = {
        "region": ctx.region,
        "ebs_encryption_by_default": encryption_on,
        "ebs_default_kms_key_id": kms_key_id,
        "default_vpc_id": default_vpc_id,
        "guardduty": _guardduty(details),
        "security_hub": _security_hub(details),
        "aws_config": _aws_config(details),
        "access_analyzers": _access_analyzers(details),
        "trails": trails,
    }
    relations = [Rel("associated_with", t["arn"]) for t in trails or []]
    if default_vpc_id:
        relations.append(Rel("associated_with", ec2_arn(ctx, "vpc", default_vpc_id)))
    if kms_key_id and kms_key_id.startswith("arn:") and ":key/" in kms_key_id:
        relations.append(Rel("encrypted_with", kms_key_id))
    yield ResourceRecord(
        native_id=region_settings_arn(ctx.region, ctx.account_id),
        name=f"Region settings ({ctx.region})",
        config=details.finish(config),
        relations=relations,
    )


def _ebs_encryption(details: Details) -> tuple[bool | None, str | None]:
    """(encryption by default, its KMS key). The key is only read when encryption is on: it is what new
    volumes get, and otherwise only applies to volumes that ask for encryption themselves."""
    answer = details.get("ebs_encryption_by_default", "ec2", "get_ebs_encryption_by_default")
    if answer is None:
        return None, None
    enabled = bool(answer.get("EbsEncryptionByDefault", False))
    if not enabled:
        return False, None
    key = details.get("ebs_default_kms_key_id", "ec2", "get_ebs_default_kms_key_id")
    return True, None if key is None else key.get("KmsKeyId")


def _guardduty(details: Details) -> dict[str, Any] | None:
    """GuardDuty has at most one detector per account and region."""
    detector_ids = details.items("guardduty", "guardduty", "list_detectors", "DetectorIds")
    if detector_ids is None:
        return None
    if not detector_ids:
        return {"enabled": False, "detector_id": None, "status": None, "finding_publishing_frequency": None}
    detector = details.get("guardduty", "guardduty", "get_detector", DetectorId=detector_ids[0])
    if detector is None:
        return None
    status = detector.get("Status")
    return {
        "enabled": status == "ENABLED",
        "detector_id": detector_ids[0],
        "status": status,
        "finding_publishing_frequency": detector.get("FindingPublishingFrequency"),
    }


def _security_hub(details: Details) -> dict[str, Any] | None:
    hub = details.get("security_hub", "securityhub", "describe_hub", missing=SECURITY_HUB_OFF)
    if hub is None:
        return None
    if not hub.get("HubArn"):
        return {"enabled": False, "hub_arn": None, "subscribed_at": None, "auto_enable_controls": None}
    return {
        "enabled": True,
        "hub_arn": hub["HubArn"],
        "subscribed_at": iso(hub.get("SubscribedAt")),
        "auto_enable_controls": hub.get("AutoEnableControls"),
    }


def _aws_config(details: Details) -> dict[str, Any] | None:
    """The configuration recorders (the customer's and any service-linked ones), their status, and how many
    delivery channels exist: Config records a region only with a recorder that is on."""
    recorders = details.get("aws_config", "config", "describe_configuration_recorders")
    statuses = details.get("aws_config", "config", "describe_configuration_recorder_status")
    channels = details.get("aws_config", "config", "describe_delivery_channels")
    if recorders is None or statuses is None or channels is None:
        return None
    status_by_name = {s.get("name"): s for s in statuses.get("ConfigurationRecordersStatus") or []}
    listed = []
    for recorder in recorders.get("ConfigurationRecorders") or []:
        group = recorder.get("recordingGroup") or {}
        status = status_by_name.get(recorder.get("name")) or {}
        listed.append(
            {
                "name": recorder.get("name"),
                "recording": bool(status.get("recording", False)),
                "all_supported": bool(group.get("allSupported", False)),
                "include_global_resource_types": bool(group.get("includeGlobalResourceTypes", False)),
                "last_status": status.get("lastStatus"),
            }
        )
    return {
        "recording": any(r["recording"] for r in listed),
        "recorders": listed,
        "delivery_channels": len(channels.get("DeliveryChannels") or []),
    }


def _access_analyzers(details: Details) -> list[dict[str, Any]] | None:
    analyzers = details.items("access_analyzers", "accessanalyzer", "list_analyzers", "analyzers")
    if analyzers is None:
        return None
    return [
        {"name": a.get("name"), "arn": a.get("arn"), "type": a.get("type"), "status": a.get("status")}
        for a in analyzers
    ]


def _trails(details: Details) -> list[dict[str, Any]] | None:
    """Every trail that logs this region: DescribeTrails with shadow trails lists the region's own trails,
    multi-region trails homed elsewhere and organization trails. For each, whether it is logging
    (GetTrailStatus, by ARN so that a shadow trail answers) and which management events it records."""
    listed = details.get("trails", "cloudtrail", "describe_trails", includeShadowTrails=True)
    if listed is None:
        return None
    trails = []
    for trail in listed.get("trailList") or []:
        trail_arn = trail.get("TrailARN")
        if not trail_arn:
            continue
        status = details.get("trail_status", "cloudtrail", "get_trail_status", Name=trail_arn)
        if trail.get("HasCustomEventSelectors"):
            answer = details.get("trail_event_selectors", "cloudtrail", "get_event_selectors", TrailName=trail_arn)
            selectors = None if answer is None else summarize_event_selectors(answer)
        else:
            selectors = dict(DEFAULT_SELECTORS)
        trails.append(
            {
                "arn": trail_arn,
                "name": trail.get("Name"),
                "home_region": trail.get("HomeRegion"),
                "is_multi_region": bool(trail.get("IsMultiRegionTrail", False)),
                "is_organization_trail": bool(trail.get("IsOrganizationTrail", False)),
                "is_logging": None if status is None else bool(status.get("IsLogging", False)),
                "event_selectors": selectors,
            }
        )
    return sorted(trails, key=lambda t: t["arn"])
