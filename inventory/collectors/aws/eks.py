"""EKS clusters and managed node groups.

A cluster's Kubernetes version is judged from EKS's own calendar (DescribeClusterVersions: standard
support, extended support at a higher hourly price, or unsupported), read once per region, never from
a list kept by hand."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, ec2_arn, error_code, fan_out, iso
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def _cluster_names(ctx: CollectContext) -> list[str]:
    return [name for page in ctx.paginate("eks", "list_clusters") for name in page.get("clusters") or []]


def _version_calendar(ctx: CollectContext, versions: list[str]) -> dict[str, dict[str, Any]] | None:
    """{version: {status, end_of_standard_support, end_of_extended_support}}; None when unreadable."""
    details = Details(ctx)
    listed = details.items(
        "version_support",
        "eks",
        "describe_cluster_versions",
        "clusterVersions",
        clusterVersions=versions,
        includeAll=True,
    )
    if listed is None:
        return None
    return {
        str(v.get("clusterVersion")): {
            "status": v.get("versionStatus"),
            "end_of_standard_support": iso(v.get("endOfStandardSupportDate")),
            "end_of_extended_support": iso(v.get("endOfExtendedSupportDate")),
        }
        for v in listed
        if v.get("clusterVersion")
    }


@collector("aws", "eks.cluster", service="eks", regional=True)
def clusters(ctx: CollectContext) -> Iterator[ResourceRecord]:
    described = [c for c in fan_out(ctx, partial(_describe_cluster, ctx), _cluster_names(ctx)) if c]
    if not described:
        return
    versions = sorted({c["version"] for c in described if c.get("version")})
    calendar = _version_calendar(ctx, versions) if versions else {}
    for cluster in described:
        yield _cluster_record(ctx, cluster, calendar)


def _describe_cluster(ctx: CollectContext, name: str) -> dict | None:
    try:
        return ctx.call("eks", "describe_cluster", name=name).get("cluster")
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None  # deleted after the listing
        raise


def _cluster_record(ctx: CollectContext, cluster: dict, calendar: dict[str, dict[str, Any]] | None) -> ResourceRecord:
    details = Details(ctx)
    vpc = cluster.get("resourcesVpcConfig") or {}
    subnets = list(vpc.get("subnetIds") or [])
    groups = sorted({*(vpc.get("securityGroupIds") or []), *filter(None, [vpc.get("clusterSecurityGroupId")])})
    logging = (cluster.get("logging") or {}).get("clusterLogging") or []
    enabled_logs = sorted({t for entry in logging if entry.get("enabled") for t in entry.get("types") or []})
    encryption = cluster.get("encryptionConfig") or []
    secrets_key = next(
        ((e.get("provider") or {}).get("keyArn") for e in encryption if "secrets" in (e.get("resources") or [])), None
    )
    version = cluster.get("version")
    if calendar is None:
        details.unreadable.append("version_support")
        support = None
    else:
        unknown = {"status": None, "end_of_standard_support": None, "end_of_extended_support": None}
        support = calendar.get(str(version)) or unknown
    config: dict[str, Any] = {
        "cluster_name": cluster.get("name"),
        "status": cluster.get("status"),
        "version": version,
        "platform_version": cluster.get("platformVersion"),
        "version_support": support,
        "upgrade_support_type": (cluster.get("upgradePolicy") or {}).get("supportType"),  # STANDARD | EXTENDED
        "endpoint_public_access": bool(vpc.get("endpointPublicAccess", False)),
        "endpoint_private_access": bool(vpc.get("endpointPrivateAccess", False)),
        # EKS's default for a public endpoint is the whole internet.
        "public_access_cidrs": list(
            vpc.get("publicAccessCidrs") or (["0.0.0.0/0"] if vpc.get("endpointPublicAccess") else [])
        ),
        "subnet_ids": subnets,
        "security_group_ids": groups,
        "vpc_id": vpc.get("vpcId"),
        "logging_enabled_types": enabled_logs,
        "secrets_encryption_key_arn": secrets_key,
        "role_arn": cluster.get("roleArn"),
        "authentication_mode": (cluster.get("accessConfig") or {}).get("authenticationMode"),
        "deletion_protection": cluster.get("deletionProtection"),
        "created_at": iso(cluster.get("createdAt")),
    }
    relations = [Rel("in_subnet", ec2_arn(ctx, "subnet", s)) for s in subnets]
    relations += [Rel("uses_security_group", ec2_arn(ctx, "security-group", g)) for g in groups]
    if vpc.get("vpcId"):
        relations.append(Rel("in_vpc", ec2_arn(ctx, "vpc", vpc["vpcId"])))
    if cluster.get("roleArn"):
        relations.append(Rel("uses_role", cluster["roleArn"]))
    if secrets_key:
        relations.append(Rel("encrypted_with", secrets_key))
    return ResourceRecord(
        native_id=cluster["arn"],
        name=cluster.get("name") or cluster["arn"],
        config=details.finish(config),
        tags={str(k): str(v) for k, v in (cluster.get("tags") or {}).items()},
        relations=list(dict.fromkeys(relations)),
    )


@collector("aws", "eks.nodegroup", service="eks", regional=True)
def nodegroups(ctx: CollectContext) -> Iterator[ResourceRecord]:
    pairs: list[tuple[str, str]] = []
    for cluster in _cluster_names(ctx):
        try:
            for page in ctx.paginate("eks", "list_nodegroups", clusterName=cluster):
                pairs += [(cluster, name) for name in page.get("nodegroups") or []]
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
    for record in fan_out(ctx, partial(_nodegroup_record, ctx), pairs):
        if record is not None:
            yield record


def _nodegroup_record(ctx: CollectContext, pair: tuple[str, str]) -> ResourceRecord | None:
    cluster, name = pair
    try:
        group = ctx.call("eks", "describe_nodegroup", clusterName=cluster, nodegroupName=name).get("nodegroup") or {}
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise
    scaling = group.get("scalingConfig") or {}
    remote = group.get("remoteAccess")
    template = group.get("launchTemplate") or {}
    subnets = list(group.get("subnets") or [])
    config: dict[str, Any] = {
        "nodegroup_name": group.get("nodegroupName") or name,
        "cluster_name": cluster,
        "status": group.get("status"),
        "version": group.get("version"),
        "release_version": group.get("releaseVersion"),
        "ami_type": group.get("amiType"),
        "capacity_type": group.get("capacityType"),
        "instance_types": list(group.get("instanceTypes") or []),
        "disk_size": group.get("diskSize"),
        "min_size": scaling.get("minSize"),
        "max_size": scaling.get("maxSize"),
        "desired_size": scaling.get("desiredSize"),
        "subnet_ids": subnets,
        "node_role_arn": group.get("nodeRole"),
        "remote_access": (
            {
                "ec2_ssh_key": remote.get("ec2SshKey"),
                "source_security_group_ids": list(remote.get("sourceSecurityGroups") or []),
            }
            if remote
            else None
        ),
        "launch_template_id": template.get("id"),
        "launch_template_version": template.get("version"),
        "created_at": iso(group.get("createdAt")),
    }
    cluster_arn = group.get("clusterArn") or f"arn:aws:eks:{ctx.region}:{ctx.account_id}:cluster/{cluster}"
    relations = [Rel("member_of", cluster_arn)]
    relations += [Rel("in_subnet", ec2_arn(ctx, "subnet", s)) for s in subnets]
    if group.get("nodeRole"):
        relations.append(Rel("uses_role", group["nodeRole"]))
    if template.get("id"):
        relations.append(Rel("launched_from", ec2_arn(ctx, "launch-template", template["id"])))
    return ResourceRecord(
        native_id=group.get("nodegroupArn") or f"{cluster_arn}/nodegroup/{name}",
        name=config["nodegroup_name"],
        config=config,
        tags={str(k): str(v) for k, v in (group.get("tags") or {}).items()},
        relations=list(dict.fromkeys(relations)),
    )
