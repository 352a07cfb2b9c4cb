"""ElastiCache cache cluster and replication group collectors against moto."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    REGION,
    collect,
    fail_operation,
    judge,
    make_context,
    moto_account,
    rels,
)


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def caches(ctx):
    ec = boto3.client("elasticache", region_name=REGION)
    ec.create_cache_cluster(
        CacheClusterId="memo",
        Engine="memcached",
        CacheNodeType="cache.t3.micro",
        NumCacheNodes=1,
        Tags=[{"Key": "team", "Value": "web"}],
    )
    ec.create_replication_group(
        ReplicationGroupId="sessions",
        ReplicationGroupDescription="sessions",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=True,
        AutomaticFailoverEnabled=True,
        SnapshotRetentionLimit=7,
    )
    ec.create_replication_group(
        ReplicationGroupId="scratch",
        ReplicationGroupDescription="scratch",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=1,
    )


def test_registered_collectors():
    for kind in ("cluster", "replication_group"):
        entry = get_collector(f"aws.elasticache.{kind}")
        assert entry.service == "elasticache" and entry.regional


def test_cache_clusters(ctx, caches):
    [memo] = collect(ctx, "aws.elasticache.cluster")
    assert memo.native_id == f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:cluster:memo"
    assert memo.config["engine"] == "memcached" and memo.config["replication_group_id"] is None
    assert memo.config["unreadable"] == [] and memo.tags == {"team": "web"}
    assert memo.config["auto_minor_version_upgrade"] is False  # moto's default
    assert rels(memo, "member_of") == set()
    collected = {"aws.elasticache.cluster": [memo]}
    assert judge("aws-elasticache-auto-minor-upgrade-off", collected) == {memo.native_id}
    assert judge("aws-elasticache-backups-off", collected) == set()  # Memcached has no backups to judge


def test_replication_groups(ctx, caches):
    records = {r.name: r for r in collect(ctx, "aws.elasticache.replication_group")}
    sessions, scratch = records["sessions"], records["scratch"]
    assert sessions.native_id == f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:replicationgroup:sessions"
    config = sessions.config
    assert config["at_rest_encryption_enabled"] is True and config["transit_encryption_enabled"] is True
    assert config["automatic_failover"] == "enabled" and config["snapshot_retention_limit"] == 7
    assert scratch.config["at_rest_encryption_enabled"] is False and scratch.config["snapshot_retention_limit"] == 0
    collected = {"aws.elasticache.replication_group": [sessions, scratch]}
    for rule in (
        "aws-elasticache-not-encrypted-at-rest",
        "aws-elasticache-not-encrypted-in-transit",
        "aws-elasticache-no-automatic-failover",
        "aws-elasticache-backups-off",
    ):
        assert judge(rule, collected) == {scratch.native_id}, rule


def test_denied_tags_are_unreadable(ctx, caches):
    fail_operation(ctx, "elasticache", "ListTagsForResource", code="AccessDenied")
    records = collect(ctx, "aws.elasticache.replication_group")
    assert all(r.config["unreadable"] == ["tags"] and r.tags == {} for r in records)


def test_denied_listing_raises_for_the_engine(ctx, caches):
    fail_operation(ctx, "elasticache", "DescribeCacheClusters", code="AccessDenied")
    with pytest.raises(ClientError):
        collect(ctx, "aws.elasticache.cluster")
