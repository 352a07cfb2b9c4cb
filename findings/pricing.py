"""The small price table behind cost findings, and the estimators cost rules name.

Source: the public on-demand list prices (USD) of the AWS pricing pages (EBS, EC2 Elastic IP / public
IPv4, VPC NAT gateway, Elastic Load Balancing) and of Azure (Managed Disks, Public IP addresses, App
Service plans, Application Gateway, Azure Firewall), as
published around ``PRICES_AS_OF``. They are ESTIMATES for showing the order of magnitude of waste:
no discounts (Savings Plans, reservations, EDP, free tier), no taxes, no usage-based parts (data
processed by a NAT gateway, LCUs, disk transactions, snapshot change rates). Refresh the figures and
the date together; a region missing from a table uses the ``DEFAULT`` (us-east-1 / East US) price.

An estimator is ``fn(record, index, **params) -> float | None`` (monthly USD, None when the record
lacks what it needs); ``index`` is a ``findings.rules.evaluate.ResourceIndex`` (for related records).
Cost rules name one: ``cost: {estimator: ebs_volume}``. Summing per organization happens later.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

PRICES_AS_OF = "2025-01"
CURRENCY = "USD"
HOURS_PER_MONTH = 730  # the month AWS and Azure price pages use
DEFAULT = "default"

# --- AWS ------------------------------------------------------------------------------------------

# EBS volume storage, USD per GB-month: gp2, gp3, io1, io2, st1, sc1, standard (magnetic).
_EBS_COLUMNS = ("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard")
_EBS_ROWS: dict[str, tuple[float, ...]] = {
    DEFAULT: (0.10, 0.08, 0.125, 0.125, 0.045, 0.015, 0.05),  # us-east-1
    "us-east-1": (0.10, 0.08, 0.125, 0.125, 0.045, 0.015, 0.05),
    "us-east-2": (0.10, 0.08, 0.125, 0.125, 0.045, 0.015, 0.05),
    "us-west-1": (0.12, 0.096, 0.138, 0.138, 0.054, 0.018, 0.08),
    "us-west-2": (0.10, 0.08, 0.125, 0.125, 0.045, 0.015, 0.05),
    "ca-central-1": (0.11, 0.088, 0.138, 0.138, 0.05, 0.0168, 0.055),
    "eu-west-1": (0.11, 0.088, 0.138, 0.138, 0.05, 0.0168, 0.055),
    "eu-west-2": (0.116, 0.0928, 0.145, 0.145, 0.053, 0.0174, 0.058),
    "eu-central-1": (0.119, 0.0952, 0.149, 0.149, 0.054, 0.018, 0.059),
    "ap-south-1": (0.114, 0.0912, 0.131, 0.131, 0.051, 0.0174, 0.08),
    "ap-southeast-1": (0.12, 0.096, 0.138, 0.138, 0.054, 0.018, 0.08),
    "ap-southeast-2": (0.12, 0.096, 0.138, 0.138, 0.054, 0.018, 0.08),
    "ap-northeast-1": (0.12, 0.096, 0.142, 0.142, 0.054, 0.018, 0.08),
    "sa-east-1": (0.19, 0.152, 0.238, 0.238, 0.086, 0.0285, 0.12),
}
EBS_GB_MONTH: dict[str, dict[str, float]] = {
    region: dict(zip(_EBS_COLUMNS, row, strict=True)) for region, row in _EBS_ROWS.items()
}
EBS_VOLUME_TYPES = _EBS_COLUMNS

# Provisioned IOPS (io1/io2, per IOPS-month; io2's first tier) and gp3 performance above its free baseline.
EBS_PIOPS_MONTH: dict[str, float] = {DEFAULT: 0.065, "eu-west-1": 0.072, "eu-central-1": 0.078, "ap-northeast-1": 0.074}
GP3_FREE_IOPS = 3000
GP3_FREE_THROUGHPUT_MBPS = 125
GP3_IOPS_MONTH = 0.005  # per IOPS-month above 3,000
GP3_THROUGHPUT_MONTH = 0.04  # per MB/s-month above 125

# EBS snapshots, per GB-month (standard tier; the archive tier is cheaper and billed in full).
SNAPSHOT_GB_MONTH: dict[str, float] = {
    DEFAULT: 0.05,
    "us-west-1": 0.055,
    "eu-west-2": 0.053,
    "eu-central-1": 0.054,
    "ap-southeast-2": 0.055,
    "ca-central-1": 0.055,
    "sa-east-1": 0.068,
}
SNAPSHOT_ARCHIVE_GB_MONTH = 0.0125

# Every public IPv4 address, attached or idle, since February 2024 (an idle Elastic IP included).
PUBLIC_IPV4_HOUR = 0.005

NAT_GATEWAY_HOUR: dict[str, float] = {
    DEFAULT: 0.045,
    "us-west-1": 0.048,
    "ca-central-1": 0.05,
    "eu-west-1": 0.048,
    "eu-west-2": 0.05,
    "eu-central-1": 0.052,
    "ap-south-1": 0.056,
    "ap-southeast-1": 0.059,
    "ap-southeast-2": 0.059,
    "ap-northeast-1": 0.062,
    "sa-east-1": 0.093,
}

# Elastic Load Balancing per hour (fixed part; LCUs are usage-based and left out).
LOAD_BALANCER_HOUR: dict[str, dict[str, float]] = {
    "application": {
        DEFAULT: 0.0225,
        "us-west-1": 0.0252,
        "ca-central-1": 0.02475,
        "eu-west-1": 0.0252,
        "eu-west-2": 0.0264,
        "eu-central-1": 0.027,
        "ap-south-1": 0.0239,
        "ap-southeast-1": 0.0252,
        "ap-southeast-2": 0.0252,
        "ap-northeast-1": 0.0243,
        "sa-east-1": 0.034,
    },
    "network": {
        DEFAULT: 0.0225,
        "us-west-1": 0.0252,
        "ca-central-1": 0.02475,
        "eu-west-1": 0.0252,
        "eu-west-2": 0.0264,
        "eu-central-1": 0.027,
        "ap-south-1": 0.0239,
        "ap-southeast-1": 0.0252,
        "ap-southeast-2": 0.0252,
        "ap-northeast-1": 0.0243,
        "sa-east-1": 0.034,
    },
    "gateway": {DEFAULT: 0.0125},
}

# The prices below (CloudWatch Logs, DynamoDB, EFS, EKS, WAF, RDS storage) are list prices as remembered
# for ``PRICES_AS_OF``; like the rest, they show an order of magnitude and need checking on the price pages.

# CloudWatch Logs stored (archived) data, per GB-month.
LOG_STORAGE_GB_MONTH: dict[str, float] = {DEFAULT: 0.03, "eu-central-1": 0.0324, "ap-northeast-1": 0.033}

# DynamoDB provisioned capacity, per capacity-unit hour (standard table class), and storage per GB-month.
DYNAMODB_RCU_HOUR: dict[str, float] = {DEFAULT: 0.00013, "eu-west-1": 0.000147, "eu-central-1": 0.0001586}
DYNAMODB_WCU_HOUR: dict[str, float] = {DEFAULT: 0.00065, "eu-west-1": 0.000735, "eu-central-1": 0.000793}
DYNAMODB_STORAGE_GB_MONTH: dict[str, float] = {DEFAULT: 0.25, "eu-west-1": 0.283, "eu-central-1": 0.306}

# EFS storage per GB-month: Standard, and Infrequent Access (regional file systems).
EFS_STANDARD_GB_MONTH: dict[str, float] = {DEFAULT: 0.30, "eu-west-1": 0.33, "eu-central-1": 0.36}
EFS_IA_GB_MONTH: dict[str, float] = {DEFAULT: 0.016, "eu-west-1": 0.018, "eu-central-1": 0.02}

# EKS control plane per cluster-hour: standard support, and a version in extended support.
EKS_STANDARD_HOUR = 0.10
EKS_EXTENDED_HOUR = 0.60

# AWS WAF: per web ACL and per rule (a rule group counts as one rule) each month; requests not counted.
WAF_WEB_ACL_MONTH = 5.0
WAF_RULE_MONTH = 1.0

# RDS storage per GB-month (single-AZ; Multi-AZ bills it twice), by storage type.
RDS_STORAGE_GB_MONTH: dict[str, float] = {"gp2": 0.115, "gp3": 0.115, "io1": 0.125, "io2": 0.125, "standard": 0.10}
GIB = 1024**3

# --- Azure (East US list prices; other regions fall back to them) -----------------------------------

# Managed disks, LRS, USD per month by size tier: (tier, GiB, price). A disk bills as the smallest
# tier that holds it.
AZURE_DISK_TIERS: dict[str, tuple[tuple[str, int, float], ...]] = {
    "Standard_LRS": (
        ("S4", 32, 1.54),
        ("S6", 64, 3.01),
        ("S10", 128, 5.89),
        ("S15", 256, 11.33),
        ("S20", 512, 21.76),
        ("S30", 1024, 40.96),
        ("S40", 2048, 77.83),
        ("S50", 4096, 143.36),
        ("S60", 8192, 262.14),
        ("S70", 16384, 524.29),
        ("S80", 32767, 1048.58),
    ),
    "StandardSSD_LRS": (
        ("E1", 4, 0.30),
        ("E2", 8, 0.60),
        ("E3", 16, 1.20),
        ("E4", 32, 2.40),
        ("E6", 64, 4.80),
        ("E10", 128, 9.60),
        ("E15", 256, 19.20),
        ("E20", 512, 38.40),
        ("E30", 1024, 76.80),
        ("E40", 2048, 153.60),
        ("E50", 4096, 307.20),
        ("E60", 8192, 614.40),
        ("E70", 16384, 1228.80),
        ("E80", 32767, 2457.60),
    ),
    "Premium_LRS": (
        ("P1", 4, 0.77),
        ("P2", 8, 1.54),
        ("P3", 16, 3.08),
        ("P4", 32, 5.28),
        ("P6", 64, 10.21),
        ("P10", 128, 19.71),
        ("P15", 256, 38.02),
        ("P20", 512, 73.22),
        ("P30", 1024, 135.17),
        ("P40", 2048, 259.05),
        ("P50", 4096, 495.57),
        ("P60", 8192, 946.08),
        ("P70", 16384, 1802.06),
        ("P80", 32767, 3604.12),
    ),
}
# Zone-redundant SKUs cost about this much more than their LRS twin.
AZURE_ZRS_FACTOR: dict[str, float] = {"Premium_ZRS": 1.5, "StandardSSD_ZRS": 1.25}
# Disks billed per GiB provisioned (capacity only; provisioned IOPS/throughput above the baseline not counted).
AZURE_DISK_GIB_MONTH: dict[str, float] = {"PremiumV2_LRS": 0.0819, "UltraSSD_LRS": 0.12}

# Public IP addresses per hour (a Basic dynamic address holds no IP while unassociated: free).
AZURE_PUBLIC_IP_HOUR: dict[str, float] = {"Standard": 0.005, "Basic": 0.0036}

# App Service plans per instance-hour, (Linux, Windows), by SKU. Consumption (Y1), Flex (FC1) and Free are
# billed per use or not at all: 0. Elastic Premium (EP*) and Workflow Standard (WS*) are billed per instance
# like the others (vCPU and memory together), the figures being the instance's total.
AZURE_APP_SERVICE_HOUR: dict[str, tuple[float, float]] = {
    "F1": (0.0, 0.0),
    "Y1": (0.0, 0.0),
    "FC1": (0.0, 0.0),
    "D1": (0.013, 0.013),
    "B1": (0.018, 0.075),
    "B2": (0.036, 0.15),
    "B3": (0.071, 0.30),
    "S1": (0.095, 0.10),
    "S2": (0.19, 0.20),
    "S3": (0.38, 0.40),
    "P1v2": (0.111, 0.20),
    "P2v2": (0.222, 0.40),
    "P3v2": (0.444, 0.80),
    "P0v3": (0.077, 0.112),
    "P1v3": (0.155, 0.224),
    "P2v3": (0.31, 0.448),
    "P3v3": (0.62, 0.896),
    "P1mv3": (0.186, 0.269),
    "P2mv3": (0.372, 0.538),
    "I1v2": (0.30, 0.40),
    "I2v2": (0.60, 0.80),
    "I3v2": (1.20, 1.60),
    "EP1": (0.216, 0.216),
    "EP2": (0.432, 0.432),
    "EP3": (0.864, 0.864),
    "WS1": (0.20, 0.20),
    "WS2": (0.40, 0.40),
    "WS3": (0.80, 0.80),
}
# Application Gateway v2: a fixed price per gateway-hour plus capacity units (an instance is 10 units; the
# minimum instance count is reserved and billed). v1: per instance-hour by size.
AZURE_APP_GATEWAY_V2_HOUR: dict[str, tuple[float, float]] = {  # tier -> (fixed, per capacity unit)
    "Standard_v2": (0.246, 0.008),
    "WAF_v2": (0.443, 0.0144),
    "Basic": (0.0225, 0.008),
}
AZURE_APP_GATEWAY_V1_INSTANCE_HOUR: dict[str, float] = {
    "Standard_Small": 0.025,
    "Standard_Medium": 0.07,
    "Standard_Large": 0.32,
    "WAF_Medium": 0.126,
    "WAF_Large": 0.448,
}
# Azure Firewall deployment per hour (data processed is usage-based and not counted).
AZURE_FIREWALL_HOUR: dict[str, float] = {"Basic": 0.395, "Standard": 1.25, "Premium": 1.75}


# --- Lookups --------------------------------------------------------------------------------------


def regional(table: Mapping[str, Any], region: str | None) -> Any:
    """The entry for ``region``, else the default region's."""
    if region and region in table:
        return table[region]
    return table[DEFAULT]


def monthly(hourly: float) -> float:
    return hourly * HOURS_PER_MONTH


def _config(record: Mapping[str, Any]) -> Mapping[str, Any]:
    return record.get("config") or {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def ebs_volume_monthly(
    size_gb: float, volume_type: str, region: str | None, iops: float | None = None, throughput: float | None = None
) -> float:
    prices = regional(EBS_GB_MONTH, region)
    price = prices.get(volume_type, prices["gp2"])
    total = size_gb * price
    if volume_type in ("io1", "io2") and iops:
        total += iops * regional(EBS_PIOPS_MONTH, region)
    elif volume_type == "gp3":
        if iops and iops > GP3_FREE_IOPS:
            total += (iops - GP3_FREE_IOPS) * GP3_IOPS_MONTH
        if throughput and throughput > GP3_FREE_THROUGHPUT_MBPS:
            total += (throughput - GP3_FREE_THROUGHPUT_MBPS) * GP3_THROUGHPUT_MONTH
    return total


def azure_disk_monthly(size_gb: float, sku: str) -> float | None:
    if sku in AZURE_DISK_GIB_MONTH:
        return size_gb * AZURE_DISK_GIB_MONTH[sku]
    factor = AZURE_ZRS_FACTOR.get(sku, 1.0)
    base = sku.replace("_ZRS", "_LRS") if sku in AZURE_ZRS_FACTOR else sku
    tiers = AZURE_DISK_TIERS.get(base)
    if tiers is None:
        return None
    for _tier, gib, price in tiers:
        if size_gb <= gib:
            return price * factor
    # Beyond the largest tier: scale the largest tier's price per GiB.
    _tier, gib, price = tiers[-1]
    return math.ceil(size_gb) * price / gib * factor


# --- Estimators (record, index, **params) -> monthly USD | None -------------------------------------


def ebs_volume(record: Mapping[str, Any], index: Any = None) -> float | None:
    """An EBS volume's storage (+ provisioned IOPS / gp3 performance above the baseline)."""
    cfg = _config(record)
    size = _number(cfg.get("size_gb"))
    if size is None:
        return None
    return ebs_volume_monthly(
        size,
        str(cfg.get("volume_type") or "gp2"),
        record.get("region"),
        _number(cfg.get("iops")),
        _number(cfg.get("throughput")),
    )


def ebs_gp2_to_gp3_savings(record: Mapping[str, Any], index: Any = None) -> float | None:
    """What moving a gp2 volume to gp3 (same size, baseline performance) saves per month."""
    cfg = _config(record)
    size = _number(cfg.get("size_gb"))
    if size is None or cfg.get("volume_type") != "gp2":
        return None
    prices = regional(EBS_GB_MONTH, record.get("region"))
    return size * (prices["gp2"] - prices["gp3"])


def ebs_snapshot(record: Mapping[str, Any], index: Any = None) -> float | None:
    """Upper bound: a snapshot billed at its full size (snapshots are incremental; the first one of
    a volume is full). Uses ``full_snapshot_size_gb`` when the collector provides it."""
    cfg = _config(record)
    size = _number(cfg.get("full_snapshot_size_gb")) or _number(cfg.get("size_gb"))
    if size is None:
        return None
    if cfg.get("storage_tier") == "archive":
        return size * SNAPSHOT_ARCHIVE_GB_MONTH
    return size * regional(SNAPSHOT_GB_MONTH, record.get("region"))


def elastic_ip(record: Mapping[str, Any], index: Any = None) -> float:
    """An Elastic IP (public IPv4) for a month."""
    return monthly(PUBLIC_IPV4_HOUR)


def nat_gateway(record: Mapping[str, Any], index: Any = None) -> float:
    """A NAT gateway's hours (data processing is usage-based and not counted)."""
    return monthly(regional(NAT_GATEWAY_HOUR, record.get("region")))


def load_balancer(record: Mapping[str, Any], index: Any = None) -> float | None:
    """An ALB / NLB / GWLB's hours (LCUs not counted)."""
    table = LOAD_BALANCER_HOUR.get(str(_config(record).get("type") or "application"))
    if table is None:
        return None
    return monthly(regional(table, record.get("region")))


def stopped_instance_volumes(record: Mapping[str, Any], index: Any = None) -> float | None:
    """A stopped instance costs its EBS volumes (found through incoming ``attached_to``)."""
    if index is None:
        return None
    volumes = index.related(record["id"], "attached_to", "in", types=["aws.ec2.volume"])
    costs = [c for c in (ebs_volume(v) for v in volumes) if c is not None]
    return sum(costs) if costs else None


def log_group_storage(record: Mapping[str, Any], index: Any = None) -> float | None:
    """A log group's stored data for a month (what retention would stop from growing)."""
    stored = _number(_config(record).get("stored_bytes"))
    if stored is None:
        return None
    return stored / GIB * regional(LOG_STORAGE_GB_MONTH, record.get("region"))


def dynamodb_provisioned(record: Mapping[str, Any], index: Any = None) -> float | None:
    """A provisioned table's read and write capacity (its indexes' included) and its storage."""
    cfg = _config(record)
    if cfg.get("billing_mode") != "PROVISIONED":
        return None
    units = [cfg, *(cfg.get("global_secondary_indexes") or [])]
    reads = sum(_number(u.get("read_capacity_units")) or 0.0 for u in units)
    writes = sum(_number(u.get("write_capacity_units")) or 0.0 for u in units)
    region = record.get("region")
    hourly = reads * regional(DYNAMODB_RCU_HOUR, region) + writes * regional(DYNAMODB_WCU_HOUR, region)
    storage = (_number(cfg.get("size_bytes")) or 0.0) / GIB * regional(DYNAMODB_STORAGE_GB_MONTH, region)
    return monthly(hourly) + storage


def efs_storage(record: Mapping[str, Any], index: Any = None) -> float | None:
    """An EFS file system's stored data (Standard and Infrequent Access; throughput not counted)."""
    cfg = _config(record)
    total = _number(cfg.get("size_bytes"))
    if total is None:
        return None
    ia = _number(cfg.get("size_bytes_ia")) or 0.0
    standard = _number(cfg.get("size_bytes_standard"))
    standard = total - ia if standard is None else standard
    region = record.get("region")
    return standard / GIB * regional(EFS_STANDARD_GB_MONTH, region) + ia / GIB * regional(EFS_IA_GB_MONTH, region)


def eks_extended_support(record: Mapping[str, Any], index: Any = None) -> float:
    """What an EKS cluster on an extended-support version pays above standard support each month."""
    return monthly(EKS_EXTENDED_HOUR - EKS_STANDARD_HOUR)


def waf_web_acl(record: Mapping[str, Any], index: Any = None) -> float:
    """An AWS WAF web ACL and its rules (requests and paid managed rule groups not counted)."""
    rules = _number(_config(record).get("rule_count")) or 0.0
    return WAF_WEB_ACL_MONTH + rules * WAF_RULE_MONTH


def rds_storage(record: Mapping[str, Any], index: Any = None) -> float | None:
    """The storage a stopped RDS instance keeps paying for (provisioned IOPS and backups not counted)."""
    cfg = _config(record)
    size = _number(cfg.get("allocated_storage_gb"))
    if size is None:
        return None
    price = RDS_STORAGE_GB_MONTH.get(str(cfg.get("storage_type") or "gp2"), RDS_STORAGE_GB_MONTH["gp2"])
    return size * price * (2 if cfg.get("multi_az") else 1)


def azure_managed_disk(record: Mapping[str, Any], index: Any = None) -> float | None:
    """An Azure managed disk by SKU and size tier."""
    cfg = _config(record)
    size = _number(cfg.get("size_gb"))
    sku = cfg.get("sku")
    if size is None or not isinstance(sku, str):
        return None
    return azure_disk_monthly(size, sku)


def azure_public_ip(record: Mapping[str, Any], index: Any = None) -> float | None:
    """An Azure public IP address (static, or any Standard SKU address)."""
    cfg = _config(record)
    sku = str(cfg.get("sku") or "Standard")
    if sku == "Basic" and str(cfg.get("allocation_method") or "").lower() == "dynamic":
        return 0.0
    hourly = AZURE_PUBLIC_IP_HOUR.get(sku)
    return monthly(hourly) if hourly is not None else None


def azure_app_service_plan(record: Mapping[str, Any], index: Any = None) -> float | None:
    """An App Service plan's instances (every instance of the plan is billed, whatever runs on it)."""
    cfg = _config(record)
    prices = AZURE_APP_SERVICE_HOUR.get(str(cfg.get("sku") or ""))
    if prices is None:
        return None
    workers = _number(cfg.get("workers"))
    hourly = prices[0] if cfg.get("os") == "linux" else prices[1]
    return monthly(hourly * max(workers if workers is not None else 1.0, 1.0))


def azure_application_gateway(record: Mapping[str, Any], index: Any = None) -> float | None:
    """An Application Gateway's fixed hours and reserved capacity (v2: the minimum instance count's
    capacity units; v1: every instance). Traffic-driven capacity units are not counted."""
    cfg = _config(record)
    tier, sku = str(cfg.get("tier") or ""), str(cfg.get("sku") or "")
    instances = _number(cfg.get("capacity"))
    if instances is None:
        instances = _number(cfg.get("min_capacity"))
    if tier in AZURE_APP_GATEWAY_V2_HOUR:
        fixed_hour, unit_hour = AZURE_APP_GATEWAY_V2_HOUR[tier]
        return monthly(fixed_hour + (instances or 0.0) * 10 * unit_hour)
    if sku in AZURE_APP_GATEWAY_V1_INSTANCE_HOUR:
        return monthly(AZURE_APP_GATEWAY_V1_INSTANCE_HOUR[sku] * (instances or 2.0))  # v1 defaults to 2
    return None


def azure_firewall(record: Mapping[str, Any], index: Any = None) -> float | None:
    """An Azure Firewall's deployment hours (data processing not counted)."""
    hourly = AZURE_FIREWALL_HOUR.get(str(_config(record).get("sku_tier") or ""))
    return monthly(hourly) if hourly is not None else None


def fixed(record: Mapping[str, Any], index: Any = None, *, monthly_usd: float) -> float:
    """A flat monthly figure the rule states itself (``cost: {estimator: fixed, monthly_usd: 5}``)."""
    return float(monthly_usd)


ESTIMATORS: dict[str, Callable[..., float | None]] = {
    "ebs_volume": ebs_volume,
    "ebs_gp2_to_gp3_savings": ebs_gp2_to_gp3_savings,
    "ebs_snapshot": ebs_snapshot,
    "elastic_ip": elastic_ip,
    "nat_gateway": nat_gateway,
    "load_balancer": load_balancer,
    "stopped_instance_volumes": stopped_instance_volumes,
    "log_group_storage": log_group_storage,
    "dynamodb_provisioned": dynamodb_provisioned,
    "efs_storage": efs_storage,
    "eks_extended_support": eks_extended_support,
    "waf_web_acl": waf_web_acl,
    "rds_storage": rds_storage,
    "azure_managed_disk": azure_managed_disk,
    "azure_public_ip": azure_public_ip,
    "azure_app_service_plan": azure_app_service_plan,
    "azure_application_gateway": azure_application_gateway,
    "azure_firewall": azure_firewall,
    "fixed": fixed,
}
