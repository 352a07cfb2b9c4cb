"""ElastiCache cache clusters (Memcached, and the nodes of Redis OSS / Valkey replication groups) and
replication groups. Tags come from ListTagsForResource, one call per resource."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from inventory.collectors.aws._util import Details, arn, ec2_arn, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector


def replication_group_arn(ctx: CollectContext, group_id: str) -> str:
    return arn("elasticache", ctx.region, ctx.account_id, f"replicationgroup:{group_id}")


def _tags(details: Details, resource_arn: str) -> dict[str, str]:
    answer = details.get("tags", "elasticache", "list_tags_for_resource", ResourceName=resource_arn)
    return tags_dict((answer or {}).get("TagList"))


@collector("aws", "elasticache.cluster", service="elasticache", regional=True)
def cache_clusters(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("elasticache", "describe_cache_clusters", ShowCacheNodeInfo=False):
        yield from fan_out(ctx, partial(_cluster_record, ctx), page.get("CacheClusters") or [])


def _cluster_record(ctx: CollectContext, cluster: dict) -> ResourceRecord:
    cluster_id = cluster["CacheClusterId"]
    cluster_arn = cluster.get("ARN") or arn("elasticache", ctx.region, ctx.account_id, f"cluster:{cluster_id}")
    details = Details(ctx)
    tags = _tags(details, cluster_arn)
    groups = [g["SecurityGroupId"] for g in cluster.get("SecurityGroups") or [] if g.get("SecurityGroupId")]
    group_id = cluster.get("ReplicationGroupId")
    config: dict[str, Any] = {
        "cluster_id": cluster_id,
        "engine": cluster.get("Engine"),  # memcached | redis | valkey
        "engine_version": cluster.get("EngineVersion"),
        "cache_node_type": cluster.get("CacheNodeType"),
        "num_cache_nodes": cluster.get("NumCacheNodes"),
        "status": cluster.get("CacheClusterStatus"),
        "replication_group_id": group_id,
        "cache_subnet_group_name": cluster.get("CacheSubnetGroupName"),
        "security_group_ids": groups,
        "at_rest_encryption_enabled": bool(cluster.get("AtRestEncryptionEnabled", False)),
        "transit_encryption_enabled": bool(cluster.get("TransitEncryptionEnabled", False)),
        "auth_token_enabled": bool(cluster.get("AuthTokenEnabled", False)),
        "auto_minor_version_upgrade": bool(cluster.get("AutoMinorVersionUpgrade", False)),
        "snapshot_retention_limit": cluster.get("SnapshotRetentionLimit"),
        "preferred_availability_zone": cluster.get("PreferredAvailabilityZone"),
        "create_time": iso(cluster.get("CacheClusterCreateTime")),
    }
    relations = [Rel("uses_security_group", ec2_arn(ctx, "security-group", g)) for g in groups]
    if group_id:
        relations.append(Rel("member_of", replication_group_arn(ctx, group_id)))
    return ResourceRecord(
        native_id=cluster_arn, name=cluster_id, config=details.finish(config), tags=tags, relations=relations
    )


@collector("aws", "elasticache.replication_group", service="elasticache", regional=True)
def replication_groups(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("elasticache", "describe_replication_groups"):
        yield from fan_out(ctx, partial(_group_record, ctx), page.get("ReplicationGroups") or [])


def _group_record(ctx: CollectContext, group: dict) -> ResourceRecord:
    group_id = group["ReplicationGroupId"]
    group_arn = group.get("ARN") or replication_group_arn(ctx, group_id)
    details = Details(ctx)
    tags = _tags(details, group_arn)
    kms_key = group.get("KmsKeyId")
    config: dict[str, Any] = {
        "replication_group_id": group_id,
        "description": group.get("Description"),
        "engine": group.get("Engine") or "redis",
        "status": group.get("Status"),
        "cache_node_type": group.get("CacheNodeType"),
        "cluster_enabled": bool(group.get("ClusterEnabled", False)),
        "member_clusters": list(group.get("MemberClusters") or []),
        "automatic_failover": group.get("AutomaticFailover"),  # enabled | disabled | enabling | disabling
        "multi_az": group.get("MultiAZ"),  # enabled | disabled
        "at_rest_encryption_enabled": bool(group.get("AtRestEncryptionEnabled", False)),
        "transit_encryption_enabled": bool(group.get("TransitEncryptionEnabled", False)),
        "auth_token_enabled": bool(group.get("AuthTokenEnabled", False)),
        "user_group_ids": list(group.get("UserGroupIds") or []),
        "kms_key_id": kms_key,
        "snapshot_retention_limit": group.get("SnapshotRetentionLimit"),
        "auto_minor_version_upgrade": group.get("AutoMinorVersionUpgrade"),
        "create_time": iso(group.get("ReplicationGroupCreateTime")),
    }
    relations = [Rel("encrypted_with", kms_key)] if (kms_key or "").startswith("arn:") else []
    return ResourceRecord(
        native_id=group_arn, name=group_id, config=details.finish(config), tags=tags, relations=relations
    )
