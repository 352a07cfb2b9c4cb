"""RDS instance and cluster collectors against moto; Stubber for DescribeDBInstances pages."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.aws import rds as rds_collectors
from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    REGION,
    collect,
    fail_operation,
    make_context,
    moto_account,
    rel_kinds,
    rels,
    stubbed,
)


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def databases(ctx):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"][
        "SubnetId"
    ]
    subnet_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="eu-west-1b")["Subnet"][
        "SubnetId"
    ]
    sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    key = boto3.client("kms", region_name=REGION).create_key(Description="db")["KeyMetadata"]["Arn"]
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_subnet_group(
        DBSubnetGroupName="db-subnets", DBSubnetGroupDescription="db", SubnetIds=[subnet_a, subnet_b]
    )
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-password-1",
        StorageEncrypted=True,
        KmsKeyId=key,
        VpcSecurityGroupIds=[sg],
        DBSubnetGroupName="db-subnets",
        PubliclyAccessible=True,
        BackupRetentionPeriod=7,
        MultiAZ=True,
        DeletionProtection=True,
        EnableIAMDatabaseAuthentication=True,
        AutoMinorVersionUpgrade=False,
        Tags=[{"Key": "env", "Value": "prod"}],
    )
    rds.create_db_cluster(
        DBClusterIdentifier="reports",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-password-1",
        StorageEncrypted=True,
        KmsKeyId=key,
        VpcSecurityGroupIds=[sg],
        DBSubnetGroupName="db-subnets",
        BackupRetentionPeriod=14,
        DeletionProtection=True,
        Tags=[{"Key": "team", "Value": "bi"}],
    )
    rds.create_db_instance(
        DBInstanceIdentifier="reports-1",
        DBClusterIdentifier="reports",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r5.large",
    )
    return {"vpc": vpc, "subnets": {subnet_a, subnet_b}, "sg": sg, "key": key}


def ec2_arn(kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:{kind}/{resource_id}"


def test_registered_as_regional_rds_collectors():
    assert get_collector("aws.rds.db_instance").func is rds_collectors.db_instances
    assert get_collector("aws.rds.db_cluster").func is rds_collectors.db_clusters
    assert all(
        get_collector(t).regional and get_collector(t).service == "rds"
        for t in ("aws.rds.db_instance", "aws.rds.db_cluster")
    )


def test_db_instance(ctx, databases):
    records = {r.name: r for r in collect(ctx, "aws.rds.db_instance")}
    assert set(records) == {"orders", "reports-1"}
    db = records["orders"]
    assert db.native_id == f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:orders"
    config = db.config
    json.dumps(config)
    assert config["engine"] == "postgres" and config["engine_version"]
    assert config["instance_class"] == "db.t3.micro"
    assert config["storage_encrypted"] is True and config["kms_key_id"] == databases["key"]
    assert config["publicly_accessible"] is True
    assert config["backup_retention_period"] == 7
    assert config["multi_az"] is True
    assert config["deletion_protection"] is True
    assert config["auto_minor_version_upgrade"] is False
    assert config["iam_database_authentication_enabled"] is True
    assert config["endpoint"]["address"].startswith("orders.") and config["endpoint"]["port"] == 5432
    assert config["vpc_security_group_ids"] == [databases["sg"]]
    assert config["db_subnet_group"]["name"] == "db-subnets"
    assert config["db_subnet_group"]["vpc_id"] == databases["vpc"]
    assert set(config["db_subnet_group"]["subnet_ids"]) == databases["subnets"]
    assert config["status"] == "available"
    assert config["create_time"].endswith("+00:00")
    assert config["cluster_identifier"] is None
    assert "not-a-real-password-1" not in json.dumps(config)
    assert db.tags == {"env": "prod"}
    assert rels(db, "uses_security_group") == {ec2_arn("security-group", databases["sg"])}
    assert rels(db, "in_subnet") == {ec2_arn("subnet", s) for s in databases["subnets"]}
    assert rels(db, "encrypted_with") == {databases["key"]}
    assert "member_of" not in rel_kinds(db)


def test_cluster_membership(ctx, databases):
    member = {r.name: r for r in collect(ctx, "aws.rds.db_instance")}["reports-1"]
    cluster_arn = f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:cluster:reports"
    assert member.config["cluster_identifier"] == "reports"
    assert rels(member, "member_of") == {cluster_arn}


def test_db_cluster(ctx, databases):
    (cluster,) = collect(ctx, "aws.rds.db_cluster")
    assert cluster.native_id == f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:cluster:reports"
    config = cluster.config
    json.dumps(config)
    assert config["engine"] == "aurora-postgresql"
    assert config["storage_encrypted"] is True and config["kms_key_id"] == databases["key"]
    assert config["backup_retention_period"] == 14
    assert config["deletion_protection"] is True
    assert config["publicly_accessible"] is False
    assert config["members"] == [{"instance_identifier": "reports-1", "is_writer": True}]
    assert config["db_subnet_group"] == {"name": "db-subnets"}
    assert config["endpoint"]["address"].startswith("reports.cluster-")
    assert cluster.tags == {"team": "bi"}
    assert rels(cluster, "uses_security_group") == {ec2_arn("security-group", databases["sg"])}
    assert rels(cluster, "encrypted_with") == {databases["key"]}


def test_access_denied_raises_unchanged(ctx, databases):
    fail_operation(ctx, "rds", "DescribeDBInstances", code="AccessDenied")
    with pytest.raises(ClientError) as caught:
        collect(ctx, "aws.rds.db_instance")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def test_pages_of_instances(ctx):
    def instance(name: str) -> dict:
        return {
            "DBInstanceIdentifier": name,
            "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:{name}",
            "Engine": "mysql",
            "DBInstanceClass": "db.t3.micro",
        }

    with stubbed(ctx, "rds") as stubber:
        stubber.add_response(
            "describe_db_instances", {"DBInstances": [instance("a"), instance("b")], "Marker": "m1"}, {}
        )
        stubber.add_response(
            "describe_db_instances", {"DBInstances": [instance("c")], "Marker": "m2"}, {"Marker": "m1"}
        )
        stubber.add_response("describe_db_instances", {"DBInstances": [instance("d")]}, {"Marker": "m2"})
        records = collect(ctx, "aws.rds.db_instance")
    assert [r.name for r in records] == ["a", "b", "c", "d"]
    assert records[0].config["storage_encrypted"] is False and records[0].relations == []
