"""ECS cluster, service and task definition collectors against moto. Environment variable values never
reach a record; a task definition is its family's latest ACTIVE revision."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.aws import ecs
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

SECRET_VALUE = "AKIA-never-stored-value"


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def estate(ctx):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="api", Description="api", VpcId=vpc)["GroupId"]
    client = boto3.client("ecs", region_name=REGION)
    cluster = client.create_cluster(
        clusterName="prod",
        settings=[{"name": "containerInsights", "value": "enabled"}],
        tags=[{"key": "team", "value": "core"}],
    )["cluster"]["clusterArn"]
    client.create_cluster(clusterName="sandbox")
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/api-task"
    client.register_task_definition(
        family="api",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        taskRoleArn=role,
        containerDefinitions=[
            {
                "name": "app",
                "image": "nginx:1",
                "privileged": True,
                "environment": [{"name": "AWS_SECRET_ACCESS_KEY", "value": SECRET_VALUE}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/api"}},
            }
        ],
        tags=[{"key": "team", "value": "core"}],
    )
    latest = client.register_task_definition(
        family="api",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        taskRoleArn=role,
        containerDefinitions=[
            {
                "name": "app",
                "image": "nginx:2",
                "readonlyRootFilesystem": True,
                "user": "1000",
                "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:eu-west-1:1:secret:db"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/api"}},
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    client.register_task_definition(
        family="agent",
        networkMode="host",
        pidMode="host",
        containerDefinitions=[{"name": "agent", "image": "agent:1", "memory": 128}],
    )
    service = client.create_service(
        cluster="prod",
        serviceName="api",
        taskDefinition="api",
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg], "assignPublicIp": "ENABLED"}
        },
        tags=[{"key": "team", "value": "core"}],
    )["service"]["serviceArn"]
    return {"cluster": cluster, "service": service, "latest": latest, "role": role, "subnet": subnet, "sg": sg}


def test_registered_as_regional_ecs_collectors():
    for full_type in ("aws.ecs.cluster", "aws.ecs.service", "aws.ecs.task_definition"):
        entry = get_collector(full_type)
        assert entry.service == "ecs" and entry.regional
    assert "running_tasks_count" in get_collector("aws.ecs.cluster").volatile
    assert "running_count" in get_collector("aws.ecs.service").volatile


def test_clusters(ctx, estate):
    records = {r.name: r for r in collect(ctx, "aws.ecs.cluster")}
    assert set(records) == {"prod", "sandbox"}
    prod = records["prod"]
    assert prod.native_id == estate["cluster"] == f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/prod"
    assert prod.config["container_insights"] == "enabled" and prod.tags == {"team": "core"}
    assert records["sandbox"].config["container_insights"] == "disabled"  # unset is off
    assert records["sandbox"].config["execute_command"]["logging"] == "DEFAULT"
    assert judge("aws-ecs-cluster-container-insights-off", {"aws.ecs.cluster": list(records.values())}) == {
        records["sandbox"].native_id
    }


def test_services_and_their_relations(ctx, estate):
    [service] = collect(ctx, "aws.ecs.service")
    assert service.native_id == estate["service"] and service.name == "api"
    config = service.config
    assert config["cluster_arn"] == estate["cluster"]
    assert config["launch_type"] == "FARGATE" and config["desired_count"] == 2
    assert config["assign_public_ip"] == "ENABLED"
    assert config["subnet_ids"] == [estate["subnet"]] and config["security_group_ids"] == [estate["sg"]]
    assert rels(service, "member_of") == {estate["cluster"]}
    assert rels(service, "launched_from") == {ecs.family_arn(config["task_definition_arn"])}
    assert rels(service, "in_subnet") == {f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:subnet/{estate['subnet']}"}
    assert rels(service, "uses_security_group") == {f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/{estate['sg']}"}
    assert judge("aws-ecs-service-assigns-public-ip", {"aws.ecs.service": [service]}) == {service.native_id}


def test_task_definitions_are_the_latest_revision_of_each_family(ctx, estate):
    records = {r.name: r for r in collect(ctx, "aws.ecs.task_definition")}
    assert set(records) == {"api", "agent"}
    api = records["api"]
    assert api.native_id == f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/api"  # the family, no revision
    assert api.config["revision"] == 2 and api.config["task_definition_arn"] == estate["latest"]
    [container] = api.config["containers"]
    assert container["image"] == "nginx:2" and container["readonly_root_filesystem"] is True
    assert container["environment_variable_names"] == ["LOG_LEVEL"] and container["secret_names"] == ["DB_PASSWORD"]
    assert container["log_driver"] == "awslogs" and container["log_group"] == "/ecs/api"
    assert rels(api, "uses_role") == {estate["role"]}
    assert rels(api, "logs_to") == {f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/ecs/api"}
    agent = records["agent"].config
    assert agent["network_mode"] == "host" and agent["pid_mode"] == "host"
    assert agent["containers"][0]["user"] is None and agent["containers"][0]["log_driver"] is None

    collected = {"aws.ecs.task_definition": list(records.values())}
    agent_id = records["agent"].native_id
    assert judge("aws-ecs-task-definition-host-pid", collected) == {agent_id}
    assert judge("aws-ecs-task-definition-host-network-as-root", collected) == {agent_id}
    assert judge("aws-ecs-task-definition-no-logging", collected) == {agent_id}
    assert judge("aws-ecs-task-definition-privileged-container", collected) == set()  # revision 1 only


def test_environment_values_never_reach_a_record(ctx, estate):
    boto3.client("ecs", region_name=REGION).register_task_definition(
        family="legacy",
        containerDefinitions=[
            {
                "name": "app",
                "image": "legacy:1",
                "memory": 128,
                "environment": [{"name": "AWS_SECRET_ACCESS_KEY", "value": SECRET_VALUE}],
            }
        ],
    )
    [legacy] = [r for r in collect(ctx, "aws.ecs.task_definition") if r.name == "legacy"]
    assert legacy.config["containers"][0]["environment_variable_names"] == ["AWS_SECRET_ACCESS_KEY"]
    assert SECRET_VALUE not in json.dumps(legacy.config)
    assert judge("aws-ecs-task-definition-credentials-in-environment", {"aws.ecs.task_definition": [legacy]}) == {
        legacy.native_id
    }


def test_family_arn():
    assert (
        ecs.family_arn("arn:aws:ecs:eu-west-1:1:task-definition/web:12")
        == "arn:aws:ecs:eu-west-1:1:task-definition/web"
    )
    assert (
        ecs.family_arn("arn:aws:ecs:eu-west-1:1:task-definition/web") == "arn:aws:ecs:eu-west-1:1:task-definition/web"
    )


def test_denied_listing_raises_for_the_engine(ctx, estate):
    fail_operation(ctx, "ecs", "ListClusters", code="AccessDeniedException")
    with pytest.raises(ClientError):
        collect(ctx, "aws.ecs.cluster")
