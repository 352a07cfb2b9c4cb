"""EC2 compute and network collectors: one function per resource type, each paging through one describe
call and yielding normalized records with their relationships (by ARN)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from inventory.collectors.aws._util import Details, ec2_arn, iso, name_from_tags, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

# Optional enrichments (own AMIs, public snapshots, flow logs) go through _util.Details: a denied call
# leaves only its field null and listed in config["unreadable"]; the main describe call always raises.


def _items(ctx: CollectContext, operation: str, key: str, **kwargs: Any) -> Iterator[dict]:
    for page in ctx.paginate("ec2", operation, **kwargs):
        yield from page.get(key) or []


def _record(
    ctx: CollectContext,
    kind: str,
    resource_id: str,
    item: dict,
    config: dict,
    rels: Iterable[Rel],
    tag_key: str = "Tags",
) -> ResourceRecord:
    tags = tags_dict(item.get(tag_key))
    return ResourceRecord(
        native_id=ec2_arn(ctx, kind, resource_id),
        name=name_from_tags(tags, resource_id),
        config=config,
        tags=tags,
        relations=_unique(rels),
    )


def _unique(rels: Iterable[Rel]) -> list[Rel]:
    return list(dict.fromkeys(rel for rel in rels if rel.target_native_id))


def _rel(ctx: CollectContext, rel_kind: str, ec2_kind: str, resource_id: str | None) -> Rel:
    # An empty target is dropped by _unique: callers need not test every optional id.
    return Rel(rel_kind, ec2_arn(ctx, ec2_kind, resource_id) if resource_id else "")


# --- Security group rules ----------------------------------------------------------------------

_PROTOCOLS = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def _port(value: Any) -> int | None:
    return None if value is None or int(value) == -1 else int(value)


def normalize_sg_rules(direction: str, permissions: list[dict] | None) -> list[dict]:
    """AWS IpPermissions → a flat list of {direction, protocol, from_port, to_port, source, source_type,
    description}. Protocol "-1" becomes "all" with null ports (every port); ICMP's -1 (any type/code)
    becomes null too; numbers of well-known protocols become their names."""
    rules: list[dict] = []
    for perm in permissions or []:
        raw = str(perm.get("IpProtocol", "-1")).lower()
        protocol = _PROTOCOLS.get(raw, raw)
        ported = protocol in ("tcp", "udp", "icmp", "icmpv6")
        from_port = _port(perm.get("FromPort")) if ported else None
        to_port = _port(perm.get("ToPort")) if ported else None
        sources: list[tuple[str, str, str | None]] = []
        sources += [(r.get("CidrIp", ""), "cidr_ipv4", r.get("Description")) for r in perm.get("IpRanges") or []]
        sources += [(r.get("CidrIpv6", ""), "cidr_ipv6", r.get("Description")) for r in perm.get("Ipv6Ranges") or []]
        sources += [
            (p.get("GroupId") or p.get("GroupName", ""), "security_group", p.get("Description"))
            for p in perm.get("UserIdGroupPairs") or []
        ]
        sources += [
            (p.get("PrefixListId", ""), "prefix_list", p.get("Description")) for p in perm.get("PrefixListIds") or []
        ]
        for source, source_type, description in sources:
            rules.append(
                {
                    "direction": direction,
                    "protocol": protocol,
                    "from_port": from_port,
                    "to_port": to_port,
                    "source": source,
                    "source_type": source_type,
                    "description": description or "",
                }
            )
    return rules


# --- Instances ---------------------------------------------------------------------------------

_STOPPED_AT = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")


def stopped_since(state: str, reason: str | None) -> str | None:
    """When a stopped instance stopped, from StateTransitionReason ("User initiated (2024-01-15 10:23:45
    GMT)"); None if running or the reason carries no time."""
    if state != "stopped" or not reason:
        return None
    match = _STOPPED_AT.search(reason)
    if not match:
        return None
    return iso(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))


@collector("aws", "ec2.instance", service="ec2", regional=True)
def instances(ctx: CollectContext) -> Iterator[ResourceRecord]:
    own_images: set[str] | None = None  # fetched once, only if the region has instances
    for reservation in _items(ctx, "describe_instances", "Reservations"):
        for inst in reservation.get("Instances") or []:
            state = (inst.get("State") or {}).get("Name", "")
            if state == "terminated":
                continue  # gone; AWS merely lists it for about an hour
            if own_images is None:
                own = Details(ctx).items("launched_from", "ec2", "describe_images", "Images", Owners=["self"])
                own_images = {img["ImageId"] for img in own or []}
            yield _instance_record(ctx, inst, state, own_images)


def _instance_record(ctx: CollectContext, inst: dict, state: str, own_images: set[str]) -> ResourceRecord:
    instance_id = inst["InstanceId"]
    metadata = inst.get("MetadataOptions") or {}
    sg_ids = [g["GroupId"] for g in inst.get("SecurityGroups") or [] if g.get("GroupId")]
    reason = inst.get("StateTransitionReason") or ""
    config = {
        "instance_id": instance_id,
        "state": state,
        "instance_type": inst.get("InstanceType"),
        "launch_time": iso(inst.get("LaunchTime")),
        "availability_zone": (inst.get("Placement") or {}).get("AvailabilityZone"),
        "public_ip": inst.get("PublicIpAddress"),
        "public_dns_name": inst.get("PublicDnsName") or None,
        "private_ip": inst.get("PrivateIpAddress"),
        "subnet_id": inst.get("SubnetId"),
        "vpc_id": inst.get("VpcId"),
        "image_id": inst.get("ImageId"),
        "key_name": inst.get("KeyName"),
        "platform": inst.get("PlatformDetails") or inst.get("Platform"),
        "architecture": inst.get("Architecture"),
        "iam_instance_profile_arn": (inst.get("IamInstanceProfile") or {}).get("Arn"),
        "monitoring": (inst.get("Monitoring") or {}).get("State"),
        "ebs_optimized": bool(inst.get("EbsOptimized")),
        "metadata_options": {
            "http_tokens": metadata.get("HttpTokens"),
            "http_endpoint": metadata.get("HttpEndpoint"),
            "http_put_response_hop_limit": metadata.get("HttpPutResponseHopLimit"),
            "imdsv2_required": metadata.get("HttpTokens") == "required",
        },
        "security_group_ids": sg_ids,
        "root_device_type": inst.get("RootDeviceType"),
        "block_devices": [
            {"device": b.get("DeviceName"), "volume_id": (b.get("Ebs") or {}).get("VolumeId")}
            for b in inst.get("BlockDeviceMappings") or []
        ],
        "network_interface_ids": [n["NetworkInterfaceId"] for n in inst.get("NetworkInterfaces") or []],
        "state_transition_reason": reason,
        "stopped_since": stopped_since(state, reason),
    }
    rels = [
        _rel(ctx, "in_subnet", "subnet", inst.get("SubnetId")),
        _rel(ctx, "in_vpc", "vpc", inst.get("VpcId")),
        *(_rel(ctx, "uses_security_group", "security-group", sg) for sg in sg_ids),
    ]
    if inst.get("ImageId") in own_images:
        rels.append(_rel(ctx, "launched_from", "image", inst["ImageId"]))
    return _record(ctx, "instance", instance_id, inst, config, rels)


# --- EBS -----------------------------------------------------------------------------------------


@collector("aws", "ec2.volume", service="ec2", regional=True)
def volumes(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for vol in _items(ctx, "describe_volumes", "Volumes"):
        attachments = [
            {
                "instance_id": a.get("InstanceId"),
                "device": a.get("Device"),
                "state": a.get("State"),
                "delete_on_termination": a.get("DeleteOnTermination"),
            }
            for a in vol.get("Attachments") or []
        ]
        config = {
            "volume_id": vol["VolumeId"],
            "size_gb": vol.get("Size"),
            "volume_type": vol.get("VolumeType"),
            "encrypted": bool(vol.get("Encrypted")),
            "kms_key_id": vol.get("KmsKeyId"),
            "state": vol.get("State"),
            "availability_zone": vol.get("AvailabilityZone"),
            "snapshot_id": vol.get("SnapshotId") or None,
            "attachments": attachments,
            "attached": bool(attachments),
            "create_time": iso(vol.get("CreateTime")),
            "iops": vol.get("Iops"),
            "throughput": vol.get("Throughput"),
            "multi_attach_enabled": bool(vol.get("MultiAttachEnabled")),
        }
        rels = [_rel(ctx, "attached_to", "instance", a["instance_id"]) for a in attachments]
        yield _record(ctx, "volume", vol["VolumeId"], vol, config, rels)


def _public_snapshot_ids(details: Details) -> set[str] | None:
    """Own snapshots anyone may restore (None when unreadable). Listing own snapshots restorable by
    "all" is one paged call; each hit is confirmed with its createVolumePermission, so a backend that
    ignores RestorableByUserIds (moto does) costs calls, never a false "public"."""
    listed = details.items(
        "public", "ec2", "describe_snapshots", "Snapshots", OwnerIds=["self"], RestorableByUserIds=["all"]
    )
    if listed is None:
        return None
    public = set()
    for snap in listed:
        attr = details.get(
            "public",
            "ec2",
            "describe_snapshot_attribute",
            missing=("InvalidSnapshot.NotFound",),
            SnapshotId=snap["SnapshotId"],
            Attribute="createVolumePermission",
        )
        if attr is None:
            return None
        if any(p.get("Group") == "all" for p in attr.get("CreateVolumePermissions") or []):
            public.add(snap["SnapshotId"])
    return public


@collector("aws", "ec2.snapshot", service="ec2", regional=True)
def snapshots(ctx: CollectContext) -> Iterator[ResourceRecord]:
    region: Details | None = None  # region-wide enrichment, fetched once if there are snapshots
    public_ids: set[str] | None = None
    for snap in _items(ctx, "describe_snapshots", "Snapshots", OwnerIds=["self"]):
        if region is None:
            region = Details(ctx)
            public_ids = _public_snapshot_ids(region)
        snapshot_id = snap["SnapshotId"]
        config = {
            "snapshot_id": snapshot_id,
            "volume_id": snap.get("VolumeId"),
            "size_gb": snap.get("VolumeSize"),
            "encrypted": bool(snap.get("Encrypted")),
            "kms_key_id": snap.get("KmsKeyId"),
            "state": snap.get("State"),
            "start_time": iso(snap.get("StartTime")),
            "description": snap.get("Description") or "",
            "storage_tier": snap.get("StorageTier"),
            "public": None if public_ids is None else snapshot_id in public_ids,
        }
        rels = [_rel(ctx, "snapshot_of", "volume", snap.get("VolumeId"))]
        yield _record(ctx, "snapshot", snapshot_id, snap, region.finish(config), rels)


@collector("aws", "ec2.image", service="ec2", regional=True)
def images(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for img in _items(ctx, "describe_images", "Images", Owners=["self"]):
        config = {
            "image_id": img["ImageId"],
            "image_name": img.get("Name"),
            "description": img.get("Description") or "",
            "public": bool(img.get("Public")),
            "creation_date": iso(img.get("CreationDate")),
            "deprecation_time": iso(img.get("DeprecationTime")),
            "state": img.get("State"),
            "architecture": img.get("Architecture"),
            "platform": img.get("PlatformDetails") or img.get("Platform"),
            "root_device_type": img.get("RootDeviceType"),
            "virtualization_type": img.get("VirtualizationType"),
            "snapshot_ids": [
                b["Ebs"]["SnapshotId"]
                for b in img.get("BlockDeviceMappings") or []
                if (b.get("Ebs") or {}).get("SnapshotId")
            ],
        }
        record = _record(ctx, "image", img["ImageId"], img, config, [])
        record.name = name_from_tags(record.tags, img.get("Name") or img["ImageId"])
        yield record


# --- Network -------------------------------------------------------------------------------------


@collector("aws", "ec2.security_group", service="ec2", regional=True)
def security_groups(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for sg in _items(ctx, "describe_security_groups", "SecurityGroups"):
        rules = normalize_sg_rules("ingress", sg.get("IpPermissions")) + normalize_sg_rules(
            "egress", sg.get("IpPermissionsEgress")
        )
        config = {
            "group_id": sg["GroupId"],
            "group_name": sg.get("GroupName"),
            "description": sg.get("Description") or "",
            "vpc_id": sg.get("VpcId"),
            "owner_id": sg.get("OwnerId"),
            "is_default": sg.get("GroupName") == "default",
            "rules": rules,
        }
        record = _record(
            ctx, "security-group", sg["GroupId"], sg, config, [_rel(ctx, "in_vpc", "vpc", sg.get("VpcId"))]
        )
        record.name = name_from_tags(record.tags, sg.get("GroupName") or sg["GroupId"])
        yield record


def _active_flow_log_targets(details: Details) -> set[str] | None:
    """Ids of the resources (VPCs, subnets, ENIs) with an active flow log; None when unreadable."""
    flow_logs = details.items("flow_logs_enabled", "ec2", "describe_flow_logs", "FlowLogs")
    if flow_logs is None:
        return None
    return {
        fl["ResourceId"] for fl in flow_logs if fl.get("ResourceId") and fl.get("FlowLogStatus", "ACTIVE") == "ACTIVE"
    }


@collector("aws", "ec2.vpc", service="ec2", regional=True)
def vpcs(ctx: CollectContext) -> Iterator[ResourceRecord]:
    region: Details | None = None  # region-wide enrichment, fetched once if there are VPCs
    flow_targets: set[str] | None = None
    for vpc in _items(ctx, "describe_vpcs", "Vpcs"):
        if region is None:
            region = Details(ctx)
            flow_targets = _active_flow_log_targets(region)
        vpc_id = vpc["VpcId"]
        v4 = [
            a["CidrBlock"]
            for a in vpc.get("CidrBlockAssociationSet") or []
            if (a.get("CidrBlockState") or {}).get("State", "associated") == "associated"
        ]
        config = {
            "vpc_id": vpc_id,
            "cidr_block": vpc.get("CidrBlock"),
            "cidr_blocks": v4 or ([vpc["CidrBlock"]] if vpc.get("CidrBlock") else []),
            "ipv6_cidr_blocks": [
                a["Ipv6CidrBlock"] for a in vpc.get("Ipv6CidrBlockAssociationSet") or [] if a.get("Ipv6CidrBlock")
            ],
            "is_default": bool(vpc.get("IsDefault")),
            "state": vpc.get("State"),
            "instance_tenancy": vpc.get("InstanceTenancy"),
            "dhcp_options_id": vpc.get("DhcpOptionsId"),
            "owner_id": vpc.get("OwnerId"),
            "flow_logs_enabled": None if flow_targets is None else vpc_id in flow_targets,
        }
        yield _record(ctx, "vpc", vpc_id, vpc, region.finish(config), [])


_DEFAULT_ROUTES = ("0.0.0.0/0", "::/0")


def _routes_to_internet(table: dict) -> bool:
    return any(
        (r.get("DestinationCidrBlock") in _DEFAULT_ROUTES or r.get("DestinationIpv6CidrBlock") in _DEFAULT_ROUTES)
        and str(r.get("GatewayId", "")).startswith("igw-")
        and r.get("State", "active") == "active"
        for r in table.get("Routes") or []
    )


def _route_table_index(ctx: CollectContext) -> tuple[dict[str, dict], dict[str, dict]]:
    """(table by explicitly associated subnet id, main table by VPC id) from one paged call."""
    by_subnet: dict[str, dict] = {}
    main_by_vpc: dict[str, dict] = {}
    for table in _items(ctx, "describe_route_tables", "RouteTables"):
        for assoc in table.get("Associations") or []:
            if assoc.get("Main"):
                main_by_vpc[table.get("VpcId", "")] = table
            elif assoc.get("SubnetId"):
                by_subnet[assoc["SubnetId"]] = table
    return by_subnet, main_by_vpc


@collector("aws", "ec2.subnet", service="ec2", regional=True)
def subnets(ctx: CollectContext) -> Iterator[ResourceRecord]:
    index: tuple[dict[str, dict], dict[str, dict]] | None = None
    for subnet in _items(ctx, "describe_subnets", "Subnets"):
        if index is None:
            index = _route_table_index(ctx)
        by_subnet, main_by_vpc = index
        subnet_id = subnet["SubnetId"]
        table = by_subnet.get(subnet_id) or main_by_vpc.get(subnet.get("VpcId", ""))
        config = {
            "subnet_id": subnet_id,
            "vpc_id": subnet.get("VpcId"),
            "cidr_block": subnet.get("CidrBlock"),
            "ipv6_cidr_blocks": [
                a["Ipv6CidrBlock"] for a in subnet.get("Ipv6CidrBlockAssociationSet") or [] if a.get("Ipv6CidrBlock")
            ],
            "availability_zone": subnet.get("AvailabilityZone"),
            "availability_zone_id": subnet.get("AvailabilityZoneId"),
            "state": subnet.get("State"),
            "default_for_az": bool(subnet.get("DefaultForAz")),
            "map_public_ip_on_launch": bool(subnet.get("MapPublicIpOnLaunch")),
            "route_table_id": table.get("RouteTableId") if table else None,
            "is_public": _routes_to_internet(table) if table else False,
            "available_ip_count": subnet.get("AvailableIpAddressCount"),
        }
        yield _record(ctx, "subnet", subnet_id, subnet, config, [_rel(ctx, "in_vpc", "vpc", subnet.get("VpcId"))])


# Route target field → (target_type, ARN kind of the gateways we link with "routes_to", if any).
_ROUTE_TARGETS = (
    ("NatGatewayId", "nat_gateway"),
    ("TransitGatewayId", "transit_gateway"),
    ("VpcPeeringConnectionId", "vpc_peering_connection"),
    ("EgressOnlyInternetGatewayId", "egress_only_internet_gateway"),
    ("LocalGatewayId", "local_gateway"),
    ("CarrierGatewayId", "carrier_gateway"),
    ("InstanceId", "instance"),
    ("NetworkInterfaceId", "network_interface"),
    ("CoreNetworkArn", "core_network"),
)
_GATEWAY_PREFIXES = {"igw-": "internet_gateway", "vgw-": "virtual_private_gateway", "vpce-": "vpc_endpoint"}


def _route_target(route: dict) -> tuple[str | None, str | None]:
    gateway = route.get("GatewayId")
    if gateway:
        if gateway == "local":
            return "local", "local"
        kind = next((k for p, k in _GATEWAY_PREFIXES.items() if gateway.startswith(p)), "gateway")
        return kind, gateway
    for field, kind in _ROUTE_TARGETS:
        if route.get(field):
            return kind, route[field]
    return None, None


@collector("aws", "ec2.route_table", service="ec2", regional=True)
def route_tables(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for table in _items(ctx, "describe_route_tables", "RouteTables"):
        routes = []
        rels = [_rel(ctx, "in_vpc", "vpc", table.get("VpcId"))]
        for route in table.get("Routes") or []:
            target_type, target_id = _route_target(route)
            routes.append(
                {
                    "destination": route.get("DestinationCidrBlock")
                    or route.get("DestinationIpv6CidrBlock")
                    or route.get("DestinationPrefixListId"),
                    "target_type": target_type,
                    "target_id": target_id,
                    "state": route.get("State", "active"),
                    "origin": route.get("Origin"),
                }
            )
            if target_type == "internet_gateway":
                rels.append(_rel(ctx, "routes_to", "internet-gateway", target_id))
            elif target_type == "nat_gateway":
                rels.append(_rel(ctx, "routes_to", "natgateway", target_id))
        associations = table.get("Associations") or []
        subnet_ids = [a["SubnetId"] for a in associations if a.get("SubnetId")]
        rels += [_rel(ctx, "associated_with", "subnet", s) for s in subnet_ids]
        config = {
            "route_table_id": table["RouteTableId"],
            "vpc_id": table.get("VpcId"),
            "main": any(a.get("Main") for a in associations),
            "subnet_ids": subnet_ids,
            "associations": [
                {"subnet_id": a.get("SubnetId"), "gateway_id": a.get("GatewayId"), "main": bool(a.get("Main"))}
                for a in associations
            ],
            "routes": routes,
            "routes_to_internet": _routes_to_internet(table),
        }
        yield _record(ctx, "route-table", table["RouteTableId"], table, config, rels)


@collector("aws", "ec2.internet_gateway", service="ec2", regional=True)
def internet_gateways(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for igw in _items(ctx, "describe_internet_gateways", "InternetGateways"):
        attachments = [{"vpc_id": a.get("VpcId"), "state": a.get("State")} for a in igw.get("Attachments") or []]
        config = {
            "internet_gateway_id": igw["InternetGatewayId"],
            "owner_id": igw.get("OwnerId"),
            "attachments": attachments,
            "attached": bool(attachments),
        }
        rels = [_rel(ctx, "attached_to", "vpc", a["vpc_id"]) for a in attachments]
        yield _record(ctx, "internet-gateway", igw["InternetGatewayId"], igw, config, rels)


@collector("aws", "ec2.nat_gateway", service="ec2", regional=True)
def nat_gateways(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for nat in _items(ctx, "describe_nat_gateways", "NatGateways"):
        if nat.get("State") == "deleted":
            continue  # gone; AWS merely lists it for about an hour
        address = next(iter(nat.get("NatGatewayAddresses") or []), {})
        config = {
            "nat_gateway_id": nat["NatGatewayId"],
            "state": nat.get("State"),
            "subnet_id": nat.get("SubnetId"),
            "vpc_id": nat.get("VpcId"),
            "connectivity_type": nat.get("ConnectivityType", "public"),
            "public_ip": address.get("PublicIp"),
            "private_ip": address.get("PrivateIp"),
            "allocation_id": address.get("AllocationId"),
            "network_interface_id": address.get("NetworkInterfaceId"),
            "create_time": iso(nat.get("CreateTime")),
        }
        rels = [_rel(ctx, "in_subnet", "subnet", nat.get("SubnetId")), _rel(ctx, "in_vpc", "vpc", nat.get("VpcId"))]
        yield _record(ctx, "natgateway", nat["NatGatewayId"], nat, config, rels)


@collector("aws", "ec2.network_interface", service="ec2", regional=True)
def network_interfaces(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for eni in _items(ctx, "describe_network_interfaces", "NetworkInterfaces"):
        attachment = eni.get("Attachment") or {}
        sg_ids = [g["GroupId"] for g in eni.get("Groups") or [] if g.get("GroupId")]
        instance_id = attachment.get("InstanceId")
        config = {
            "network_interface_id": eni["NetworkInterfaceId"],
            "interface_type": eni.get("InterfaceType"),
            "status": eni.get("Status"),
            "description": eni.get("Description") or "",
            "subnet_id": eni.get("SubnetId"),
            "vpc_id": eni.get("VpcId"),
            "availability_zone": eni.get("AvailabilityZone"),
            "private_ip": eni.get("PrivateIpAddress"),
            "private_ips": [
                p["PrivateIpAddress"] for p in eni.get("PrivateIpAddresses") or [] if p.get("PrivateIpAddress")
            ],
            "public_ip": (eni.get("Association") or {}).get("PublicIp"),
            "mac_address": eni.get("MacAddress"),
            "source_dest_check": eni.get("SourceDestCheck"),
            "requester_managed": bool(eni.get("RequesterManaged")),
            "attachment": {
                "instance_id": instance_id,
                "device_index": attachment.get("DeviceIndex"),
                "status": attachment.get("Status"),
            }
            if attachment
            else None,
            "instance_id": instance_id,
            "security_group_ids": sg_ids,
        }
        rels = [
            _rel(ctx, "in_subnet", "subnet", eni.get("SubnetId")),
            _rel(ctx, "in_vpc", "vpc", eni.get("VpcId")),
            _rel(ctx, "attached_to", "instance", instance_id),
            *(_rel(ctx, "uses_security_group", "security-group", sg) for sg in sg_ids),
        ]
        yield _record(ctx, "network-interface", eni["NetworkInterfaceId"], eni, config, rels, tag_key="TagSet")


@collector("aws", "ec2.elastic_ip", service="ec2", regional=True)
def elastic_ips(ctx: CollectContext) -> Iterator[ResourceRecord]:
    # DescribeAddresses has no pagination: one call returns every address of the region.
    for addr in ctx.call("ec2", "describe_addresses").get("Addresses") or []:
        allocation_id = addr.get("AllocationId") or addr.get("PublicIp", "")
        config = {
            "allocation_id": addr.get("AllocationId"),
            "public_ip": addr.get("PublicIp"),
            "private_ip": addr.get("PrivateIpAddress"),
            "association_id": addr.get("AssociationId"),
            "instance_id": addr.get("InstanceId") or None,
            "network_interface_id": addr.get("NetworkInterfaceId"),
            "domain": addr.get("Domain"),
            "associated": bool(addr.get("AssociationId") or addr.get("InstanceId") or addr.get("NetworkInterfaceId")),
            "network_border_group": addr.get("NetworkBorderGroup"),
            "public_ipv4_pool": addr.get("PublicIpv4Pool"),
        }
        rels = [
            _rel(ctx, "attached_to", "instance", addr.get("InstanceId")),
            _rel(ctx, "attached_to", "network-interface", addr.get("NetworkInterfaceId")),
        ]
        record = _record(ctx, "elastic-ip", allocation_id, addr, config, rels)
        record.name = name_from_tags(record.tags, addr.get("PublicIp") or allocation_id)
        yield record
