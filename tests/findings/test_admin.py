"""The support console shows findings and inventory read-only across organizations."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import FindingFactory, synced

pytestmark = pytest.mark.django_db


def test_findings_and_inventory_in_the_admin_read_only(staff_client, org):
    finding = FindingFactory(resource__connection__org=org, resource__name="web-1")
    run = synced(finding.connection, {"aws.ec2.instance": ["eu-west-1"]})
    for name, args in [
        ("admin:findings_finding_changelist", []),
        ("admin:findings_finding_change", [finding.pk]),
        ("admin:findings_rulestatus_changelist", []),
        ("admin:findings_customrule_changelist", []),
        ("admin:findings_orgpolicy_changelist", []),
        ("admin:findings_baseline_changelist", []),
        ("admin:inventory_resource_changelist", []),
        ("admin:inventory_resource_change", [finding.resource.pk]),
        ("admin:inventory_syncrun_change", [run.pk]),
    ]:
        page = staff_client.get(reverse(name, args=args))
        assert page.status_code == 200, name
    listing = staff_client.get(reverse("admin:findings_finding_changelist") + "?q=web-1")
    assert b"web-1" in listing.content
    # Read-only: no save, no add, no delete.
    change = staff_client.get(reverse("admin:findings_finding_change", args=[finding.pk]))
    assert b'name="_save"' not in change.content
    assert staff_client.get(reverse("admin:findings_finding_add")).status_code == 403
    assert (
        staff_client.post(reverse("admin:findings_finding_delete", args=[finding.pk]), {"post": "yes"}).status_code
        == 403
    )
    # The connection's secret never reaches the console.
    assert finding.connection.encrypted_secret.encode() not in change.content
