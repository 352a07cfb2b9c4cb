"""ECS clusters, services and task definitions.

A task definition is recorded once per family, as its latest ACTIVE revision (the one new tasks and
services are most likely to use, and the one AWS's own checks judge): its native id is the family's ARN
without the revision, so a new revision is a change of the same resource, not a new one. Container
environment variables are recorded by NAME only: their values are often secrets."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import arn, ec2_arn, error_code, fan_out, iso
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

DESCRIBE_CLUSTERS_BATCH = 100
DESCRIBE_SERVICES_BATCH = 10


def _tags(items: list[dict] | None) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value", "")) for t in items or [] if t.get("key") is not None}


def family_arn(task_definition_arn: str) -> str:
    """arn:…:task-definition/web:7 → arn:…:task-definition/web (the task definition's native id)."""
    head, _, tail = task_definition_arn.rpartition(":")
    return head if tail.isdigit() and "task-definition/" in head else task_definition_arn


def _cluster_arns(ctx: CollectContext) -> list[str]:
    return [a for page in ctx.paginate("ecs", "list_clusters") for a in page.get("clusterArns") or []]


# --- clusters -------------------------------------------------------------------------------------


@collector(
    "aws",
    "ecs.cluster",
    service="ecs",
    regional=True,
    volatile=("running_tasks_count", "pending_tasks_count", "active_services_count", "container_instances_count"),
)
def clusters(ctx: CollectContext) -> Iterator[ResourceRecord]:
    arns = _cluster_arns(ctx)
    for start in range(0, len(arns), DESCRIBE_CLUSTERS_BATCH):
        answer = ctx.call(
            "ecs",
            "describe_clusters",
            clusters=arns[start : start + DESCRIBE_CLUSTERS_BATCH],
            include=["SETTINGS", "CONFIGURATIONS", "TAGS"],
        )
        for cluster in answer.get("clusters") or []:
            if cluster.get("status") != "INACTIVE":  # deleted clusters linger as INACTIVE for a while
                yield _cluster_record(cluster)


def _cluster_record(cluster: dict) -> ResourceRecord:
    settings = {s.get("name"): s.get("value") for s in cluster.get("settings") or []}
    execute = (cluster.get("configuration") or {}).get("executeCommandConfiguration") or {}
    exec_log = execute.get("logConfiguration") or {}
    insights = settings.get("containerInsights")
    config: dict[str, Any] = {
        "cluster_name": cluster.get("clusterName"),
        "status": cluster.get("status"),
        "container_insights": insights or "disabled",  # enabled | enhanced | disabled (unset is disabled)
        "capacity_providers": list(cluster.get("capacityProviders") or []),
        "running_tasks_count": cluster.get("runningTasksCount"),
        "pending_tasks_count": cluster.get("pendingTasksCount"),
        "active_services_count": cluster.get("activeServicesCount"),
        "container_instances_count": cluster.get("registeredContainerInstancesCount"),
        "execute_command": {
            "kms_key_id": execute.get("kmsKeyId"),
            "logging": execute.get("logging") or "DEFAULT",  # NONE | DEFAULT | OVERRIDE
            "cloud_watch_log_group_name": exec_log.get("cloudWatchLogGroupName"),
            "s3_bucket_name": exec_log.get("s3BucketName"),
        },
    }
    relations = []
    if (execute.get("kmsKeyId") or "").startswith("arn:"):
        relations.append(Rel("encrypted_with", execute["kmsKeyId"]))
    return ResourceRecord(
        native_id=cluster["clusterArn"],
        name=cluster.get("clusterName") or cluster["clusterArn"],
        config=config,
        tags=_tags(cluster.get("tags")),
        relations=relations,
    )


# --- services -------------------------------------------------------------------------------------


@collector("aws", "ecs.service", service="ecs", regional=True, volatile=("running_count", "pending_count"))
def services(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for cluster_arn in _cluster_arns(ctx):
        try:
            service_arns = [
                a
                for page in ctx.paginate("ecs", "list_services", cluster=cluster_arn)
                for a in page.get("serviceArns") or []
            ]
        except ClientError as error:
            if error_code(error) == "ClusterNotFoundException":
                continue  # deleted between the two listings
            raise
        for start in range(0, len(service_arns), DESCRIBE_SERVICES_BATCH):
            answer = ctx.call(
                "ecs",
                "describe_services",
                cluster=cluster_arn,
                services=service_arns[start : start + DESCRIBE_SERVICES_BATCH],
                include=["TAGS"],
            )
            for service in answer.get("services") or []:
                if service.get("status") != "INACTIVE":
                    yield _service_record(ctx, cluster_arn, service)


def _service_record(ctx: CollectContext, cluster_arn: str, service: dict) -> ResourceRecord:
    network = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    subnets = list(network.get("subnets") or [])
    groups = list(network.get("securityGroups") or [])
    strategy = service.get("capacityProviderStrategy") or []
    launch_type = service.get("launchType") or (
        "FARGATE" if any(str(s.get("capacityProvider", "")).startswith("FARGATE") for s in strategy) else None
    )
    target_groups = [lb["targetGroupArn"] for lb in service.get("loadBalancers") or [] if lb.get("targetGroupArn")]
    task_definition = service.get("taskDefinition")
    config: dict[str, Any] = {
        "service_name": service.get("serviceName"),
        "cluster_arn": cluster_arn,
        "status": service.get("status"),
        "launch_type": launch_type,  # EC2 | FARGATE | EXTERNAL; null when only a capacity provider names it
        "capacity_providers": [s.get("capacityProvider") for s in strategy if s.get("capacityProvider")],
        "platform_version": service.get("platformVersion"),
        "platform_family": service.get("platformFamily"),
        "scheduling_strategy": service.get("schedulingStrategy"),
        "desired_count": service.get("desiredCount"),
        "running_count": service.get("runningCount"),
        "pending_count": service.get("pendingCount"),
        "task_definition_arn": task_definition,
        "assign_public_ip": network.get("assignPublicIp") if network else None,  # ENABLED | DISABLED
        "subnet_ids": subnets,
        "security_group_ids": groups,
        "target_group_arns": target_groups,
        "role_arn": service.get("roleArn"),
        "enable_execute_command": bool(service.get("enableExecuteCommand", False)),
        "propagate_tags": service.get("propagateTags"),
        "created_at": iso(service.get("createdAt")),
    }
    relations = [Rel("member_of", cluster_arn)]
    if task_definition:
        relations.append(Rel("launched_from", family_arn(task_definition)))
    relations += [Rel("in_subnet", ec2_arn(ctx, "subnet", s)) for s in subnets]
    relations += [Rel("uses_security_group", ec2_arn(ctx, "security-group", g)) for g in groups]
    relations += [Rel("attached_to", tg) for tg in target_groups]
    if service.get("roleArn"):
        relations.append(Rel("uses_role", service["roleArn"]))
    return ResourceRecord(
        native_id=service["serviceArn"],
        name=service.get("serviceName") or service["serviceArn"],
        config=config,
        tags=_tags(service.get("tags")),
        relations=list(dict.fromkeys(relations)),
    )


# --- task definitions -----------------------------------------------------------------------------

# The environment variable names AWS's own check (ECS.8) treats as credentials passed in clear.
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA")


@collector("aws", "ecs.task_definition", service="ecs", regional=True)
def task_definitions(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("ecs", "list_task_definition_families", status="ACTIVE"):
        for record in fan_out(ctx, partial(_task_definition_record, ctx), page.get("families") or []):
            if record is not None:
                yield record


def _container(ctx: CollectContext, container: dict) -> dict[str, Any]:
    log = container.get("logConfiguration") or {}
    options = log.get("options") or {}
    capabilities = (container.get("linuxParameters") or {}).get("capabilities") or {}
    return {
        "name": container.get("name"),
        "image": container.get("image"),
        "essential": container.get("essential", True),
        "privileged": bool(container.get("privileged", False)),
        "user": container.get("user"),  # null: the image's user (root unless the image says otherwise)
        "readonly_root_filesystem": bool(container.get("readonlyRootFilesystem", False)),
        # Names only: values never leave this module.
        "environment_variable_names": sorted(e["name"] for e in container.get("environment") or [] if e.get("name")),
        "secret_names": sorted(s["name"] for s in container.get("secrets") or [] if s.get("name")),
        "log_driver": log.get("logDriver"),
        "log_group": options.get("awslogs-group") if log.get("logDriver") == "awslogs" else None,
        "log_region": options.get("awslogs-region") or ctx.region if log.get("logDriver") == "awslogs" else None,
        "added_capabilities": sorted(capabilities.get("add") or []),
        "port_mappings": [
            {"container_port": p.get("containerPort"), "host_port": p.get("hostPort"), "protocol": p.get("protocol")}
            for p in container.get("portMappings") or []
        ],
    }


def _task_definition_record(ctx: CollectContext, family: str) -> ResourceRecord | None:
    try:
        answer = ctx.call("ecs", "describe_task_definition", taskDefinition=family, include=["TAGS"])
    except ClientError as error:
        if error_code(error) in ("ClientException", "InvalidParameterException"):
            return None  # the family's last revision was deregistered after the listing
        raise
    definition = answer.get("taskDefinition") or {}
    definition_arn = definition.get("taskDefinitionArn")
    if not definition_arn:
        return None
    containers = [_container(ctx, c) for c in definition.get("containerDefinitions") or []]
    config: dict[str, Any] = {
        "family": definition.get("family") or family,
        "revision": definition.get("revision"),
        "task_definition_arn": definition_arn,
        "status": definition.get("status"),
        "network_mode": definition.get("networkMode") or "bridge",  # bridge is ECS's default on EC2
        "pid_mode": definition.get("pidMode"),
        "ipc_mode": definition.get("ipcMode"),
        "requires_compatibilities": list(definition.get("requiresCompatibilities") or []),
        "cpu": definition.get("cpu"),
        "memory": definition.get("memory"),
        "task_role_arn": definition.get("taskRoleArn"),
        "execution_role_arn": definition.get("executionRoleArn"),
        "containers": containers,
        "registered_at": iso(definition.get("registeredAt")),
    }
    relations = [Rel("uses_role", r) for r in (definition.get("taskRoleArn"), definition.get("executionRoleArn")) if r]
    for container in containers:
        if container["log_group"]:
            group = f"log-group:{container['log_group']}"
            relations.append(Rel("logs_to", arn("logs", container["log_region"], ctx.account_id, group)))
    return ResourceRecord(
        native_id=family_arn(definition_arn),
        name=config["family"],
        config=config,
        tags=_tags(answer.get("tags")),
        relations=list(dict.fromkeys(relations)),
    )
