"""EKS cluster and node group collectors against moto. Version support comes from EKS's own calendar
(DescribeClusterVersions, which moto lacks: answered here the way EKS does)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.awsrequest import AWSResponse
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
def clusters(ctx):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    eks = boto3.client("eks", region_name=REGION)
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/eks-cluster"
    eks.create_cluster(
        name="prod",
        version="1.29",
        roleArn=role,
        resourcesVpcConfig={"subnetIds": [subnet], "endpointPublicAccess": True, "endpointPrivateAccess": True},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}],
        logging={"clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": True}]},
        tags={"team": "platform"},
    )
    eks.create_cluster(
        name="lab",
        version="1.23",
        roleArn=role,
        resourcesVpcConfig={"subnetIds": [subnet], "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
    )
    node_role = f"arn:aws:iam::{ACCOUNT_ID}:role/eks-nodes"
    eks.create_nodegroup(
        clusterName="prod",
        nodegroupName="workers",
        subnets=[subnet],
        nodeRole=node_role,
        remoteAccess={"ec2SshKey": "ops"},
        scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 2},
    )
    return {"subnet": subnet, "key": key, "role": role, "node_role": node_role}


def answer_cluster_versions(ctx, versions: dict[str, str]) -> None:
    """Make DescribeClusterVersions answer like EKS: {version: STANDARD_SUPPORT | EXTENDED_SUPPORT | …}."""

    def answer(**_kwargs):
        parsed = {
            "clusterVersions": [
                {
                    "clusterVersion": version,
                    "versionStatus": status,
                    "endOfStandardSupportDate": datetime(2025, 3, 23, tzinfo=UTC),
                    "endOfExtendedSupportDate": datetime(2026, 3, 23, tzinfo=UTC),
                }
                for version, status in versions.items()
            ],
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
        return AWSResponse("https://example.invalid", 200, {}, None), parsed

    ctx.client("eks").meta.events.register("before-call.*.DescribeClusterVersions", answer)


def test_registered_as_regional_eks_collectors():
    for full_type in ("aws.eks.cluster", "aws.eks.nodegroup"):
        entry = get_collector(full_type)
        assert entry.service == "eks" and entry.regional


def test_clusters(ctx, clusters):
    answer_cluster_versions(ctx, {"1.29": "EXTENDED_SUPPORT", "1.23": "UNSUPPORTED"})
    records = {r.name: r for r in collect(ctx, "aws.eks.cluster")}
    prod, lab = records["prod"], records["lab"]
    assert prod.native_id == f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:cluster/prod"
    config = prod.config
    assert config["version"] == "1.29" and config["version_support"]["status"] == "EXTENDED_SUPPORT"
    assert config["version_support"]["end_of_standard_support"].startswith("2025-03-23")
    assert config["endpoint_public_access"] is True and config["public_access_cidrs"] == ["0.0.0.0/0"]
    assert config["logging_enabled_types"] == ["api", "audit", "authenticator"]
    assert config["secrets_encryption_key_arn"] == clusters["key"]
    assert config["unreadable"] == []
    assert prod.tags == {"team": "platform"}
    assert rels(prod, "uses_role") == {clusters["role"]}
    assert rels(prod, "encrypted_with") == {clusters["key"]}
    assert rels(prod, "in_subnet") == {f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:subnet/{clusters['subnet']}"}

    collected = {"aws.eks.cluster": [prod, lab]}
    assert judge("aws-eks-cluster-extended-support", collected) == {prod.native_id}
    assert judge("aws-eks-cluster-version-unsupported", collected) == {lab.native_id}
    assert judge("aws-eks-cluster-secrets-not-encrypted", collected) == {lab.native_id}
    assert judge("aws-eks-cluster-audit-logging-off", collected) == {lab.native_id}
    assert judge("aws-eks-cluster-endpoint-public", collected) == {prod.native_id, lab.native_id}


def test_unreadable_version_calendar_is_unknown_not_unsupported(ctx, clusters):
    fail_operation(ctx, "eks", "DescribeClusterVersions", code="AccessDeniedException")
    records = collect(ctx, "aws.eks.cluster")
    assert all(r.config["version_support"] is None for r in records)
    assert all(r.config["unreadable"] == ["version_support"] for r in records)
    assert judge("aws-eks-cluster-version-unsupported", {"aws.eks.cluster": records}) == set()


def test_nodegroups(ctx, clusters):
    [group] = collect(ctx, "aws.eks.nodegroup")
    assert group.name == "workers" and group.native_id.startswith(f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:nodegroup/prod/")
    config = group.config
    assert config["cluster_name"] == "prod"
    assert (config["min_size"], config["desired_size"], config["max_size"]) == (1, 2, 4)
    assert config["remote_access"] == {"ec2_ssh_key": "ops", "source_security_group_ids": []}
    assert rels(group, "member_of") == {f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:cluster/prod"}
    assert rels(group, "uses_role") == {clusters["node_role"]}
    assert judge("aws-eks-nodegroup-ssh-open-world", {"aws.eks.nodegroup": [group]}) == {group.native_id}


def test_denied_listing_raises_for_the_engine(ctx, clusters):
    fail_operation(ctx, "eks", "ListClusters", code="AccessDeniedException")
    with pytest.raises(ClientError):
        collect(ctx, "aws.eks.cluster")
