"""The price table and the estimators cost rules use."""

from __future__ import annotations

import inspect

import pytest

from findings import pricing
from findings.rules.catalog import builtin_catalog
from findings.rules.evaluate import ResourceIndex, example_index


def volume(size, vtype="gp2", region="us-east-1", **config):
    return {
        "id": 1,
        "resource_type": "aws.ec2.volume",
        "region": region,
        "config": {"size_gb": size, "volume_type": vtype, **config},
    }


def test_the_table_states_its_date_and_source():
    assert pricing.PRICES_AS_OF and pricing.CURRENCY == "USD" and pricing.HOURS_PER_MONTH == 730
    assert "estimate" in (pricing.__doc__ or "").lower() and "list price" in (pricing.__doc__ or "").lower()


@pytest.mark.parametrize("region", sorted(pricing.EBS_GB_MONTH))
def test_every_ebs_region_prices_every_volume_type(region):
    prices = pricing.EBS_GB_MONTH[region]
    assert set(prices) == set(pricing.EBS_VOLUME_TYPES)
    assert all(0 < p < 1 for p in prices.values())
    assert prices["gp3"] < prices["gp2"] and prices["sc1"] < prices["st1"] < prices["gp3"]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (volume(100), 10.0),
        (volume(100, region="eu-west-1"), 11.0),
        (volume(100, region="mars-north-1"), 10.0),  # unknown region: default (us-east-1)
        (volume(100, region="global"), 10.0),
        (volume(100, "gp3"), 8.0),
        (volume(100, "gp3", iops=4000, throughput=250), 8.0 + 1000 * 0.005 + 125 * 0.04),
        (volume(100, "io1", iops=1000), 12.5 + 65.0),
        (volume(100, "io2", region="eu-west-1", iops=1000), 13.8 + 72.0),
        (volume(1000, "sc1"), 15.0),
        (volume(100, "standard"), 5.0),
        (volume(100, "brand-new-type"), 10.0),  # unknown type: priced as gp2
        ({"id": 1, "config": {}}, None),
    ],
)
def test_ebs_volume(record, expected):
    got = pricing.ebs_volume(record)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_gp2_to_gp3_savings():
    assert pricing.ebs_gp2_to_gp3_savings(volume(500)) == pytest.approx(10.0)
    assert pricing.ebs_gp2_to_gp3_savings(volume(500, "gp3")) is None


def test_snapshots():
    snap = {"region": "us-east-1", "config": {"size_gb": 100}}
    assert pricing.ebs_snapshot(snap) == pytest.approx(5.0)
    assert pricing.ebs_snapshot(
        {"region": "eu-central-1", "config": {"size_gb": 100, "full_snapshot_size_gb": 10}}
    ) == pytest.approx(0.54)
    assert pricing.ebs_snapshot(
        {"region": "us-east-1", "config": {"size_gb": 100, "storage_tier": "archive"}}
    ) == pytest.approx(1.25)
    assert pricing.ebs_snapshot({"config": {}}) is None


def test_hourly_resources():
    assert pricing.elastic_ip({"config": {}}) == pytest.approx(3.65)
    assert pricing.nat_gateway({"region": "us-east-1", "config": {}}) == pytest.approx(32.85)
    assert pricing.nat_gateway({"region": "eu-central-1", "config": {}}) == pytest.approx(37.96)
    assert pricing.load_balancer({"region": "us-east-1", "config": {"type": "application"}}) == pytest.approx(16.425)
    assert pricing.load_balancer({"region": "eu-west-1", "config": {"type": "network"}}) == pytest.approx(18.396)
    assert pricing.load_balancer({"region": "eu-west-1", "config": {"type": "gateway"}}) == pytest.approx(9.125)
    assert pricing.load_balancer({"region": "us-east-1", "config": {"type": "classic"}}) is None


def test_stopped_instance_pays_for_its_attached_volumes():
    records = [
        {"id": 1, "resource_type": "aws.ec2.instance", "region": "us-east-1", "config": {"state": "stopped"}},
        {"id": 2, **volume(100)},
        {"id": 3, **volume(50, "gp3")},
        {"id": 4, "resource_type": "aws.ec2.network_interface", "region": "us-east-1", "config": {}},
    ]
    records[1]["id"], records[2]["id"] = 2, 3
    index = ResourceIndex(records, [(2, 1, "attached_to"), (3, 1, "attached_to"), (4, 1, "attached_to")])
    assert pricing.stopped_instance_volumes(index.by_id[1], index) == pytest.approx(14.0)
    assert pricing.stopped_instance_volumes(index.by_id[4], index) is None
    assert pricing.stopped_instance_volumes(index.by_id[1], None) is None


@pytest.mark.parametrize(
    ("size", "sku", "expected"),
    [
        (128, "Premium_LRS", 19.71),
        (100, "Premium_LRS", 19.71),  # billed as the P10 tier
        (129, "Premium_LRS", 38.02),
        (4, "Premium_LRS", 0.77),
        (1024, "StandardSSD_LRS", 76.80),
        (30, "Standard_LRS", 1.54),
        (128, "Premium_ZRS", 19.71 * 1.5),
        (128, "StandardSSD_ZRS", 9.60 * 1.25),
        (1000, "PremiumV2_LRS", 81.9),
        (65536, "Premium_LRS", 3604.12 * 2),  # beyond the largest tier: scaled per GiB
        (128, "Mystery_LRS", None),
    ],
)
def test_azure_managed_disk(size, sku, expected):
    got = pricing.azure_managed_disk({"config": {"size_gb": size, "sku": sku}})
    assert got == (pytest.approx(expected, rel=1e-3) if expected is not None else None)


def test_azure_disk_tiers_are_increasing():
    for tiers in pricing.AZURE_DISK_TIERS.values():
        sizes = [t[1] for t in tiers]
        prices = [t[2] for t in tiers]
        assert sizes == sorted(sizes) and prices == sorted(prices)


def test_azure_public_ip():
    assert pricing.azure_public_ip({"config": {"sku": "Standard", "allocation_method": "Static"}}) == pytest.approx(
        3.65
    )
    assert pricing.azure_public_ip({"config": {"sku": "Basic", "allocation_method": "Static"}}) == pytest.approx(2.628)
    assert pricing.azure_public_ip({"config": {"sku": "Basic", "allocation_method": "Dynamic"}}) == 0.0
    assert pricing.azure_public_ip({"config": {"sku": "Global"}}) is None


def test_fixed():
    assert pricing.fixed({}, None, monthly_usd=12) == 12.0


@pytest.mark.parametrize("name", sorted(pricing.ESTIMATORS))
def test_estimators_take_a_record_and_an_index(name):
    params = inspect.signature(pricing.ESTIMATORS[name]).parameters
    assert list(params)[:2] == ["record", "index"]


COST_RULES = [r for r in builtin_catalog() if r.cost is not None]


@pytest.mark.parametrize("rule", COST_RULES, ids=lambda r: r.id)
def test_cost_rules_price_their_matching_examples(rule):
    for example in rule.examples["match"]:
        index, main = example_index(rule, example)
        usd = rule.cost.estimate(main, index)
        assert usd is not None and usd > 0, (rule.id, example)
