"""AWS regions by partition, for the default region list and the region pickers.

A role or key lives in one partition (commercial ``aws``, ``aws-cn``, ``aws-us-gov``) and can only reach
that partition's regions, so a commercial account never scans a China or GovCloud region even when an
API (or a simulator) lists one."""

from __future__ import annotations

PARTITION_LABELS = {"aws": "AWS (commercial)", "aws-cn": "AWS China", "aws-us-gov": "AWS GovCloud (US)"}
# Within the commercial partition, regions are grouped by the part of the world they serve.
AREA_LABELS = {
    "us": "United States",
    "ca": "Canada",
    "mx": "Mexico",
    "sa": "South America",
    "eu": "Europe",
    "il": "Middle East",
    "me": "Middle East",
    "af": "Africa",
    "ap": "Asia Pacific",
}


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-") or region.startswith("us-iso"):
        return "aws-us-gov"
    return "aws"


def partition_of_arn(arn: str) -> str:
    """``arn:aws-cn:...`` → ``aws-cn``; anything that is not an ARN counts as commercial."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] in PARTITION_LABELS else "aws"


def in_partition(regions: list[str], partition: str = "aws") -> list[str]:
    return sorted(r for r in regions if partition_of(r) == partition)


def grouped_choices(regions: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Django choices with option groups: partition first, then area ("AWS (commercial) · Europe")."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for region in sorted(regions, key=lambda r: (list(PARTITION_LABELS).index(partition_of(r)), r)):
        partition = partition_of(region)
        label = PARTITION_LABELS[partition]
        if partition == "aws":
            label += f" · {AREA_LABELS.get(region.split('-')[0], 'Other')}"
        groups.setdefault(label, []).append((region, region))
    return list(groups.items())
