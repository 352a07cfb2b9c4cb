"""EFS file systems (encryption, backup policy, lifecycle, the file system policy summarized, mount
targets) and access points. The stored size is refreshed by EFS continuously: stored, never a change."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._policy import summarize_resource_policy
from inventory.collectors.aws._util import Details, arn, ec2_arn, error_code, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

GONE = ("FileSystemNotFound",)
NO_POLICY = ("PolicyNotFound",)


def file_system_arn(ctx: CollectContext, file_system_id: str) -> str:
    return arn("elasticfilesystem", ctx.region, ctx.account_id, f"file-system/{file_system_id}")


@collector("aws", "efs.file_system", service="elasticfilesystem", regional=True, volatile=("size_bytes",))
def file_systems(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("efs", "describe_file_systems"):
        for record in fan_out(ctx, partial(_file_system_record, ctx), page.get("FileSystems") or []):
            if record is not None:
                yield record


def _file_system_record(ctx: CollectContext, fs: dict) -> ResourceRecord | None:
    try:
        return _read_file_system(ctx, fs)
    except ClientError as error:
        if error_code(error) in GONE:
            return None  # deleted after the listing
        raise


def _mount_targets(details: Details, fs_id: str) -> list[dict[str, Any]] | None:
    listed = details.items("mount_targets", "efs", "describe_mount_targets", "MountTargets", FileSystemId=fs_id)
    if listed is None:
        return None
    targets = []
    for target in listed:
        groups = details.get(
            "mount_targets",
            "efs",
            "describe_mount_target_security_groups",
            MountTargetId=target["MountTargetId"],
        )
        targets.append(
            {
                "mount_target_id": target.get("MountTargetId"),
                "subnet_id": target.get("SubnetId"),
                "availability_zone": target.get("AvailabilityZoneName"),
                "ip_address": target.get("IpAddress"),
                "security_group_ids": None if groups is None else list(groups.get("SecurityGroups") or []),
            }
        )
    return targets


def _read_file_system(ctx: CollectContext, fs: dict) -> ResourceRecord:
    fs_id = fs["FileSystemId"]
    details = Details(ctx, gone=GONE)
    targets = _mount_targets(details, fs_id)
    backup = details.get("backup_policy", "efs", "describe_backup_policy", missing=NO_POLICY, FileSystemId=fs_id)
    policy = details.get("policy", "efs", "describe_file_system_policy", missing=NO_POLICY, FileSystemId=fs_id)
    answer = details.get("lifecycle_policies", "efs", "describe_lifecycle_configuration", FileSystemId=fs_id)
    lifecycle = None if answer is None else answer.get("LifecyclePolicies") or []
    size = fs.get("SizeInBytes") or {}
    config: dict[str, Any] = {
        "file_system_id": fs_id,
        "life_cycle_state": fs.get("LifeCycleState"),
        "encrypted": bool(fs.get("Encrypted", False)),
        "kms_key_id": fs.get("KmsKeyId"),
        "performance_mode": fs.get("PerformanceMode"),
        "throughput_mode": fs.get("ThroughputMode"),
        "provisioned_throughput_mibps": fs.get("ProvisionedThroughputInMibps"),
        "availability_zone_name": fs.get("AvailabilityZoneName"),  # One Zone file systems only
        "size_bytes": size.get("Value"),
        "size_bytes_standard": size.get("ValueInStandard"),
        "size_bytes_ia": size.get("ValueInIA"),
        "number_of_mount_targets": fs.get("NumberOfMountTargets"),
        "mount_targets": targets,
        "backup_policy_enabled": None
        if backup is None
        else (backup.get("BackupPolicy") or {}).get("Status") == "ENABLED",
        "policy": None if policy is None else summarize_resource_policy(policy.get("Policy"), ctx.account_id),
        "lifecycle_policies": (
            None
            if lifecycle is None
            else sorted(f"{k}:{v}" for entry in lifecycle for k, v in entry.items() if isinstance(v, str))
        ),
        "creation_time": iso(fs.get("CreationTime")),
    }
    relations = []
    for target in targets or []:
        if target["subnet_id"]:
            relations.append(Rel("in_subnet", ec2_arn(ctx, "subnet", target["subnet_id"])))
        for group in target["security_group_ids"] or []:
            relations.append(Rel("uses_security_group", ec2_arn(ctx, "security-group", group)))
    if (fs.get("KmsKeyId") or "").startswith("arn:"):
        relations.append(Rel("encrypted_with", fs["KmsKeyId"]))
    return ResourceRecord(
        native_id=fs.get("FileSystemArn") or file_system_arn(ctx, fs_id),
        name=fs.get("Name") or fs_id,
        config=details.finish(config),
        tags=tags_dict(fs.get("Tags")),
        relations=list(dict.fromkeys(relations)),
    )


@collector("aws", "efs.access_point", service="elasticfilesystem", regional=True)
def access_points(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("efs", "describe_access_points"):
        for point in page.get("AccessPoints") or []:
            yield _access_point_record(ctx, point)


def _access_point_record(ctx: CollectContext, point: dict) -> ResourceRecord:
    posix = point.get("PosixUser")
    root = point.get("RootDirectory") or {}
    config: dict[str, Any] = {
        "access_point_id": point.get("AccessPointId"),
        "file_system_id": point.get("FileSystemId"),
        "life_cycle_state": point.get("LifeCycleState"),
        "root_directory_path": root.get("Path") or "/",
        "posix_user": {"uid": posix.get("Uid"), "gid": posix.get("Gid")} if posix else None,
    }
    relations = [Rel("member_of", file_system_arn(ctx, point["FileSystemId"]))] if point.get("FileSystemId") else []
    return ResourceRecord(
        native_id=point["AccessPointArn"],
        name=point.get("Name") or point.get("AccessPointId") or point["AccessPointArn"],
        config=config,
        tags=tags_dict(point.get("Tags")),
        relations=relations,
    )
