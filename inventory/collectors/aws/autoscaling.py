"""EC2 Auto Scaling groups and what they launch from: EC2 launch templates (their default version) and
the older launch configurations. User data is recorded as present or not, never its content: it often
holds secrets."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from inventory.collectors.aws._util import Details, ec2_arn, fan_out, iso, name_from_tags, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector


def _metadata_options(options: dict | None) -> dict[str, Any]:
    """As set on the template; null http_tokens means "not set": the account's or AMI's default applies,
    which allows IMDSv1 unless someone changed it."""
    options = options or {}
    return {
        "http_tokens": options.get("HttpTokens"),
        "http_endpoint": options.get("HttpEndpoint"),
        "http_put_response_hop_limit": options.get("HttpPutResponseHopLimit"),
    }


def _block_devices(mappings: list[dict] | None) -> list[dict[str, Any]]:
    devices = []
    for mapping in mappings or []:
        ebs = mapping.get("Ebs")
        if not ebs:
            continue  # instance store or a suppressed device
        devices.append(
            {
                "device_name": mapping.get("DeviceName"),
                "volume_type": ebs.get("VolumeType"),
                "volume_size": ebs.get("VolumeSize"),
                "encrypted": bool(ebs.get("Encrypted", False)),
                "kms_key_id": ebs.get("KmsKeyId"),
            }
        )
    return devices


# --- launch templates -----------------------------------------------------------------------------


@collector("aws", "ec2.launch_template", service="ec2", regional=True)
def launch_templates(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("ec2", "describe_launch_templates"):
        yield from fan_out(ctx, partial(_template_record, ctx), page.get("LaunchTemplates") or [])


def _template_record(ctx: CollectContext, template: dict) -> ResourceRecord:
    template_id = template["LaunchTemplateId"]
    details = Details(ctx)
    versions = details.items(
        "default_version",
        "ec2",
        "describe_launch_template_versions",
        "LaunchTemplateVersions",
        LaunchTemplateId=template_id,
        Versions=["$Default"],
    )
    data = (versions[0].get("LaunchTemplateData") or {}) if versions else {}
    interfaces = [
        {
            "device_index": ni.get("DeviceIndex"),
            "associate_public_ip_address": ni.get("AssociatePublicIpAddress"),
            "security_group_ids": list(ni.get("Groups") or []),
            "subnet_id": ni.get("SubnetId"),
        }
        for ni in data.get("NetworkInterfaces") or []
    ]
    groups = sorted(
        {*(data.get("SecurityGroupIds") or []), *(g for ni in interfaces for g in ni["security_group_ids"])}
    )
    profile = data.get("IamInstanceProfile") or {}
    config: dict[str, Any] = {
        "launch_template_id": template_id,
        "launch_template_name": template.get("LaunchTemplateName"),
        "default_version_number": template.get("DefaultVersionNumber"),
        "latest_version_number": template.get("LatestVersionNumber"),
        "image_id": data.get("ImageId"),
        "instance_type": data.get("InstanceType"),
        "metadata_options": _metadata_options(data.get("MetadataOptions")) if versions else None,
        "network_interfaces": interfaces if versions else None,
        "security_group_ids": groups,
        "iam_instance_profile": profile.get("Arn") or profile.get("Name"),
        "block_devices": _block_devices(data.get("BlockDeviceMappings")) if versions else None,
        "user_data_present": bool(data.get("UserData")) if versions else None,
        "created_time": iso(template.get("CreateTime")),
    }
    relations = [Rel("uses_security_group", ec2_arn(ctx, "security-group", g)) for g in groups]
    if data.get("ImageId"):
        relations.append(Rel("launched_from", ec2_arn(ctx, "image", data["ImageId"])))
    tags = tags_dict(template.get("Tags"))
    return ResourceRecord(
        native_id=ec2_arn(ctx, "launch-template", template_id),
        name=template.get("LaunchTemplateName") or name_from_tags(tags, template_id),
        config=details.finish(config),
        tags=tags,
        relations=relations,
    )


# --- launch configurations ------------------------------------------------------------------------


@collector("aws", "autoscaling.launch_configuration", service="autoscaling", regional=True)
def launch_configurations(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("autoscaling", "describe_launch_configurations"):
        for lc in page.get("LaunchConfigurations") or []:
            yield _launch_configuration_record(ctx, lc)


def _launch_configuration_record(ctx: CollectContext, lc: dict) -> ResourceRecord:
    groups = list(lc.get("SecurityGroups") or [])
    config: dict[str, Any] = {
        "launch_configuration_name": lc.get("LaunchConfigurationName"),
        "image_id": lc.get("ImageId"),
        "instance_type": lc.get("InstanceType"),
        "metadata_options": _metadata_options(lc.get("MetadataOptions")),
        # null: not set, the subnet's "auto-assign public IPv4" decides.
        "associate_public_ip_address": lc.get("AssociatePublicIpAddress"),
        "security_group_ids": groups,
        "iam_instance_profile": lc.get("IamInstanceProfile"),
        "block_devices": _block_devices(lc.get("BlockDeviceMappings")),
        "user_data_present": bool(lc.get("UserData")),
        "created_time": iso(lc.get("CreatedTime")),
    }
    relations = [Rel("uses_security_group", ec2_arn(ctx, "security-group", g)) for g in groups if g.startswith("sg-")]
    if lc.get("ImageId"):
        relations.append(Rel("launched_from", ec2_arn(ctx, "image", lc["ImageId"])))
    return ResourceRecord(
        native_id=lc["LaunchConfigurationARN"],
        name=lc.get("LaunchConfigurationName") or lc["LaunchConfigurationARN"],
        config=config,
        relations=relations,
    )


# --- Auto Scaling groups --------------------------------------------------------------------------


@collector(
    "aws", "autoscaling.group", service="autoscaling", regional=True, volatile=("instance_count", "instance_types")
)
def groups(ctx: CollectContext) -> Iterator[ResourceRecord]:
    configurations: dict[str, str] | None = None  # launch configuration name → ARN, read when needed
    for page in ctx.paginate("autoscaling", "describe_auto_scaling_groups"):
        for group in page.get("AutoScalingGroups") or []:
            if group.get("LaunchConfigurationName") and configurations is None:
                configurations = _launch_configuration_arns(ctx)
            yield _group_record(ctx, group, configurations or {})


def _launch_configuration_arns(ctx: CollectContext) -> dict[str, str]:
    listed = Details(ctx).items(
        "launch_configurations", "autoscaling", "describe_launch_configurations", "LaunchConfigurations"
    )
    return {lc["LaunchConfigurationName"]: lc["LaunchConfigurationARN"] for lc in listed or []}


def _template_spec(spec: dict | None) -> dict[str, Any] | None:
    if not spec:
        return None
    return {"id": spec.get("LaunchTemplateId"), "name": spec.get("LaunchTemplateName"), "version": spec.get("Version")}


def _group_record(ctx: CollectContext, group: dict, configurations: dict[str, str]) -> ResourceRecord:
    mixed = group.get("MixedInstancesPolicy") or {}
    mixed_template = (mixed.get("LaunchTemplate") or {}).get("LaunchTemplateSpecification")
    overrides = (mixed.get("LaunchTemplate") or {}).get("Overrides") or []
    subnets = [s.strip() for s in (group.get("VPCZoneIdentifier") or "").split(",") if s.strip()]
    instances = group.get("Instances") or []
    config: dict[str, Any] = {
        "group_name": group.get("AutoScalingGroupName"),
        "min_size": group.get("MinSize"),
        "max_size": group.get("MaxSize"),
        "desired_capacity": group.get("DesiredCapacity"),
        "launch_template": _template_spec(group.get("LaunchTemplate") or mixed_template),
        "launch_configuration_name": group.get("LaunchConfigurationName"),
        "mixed_instances_policy": bool(mixed),
        "override_instance_types": sorted({o["InstanceType"] for o in overrides if o.get("InstanceType")}),
        "availability_zones": sorted(group.get("AvailabilityZones") or []),
        "subnet_ids": subnets,
        "health_check_type": group.get("HealthCheckType"),  # EC2 | ELB (| VPC_LATTICE | EBS)
        "health_check_grace_period": group.get("HealthCheckGracePeriod"),
        "target_group_arns": list(group.get("TargetGroupARNs") or []),
        "load_balancer_names": list(group.get("LoadBalancerNames") or []),
        "instance_count": len(instances),
        "instance_types": sorted({i["InstanceType"] for i in instances if i.get("InstanceType")}),
        "capacity_rebalance": bool(group.get("CapacityRebalance", False)),
        "suspended_processes": sorted(p["ProcessName"] for p in group.get("SuspendedProcesses") or []),
        "status": group.get("Status"),
        "created_time": iso(group.get("CreatedTime")),
    }
    relations = [Rel("in_subnet", ec2_arn(ctx, "subnet", s)) for s in subnets]
    relations += [Rel("attached_to", tg) for tg in config["target_group_arns"]]
    template = config["launch_template"]
    if template and template["id"]:
        relations.append(Rel("launched_from", ec2_arn(ctx, "launch-template", template["id"])))
    if configurations.get(group.get("LaunchConfigurationName") or ""):
        relations.append(Rel("launched_from", configurations[group["LaunchConfigurationName"]]))
    return ResourceRecord(
        native_id=group["AutoScalingGroupARN"],
        name=group.get("AutoScalingGroupName") or group["AutoScalingGroupARN"],
        config=config,
        tags=tags_dict(group.get("Tags")),
        relations=relations,
    )
