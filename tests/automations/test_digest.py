"""The summary's sections against a real sync history: the sync engine scans a fake cloud, the findings
engine evaluates the built-in rules after each scan (the after_sync hook), and the digest of the period
reads what happened: findings opened, resolved and reopened, the waste they add and remove, a partial
scan whose coverage dropped, created and deleted resources. Then the filters, one by one, and the
digest's fixed query count."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from automations.digest import Digest, DigestFilters, build_digest
from findings.models import Finding
from inventory.models import SyncRun
from tests.factories import CloudConnectionFactory
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import VPC, client_error, sync_now

aws, cloud, connection = helpers.aws, helpers.cloud, helpers.connection

VOLUME = "aws.ec2.volume"
UNATTACHED = "aws-ec2-volume-unattached"
UNENCRYPTED = "aws-ec2-volume-unencrypted"
REGION = "eu-west-1"


def volume(cloud, name, *, state="available", size=100, encrypted=True):
    cloud.add(
        VOLUME,
        REGION,
        name,
        config={"volume_id": name, "state": state, "size_gb": size, "volume_type": "gp3", "encrypted": encrypted},
    )


def set_state(cloud, name, **changes):
    record = cloud.find(VOLUME, REGION, name)
    record.config.update(changes)


def finding(org, rule_id, name) -> Finding:
    return Finding.objects.for_org(org).get(rule_id=rule_id, resource_name=name)


@pytest.fixture
def history(cloud, connection):
    """Scan 1 (before the period): volumes a and b unattached. In the period: scan 2 attaches a (resolved),
    adds c (unattached) and d (unencrypted); scan 3 detaches a again (reopened), deletes b (resolved), and
    fails to read the VPCs of one region (partial)."""
    cloud.register("ec2.volume")
    volume(cloud, "vol-a")
    volume(cloud, "vol-b", size=50)
    first = sync_now(connection)
    assert first.status == SyncRun.Status.SUCCEEDED
    start = timezone.now()

    set_state(cloud, "vol-a", state="in-use")
    volume(cloud, "vol-c", size=200)
    volume(cloud, "vol-d", state="in-use", encrypted=False)
    assert sync_now(connection).status == SyncRun.Status.SUCCEEDED

    set_state(cloud, "vol-a", state="available")
    cloud.remove(VOLUME, REGION, "vol-b")
    cloud.fail[(VPC, "us-east-1")] = client_error("AccessDenied", "DescribeVpcs")
    third = sync_now(connection)
    assert third.status == SyncRun.Status.PARTIAL
    return connection.org, start, timezone.now()


def test_sections_from_a_real_sync_history(history, connection):
    org, start, end = history
    a, b, c = (finding(org, UNATTACHED, n) for n in ("vol-a", "vol-b", "vol-c"))
    d = finding(org, UNENCRYPTED, "vol-d")
    assert (a.status, b.status, c.status, d.status) == ("open", "resolved", "open", "open")
    assert a.reopened_count == 1

    digest = build_digest(org, DigestFilters(), start, end)

    assert digest.new_total == 2 and digest.new == {**dict.fromkeys(digest.new, 0), c.severity: 1, d.severity: 1}
    assert digest.resolved_total == 2  # a (attached in scan 2) and b (deleted in scan 3)
    assert digest.regressed_total == 1 and digest.regressed[a.severity] == 1
    assert {line.id for line in digest.top} == {a.pk, c.pk, d.pk}  # still open, most severe first
    assert digest.top[0].id == d.pk and digest.top[0].severity == "medium"
    assert {line.id: line.change for line in digest.top} == {a.pk: "regressed", c.pk: "new", d.pk: "new"}
    assert digest.top[0].url.endswith(f"/o/{org.slug}/findings/{d.pk}/")
    assert {line.id for line in digest.top_resolved} == {b.pk}  # a is open again

    # Waste: c adds its estimate, b's goes away, a was open at the start and is open at the end.
    assert c.monthly_usd and b.monthly_usd and a.monthly_usd
    assert digest.waste_added == c.monthly_usd
    assert digest.waste_removed == b.monthly_usd
    assert digest.waste_delta == c.monthly_usd - b.monthly_usd
    assert digest.waste_now == a.monthly_usd + c.monthly_usd

    # Scans: two in the period, the last one partial; its coverage fell below the scan before the period.
    assert digest.scans_total == 2 and digest.scans_failed_total == 1
    assert digest.scans_failed[0].status == "partial" and digest.scans_failed[0].connection == connection.name
    assert "could not be collected" in digest.scans_failed[0].message
    [drop] = digest.coverage_drops
    assert drop.before == 100.0 and drop.after < 100.0 and drop.connection == connection.name

    assert (digest.resources_created, digest.resources_deleted, digest.resources_modified) == (2, 1, 2)
    assert not digest.is_empty
    assert digest.headline == "2 new findings, 1 regressed, 2 resolved, 1 scan need attention"

    # The stored snapshot reads back the same.
    again = Digest.from_dict(digest.to_dict())
    assert again.to_dict() == digest.to_dict() and again.waste_delta == digest.waste_delta


def test_nothing_happened_is_an_empty_digest(history):
    org, _start, end = history
    digest = build_digest(org, DigestFilters(), end, timezone.now())
    assert digest.is_empty and digest.headline == "No changes"
    assert digest.open_total == 3  # the state, for context


def test_filters(history, connection):
    org, start, end = history
    other = CloudConnectionFactory(org=org, name="Other")

    only_other = build_digest(org, DigestFilters(connection_ids=(other.pk,)), start, end)
    assert only_other.is_empty and only_other.filters == ["Connections: Other"]

    medium = build_digest(org, DigestFilters(min_severity="medium"), start, end)
    assert (medium.new_total, medium.resolved_total, medium.regressed_total) == (1, 0, 0)
    assert medium.waste_added == medium.waste_removed == Decimal("0")  # the cost findings are low
    assert medium.filters == ["Severity: Medium and above"]

    security = build_digest(org, DigestFilters(categories=("security",)), start, end)
    assert security.new_total == 1 and security.top[0].rule_id == UNENCRYPTED
    assert not security.includes_cost and security.waste_delta == 0

    unattached = build_digest(org, DigestFilters(rule_ids=(UNATTACHED,)), start, end)
    assert (unattached.new_total, unattached.resolved_total, unattached.regressed_total) == (1, 2, 1)
    assert {line.rule_id for line in unattached.top} == {UNATTACHED}

    prod = build_digest(org, DigestFilters(connection_ids=(connection.pk,)), start, end)
    assert prod.new_total == 2 and prod.scans_total == 2  # the scans section follows the filter too


def test_the_digest_runs_a_fixed_number_of_queries(history, django_assert_max_num_queries):
    org, start, end = history
    with django_assert_max_num_queries(9):
        build_digest(org, DigestFilters(min_severity="low", categories=("cost", "security")), start, end)
