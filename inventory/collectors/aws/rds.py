"""RDS DB instances and clusters (Aurora, and the Neptune/DocumentDB clusters the same API lists). The
describe calls carry everything, tags included: no per-resource calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory.collectors.aws._util import arn, ec2_arn, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector


def _unique(relations: list[Rel]) -> list[Rel]:
    return list(dict.fromkeys(rel for rel in relations if rel.target_native_id))


def _security_groups(item: dict) -> list[str]:
    return [g["VpcSecurityGroupId"] for g in item.get("VpcSecurityGroups") or [] if g.get("VpcSecurityGroupId")]


def _kms_rel(key_id: str | None) -> list[Rel]:
    return [Rel("encrypted_with", key_id)] if key_id and key_id.startswith("arn:") else []


def cluster_arn(ctx: CollectContext, identifier: str) -> str:
    return arn("rds", ctx.region, ctx.account_id, f"cluster:{identifier}")


@collector("aws", "rds.db_instance", service="rds", regional=True)
def db_instances(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("rds", "describe_db_instances"):
        for db in page.get("DBInstances") or []:
            yield _instance_record(ctx, db)


def _instance_record(ctx: CollectContext, db: dict) -> ResourceRecord:
    identifier = db["DBInstanceIdentifier"]
    endpoint = db.get("Endpoint") or {}
    subnet_group = db.get("DBSubnetGroup") or {}
    subnet_ids = [s["SubnetIdentifier"] for s in subnet_group.get("Subnets") or [] if s.get("SubnetIdentifier")]
    security_groups = _security_groups(db)
    cluster_id = db.get("DBClusterIdentifier")
    config: dict[str, Any] = {
        "identifier": identifier,
        "resource_id": db.get("DbiResourceId"),
        "engine": db.get("Engine"),
        "engine_version": db.get("EngineVersion"),
        "instance_class": db.get("DBInstanceClass"),
        "status": db.get("DBInstanceStatus"),
        "storage_type": db.get("StorageType"),
        "allocated_storage_gb": db.get("AllocatedStorage"),
        "storage_encrypted": bool(db.get("StorageEncrypted", False)),
        "kms_key_id": db.get("KmsKeyId"),
        "publicly_accessible": bool(db.get("PubliclyAccessible", False)),
        "backup_retention_period": db.get("BackupRetentionPeriod"),
        "multi_az": bool(db.get("MultiAZ", False)),
        "availability_zone": db.get("AvailabilityZone"),
        "deletion_protection": bool(db.get("DeletionProtection", False)),
        "auto_minor_version_upgrade": bool(db.get("AutoMinorVersionUpgrade", False)),
        "iam_database_authentication_enabled": bool(db.get("IAMDatabaseAuthenticationEnabled", False)),
        "copy_tags_to_snapshot": bool(db.get("CopyTagsToSnapshot", False)),
        "performance_insights_enabled": bool(db.get("PerformanceInsightsEnabled", False)),
        "monitoring_interval": db.get("MonitoringInterval"),
        "enabled_cloudwatch_logs_exports": list(db.get("EnabledCloudwatchLogsExports") or []),
        "ca_certificate_identifier": db.get("CACertificateIdentifier"),
        "endpoint": {"address": endpoint.get("Address"), "port": endpoint.get("Port")} if endpoint else None,
        "vpc_security_group_ids": security_groups,
        "db_subnet_group": (
            {
                "name": subnet_group.get("DBSubnetGroupName"),
                "vpc_id": subnet_group.get("VpcId"),
                "subnet_ids": subnet_ids,
            }
            if subnet_group
            else None
        ),
        "parameter_groups": [g.get("DBParameterGroupName") for g in db.get("DBParameterGroups") or []],
        "cluster_identifier": cluster_id,
        "read_replica_source": db.get("ReadReplicaSourceDBInstanceIdentifier"),
        "read_replicas": list(db.get("ReadReplicaDBInstanceIdentifiers") or []),
        "create_time": iso(db.get("InstanceCreateTime")),
    }
    relations = [Rel("uses_security_group", ec2_arn(ctx, "security-group", sg)) for sg in security_groups]
    relations += [Rel("in_subnet", ec2_arn(ctx, "subnet", subnet)) for subnet in subnet_ids]
    if cluster_id:
        relations.append(Rel("member_of", cluster_arn(ctx, cluster_id)))
    relations += _kms_rel(db.get("KmsKeyId"))
    return ResourceRecord(
        native_id=db.get("DBInstanceArn") or arn("rds", ctx.region, ctx.account_id, f"db:{identifier}"),
        name=identifier,
        config=config,
        tags=tags_dict(db.get("TagList")),
        relations=_unique(relations),
    )


@collector("aws", "rds.db_cluster", service="rds", regional=True)
def db_clusters(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("rds", "describe_db_clusters"):
        for cluster in page.get("DBClusters") or []:
            yield _cluster_record(ctx, cluster)


def _cluster_record(ctx: CollectContext, cluster: dict) -> ResourceRecord:
    identifier = cluster["DBClusterIdentifier"]
    security_groups = _security_groups(cluster)
    members = [
        {"instance_identifier": m.get("DBInstanceIdentifier"), "is_writer": bool(m.get("IsClusterWriter", False))}
        for m in cluster.get("DBClusterMembers") or []
    ]
    config: dict[str, Any] = {
        "identifier": identifier,
        "resource_id": cluster.get("DbClusterResourceId"),
        "engine": cluster.get("Engine"),
        "engine_version": cluster.get("EngineVersion"),
        "engine_mode": cluster.get("EngineMode"),
        "instance_class": cluster.get("DBClusterInstanceClass"),  # Multi-AZ DB clusters only
        "status": cluster.get("Status"),
        "storage_type": cluster.get("StorageType"),
        "storage_encrypted": bool(cluster.get("StorageEncrypted", False)),
        "kms_key_id": cluster.get("KmsKeyId"),
        "publicly_accessible": bool(cluster.get("PubliclyAccessible", False)),
        "backup_retention_period": cluster.get("BackupRetentionPeriod"),
        "multi_az": bool(cluster.get("MultiAZ", False)),
        "availability_zones": list(cluster.get("AvailabilityZones") or []),
        "deletion_protection": bool(cluster.get("DeletionProtection", False)),
        "auto_minor_version_upgrade": bool(cluster.get("AutoMinorVersionUpgrade", False)),
        "iam_database_authentication_enabled": bool(cluster.get("IAMDatabaseAuthenticationEnabled", False)),
        "copy_tags_to_snapshot": bool(cluster.get("CopyTagsToSnapshot", False)),
        "enabled_cloudwatch_logs_exports": list(cluster.get("EnabledCloudwatchLogsExports") or []),
        "endpoint": {
            "address": cluster.get("Endpoint"),
            "reader_address": cluster.get("ReaderEndpoint"),
            "port": cluster.get("Port"),
        },
        "vpc_security_group_ids": security_groups,
        "db_subnet_group": {"name": cluster.get("DBSubnetGroup")} if cluster.get("DBSubnetGroup") else None,
        "members": members,
        "create_time": iso(cluster.get("ClusterCreateTime")),
    }
    relations = [Rel("uses_security_group", ec2_arn(ctx, "security-group", sg)) for sg in security_groups]
    relations += _kms_rel(cluster.get("KmsKeyId"))
    return ResourceRecord(
        native_id=cluster.get("DBClusterArn") or cluster_arn(ctx, identifier),
        name=identifier,
        config=config,
        tags=tags_dict(cluster.get("TagList")),
        relations=_unique(relations),
    )
