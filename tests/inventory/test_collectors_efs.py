"""EFS file system and access point collectors against moto."""

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
def file_systems(ctx):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="nfs", Description="nfs", VpcId=vpc)["GroupId"]
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    efs = boto3.client("efs", region_name=REGION)
    shared = efs.create_file_system(
        CreationToken="shared", Encrypted=True, KmsKeyId=key, Backup=True, Tags=[{"Key": "Name", "Value": "shared"}]
    )["FileSystemId"]
    efs.create_mount_target(FileSystemId=shared, SubnetId=subnet, SecurityGroups=[sg])
    scratch = efs.create_file_system(CreationToken="scratch", Tags=[{"Key": "Name", "Value": "scratch"}])[
        "FileSystemId"
    ]
    app = efs.create_access_point(
        FileSystemId=shared,
        PosixUser={"Uid": 1000, "Gid": 1000},
        RootDirectory={"Path": "/app"},
        Tags=[{"Key": "Name", "Value": "app"}],
    )["AccessPointArn"]
    wide = efs.create_access_point(FileSystemId=shared, Tags=[{"Key": "Name", "Value": "wide"}])["AccessPointArn"]
    return {"shared": shared, "scratch": scratch, "subnet": subnet, "sg": sg, "key": key, "app": app, "wide": wide}


def test_registered_as_regional_efs_collectors():
    assert get_collector("aws.efs.file_system").service == "elasticfilesystem"
    assert get_collector("aws.efs.file_system").volatile == ("size_bytes",)
    assert get_collector("aws.efs.access_point").regional


def test_file_systems(ctx, file_systems):
    records = {r.name: r for r in collect(ctx, "aws.efs.file_system")}
    shared, scratch = records["shared"], records["scratch"]
    assert shared.native_id == f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT_ID}:file-system/{file_systems['shared']}"
    config = shared.config
    assert config["encrypted"] is True and config["kms_key_id"] == file_systems["key"]
    assert config["backup_policy_enabled"] is True and config["number_of_mount_targets"] == 1
    [target] = config["mount_targets"]
    assert target["subnet_id"] == file_systems["subnet"] and target["security_group_ids"] == [file_systems["sg"]]
    assert config["policy"]["present"] is False and config["unreadable"] == []
    assert rels(shared, "in_subnet") == {f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:subnet/{file_systems['subnet']}"}
    assert rels(shared, "uses_security_group") == {
        f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/{file_systems['sg']}"
    }
    assert rels(shared, "encrypted_with") == {file_systems["key"]}
    assert scratch.config["encrypted"] is False and scratch.config["backup_policy_enabled"] is False
    collected = {"aws.efs.file_system": [shared, scratch]}
    assert judge("aws-efs-not-encrypted", collected) == {scratch.native_id}
    assert judge("aws-efs-no-backup", collected) == {scratch.native_id}
    assert judge("aws-efs-no-mount-targets", collected) == {scratch.native_id}
    assert judge("aws-efs-tls-not-required", collected) == {shared.native_id, scratch.native_id}


def test_denied_backup_policy_is_unknown(ctx, file_systems):
    fail_operation(ctx, "efs", "DescribeBackupPolicy", code="AccessDeniedException")
    records = collect(ctx, "aws.efs.file_system")
    assert all(
        r.config["backup_policy_enabled"] is None and r.config["unreadable"] == ["backup_policy"] for r in records
    )
    assert judge("aws-efs-no-backup", {"aws.efs.file_system": records}) == set()


def test_access_points(ctx, file_systems):
    records = {r.name: r for r in collect(ctx, "aws.efs.access_point")}
    app, wide = records["app"], records["wide"]
    assert app.native_id == file_systems["app"]
    assert app.config["root_directory_path"] == "/app" and app.config["posix_user"] == {"uid": 1000, "gid": 1000}
    assert wide.config["root_directory_path"] == "/" and wide.config["posix_user"] is None
    fs_arn = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT_ID}:file-system/{file_systems['shared']}"
    assert rels(app, "member_of") == {fs_arn}
    collected = {"aws.efs.access_point": [app, wide]}
    assert judge("aws-efs-access-point-root-directory", collected) == {wide.native_id}
    assert judge("aws-efs-access-point-no-user-identity", collected) == {wide.native_id}


def test_denied_listing_raises_for_the_engine(ctx, file_systems):
    fail_operation(ctx, "efs", "DescribeFileSystems", code="AccessDeniedException")
    with pytest.raises(ClientError):
        collect(ctx, "aws.efs.file_system")
