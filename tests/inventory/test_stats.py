"""The cached resource groups follow every change of the inventory: a sync that inserts, a sync that
deletes (a new run), a deleted connection."""

from __future__ import annotations

import pytest

from inventory.models import Resource
from inventory.stats import grouped_counts, inventory_stamp
from tests.factories import CloudConnectionFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db


def total(org) -> int:
    return sum(row[-1] for row in grouped_counts(org))


def test_groups_follow_the_inventory(org):
    conn = CloudConnectionFactory(org=org)
    other = CloudConnectionFactory(org=org)
    a = ResourceFactory(connection=conn)
    ResourceFactory(connection=other, resource_type="aws.ec2.volume")
    assert total(org) == 2
    assert grouped_counts(org) == grouped_counts(org)
    ResourceFactory(connection=conn)
    assert total(org) == 3  # inserted: a new newest id
    Resource.objects.for_org(org).filter(pk=a.pk).delete()
    synced(conn)  # deletions happen in a sync that wrote inventory
    assert total(org) == 2
    other.delete()
    assert total(org) == 1  # the connection's resources went with it
    assert "aws.ec2.volume" not in {row[2] for row in grouped_counts(org)}


def test_stamps_are_per_organization(org, outsider):
    from tests.factories import OrganizationFactory

    mine = ResourceFactory(connection=CloudConnectionFactory(org=org))
    theirs = OrganizationFactory()
    before = inventory_stamp(org)
    ResourceFactory(connection=CloudConnectionFactory(org=theirs))
    assert inventory_stamp(org) == before
    assert [row[-1] for row in grouped_counts(org)] == [1] and mine.pk
