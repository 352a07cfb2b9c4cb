"""The Lambda function collector against moto; Stubber for ListFunctions pages. Environment variable
values must never reach a record."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.aws import lambda_ as lambda_collectors
from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    REGION,
    collect,
    fail_operation,
    make_context,
    moto_account,
    no_detail_threads,
    rels,
    stubbed,
)

SECRET_VALUE = "s3cr3t-Value-never-stored"


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


@pytest.fixture
def function(ctx):
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="orders-fn", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    lam = boto3.client("lambda", region_name=REGION)
    layer = lam.publish_layer_version(LayerName="deps", Content={"ZipFile": _zip()})["LayerVersionArn"]
    created = lam.create_function(
        FunctionName="orders",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        MemorySize=256,
        Timeout=30,
        VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [sg]},
        Environment={"Variables": {"DB_PASSWORD": SECRET_VALUE, "API_URL": "https://internal.example"}},
        Layers=[layer],
        Architectures=["arm64"],
        Tags={"team": "core"},
    )
    lam.create_function_url_config(FunctionName="orders", AuthType="NONE")
    lam.create_function(
        FunctionName="plain",
        Runtime="nodejs20.x",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _zip()},
    )
    return {"arn": created["FunctionArn"], "role": role, "subnet": subnet, "sg": sg, "layer": layer}


def test_registered_as_a_regional_lambda_collector():
    entry = get_collector("aws.lambda.function")
    assert entry.service == "lambda" and entry.regional and entry.func is lambda_collectors.functions


def test_function_configuration_and_relations(ctx, function):
    records = {r.name: r for r in collect(ctx, "aws.lambda.function")}
    assert set(records) == {"orders", "plain"}
    fn = records["orders"]
    assert fn.native_id == function["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:orders"
    config = fn.config
    json.dumps(config)
    assert config["runtime"] == "python3.12"
    assert config["handler"] == "app.handler"
    assert config["role"] == function["role"]
    assert config["memory_size"] == 256 and config["timeout"] == 30
    assert config["last_modified"]
    assert config["vpc_config"]["subnet_ids"] == [function["subnet"]]
    assert config["vpc_config"]["security_group_ids"] == [function["sg"]]
    assert "vpc_id" in config["vpc_config"]
    assert config["environment_variable_names"] == ["API_URL", "DB_PASSWORD"]
    assert config["layers"] == [function["layer"]]
    assert config["architectures"] == ["arm64"]
    assert config["function_url"]["enabled"] is True and config["function_url"]["auth_type"] == "NONE"
    assert config["unreadable"] == []
    assert fn.tags == {"team": "core"}
    assert rels(fn, "uses_role") == {function["role"]}
    assert rels(fn, "in_subnet") == {f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:subnet/{function['subnet']}"}
    assert rels(fn, "uses_security_group") == {f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/{function['sg']}"}

    plain = records["plain"].config
    assert plain["vpc_config"] is None and plain["environment_variable_names"] == []
    assert plain["function_url"] == {"enabled": False, "auth_type": None, "url": None}
    assert plain["architectures"] == ["x86_64"]


def test_environment_values_never_reach_the_record(ctx, function):
    for record in collect(ctx, "aws.lambda.function"):
        dumped = json.dumps(asdict(record))
        assert SECRET_VALUE not in dumped
        assert "https://internal.example" not in dumped


def test_denied_function_url_read_is_unreadable(ctx, function):
    fail_operation(ctx, "lambda", "GetFunctionUrlConfig", code="AccessDeniedException")
    fn = {r.name: r for r in collect(ctx, "aws.lambda.function")}["orders"]
    assert fn.config["function_url"] is None and fn.config["unreadable"] == ["function_url"]
    assert fn.tags == {"team": "core"}


def test_access_denied_on_listing_raises_unchanged(ctx, function):
    fail_operation(ctx, "lambda", "ListFunctions", code="AccessDeniedException")
    with pytest.raises(ClientError) as caught:
        collect(ctx, "aws.lambda.function")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_pages_of_functions(ctx):
    no_detail_threads(ctx)

    def fn(name: str) -> dict:
        return {
            "FunctionName": name,
            "FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            "Runtime": "python3.13",
            "Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
            "Environment": {"Variables": {"TOKEN": SECRET_VALUE}},
        }

    def details(stubber, name: str) -> None:
        function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        stubber.add_client_error(
            "get_function_url_config",
            "ResourceNotFoundException",
            http_status_code=404,
            expected_params={"FunctionName": function_arn},
        )
        stubber.add_response("list_tags", {"Tags": {"fn": name}}, {"Resource": function_arn})

    with stubbed(ctx, "lambda") as stubber:
        stubber.add_response("list_functions", {"Functions": [fn("a"), fn("b")], "NextMarker": "m1"}, {})
        details(stubber, "a")
        details(stubber, "b")
        stubber.add_response("list_functions", {"Functions": [fn("c")], "NextMarker": "m2"}, {"Marker": "m1"})
        details(stubber, "c")
        stubber.add_response("list_functions", {"Functions": [fn("d")]}, {"Marker": "m2"})
        details(stubber, "d")
        records = collect(ctx, "aws.lambda.function")
    assert [r.name for r in records] == ["a", "b", "c", "d"]
    assert [r.tags for r in records] == [{"fn": n} for n in "abcd"]
    assert records[2].config["environment_variable_names"] == ["TOKEN"]
    assert all(SECRET_VALUE not in json.dumps(asdict(r)) for r in records)
    assert rels(records[3], "uses_role") == {f"arn:aws:iam::{ACCOUNT_ID}:role/d"}
