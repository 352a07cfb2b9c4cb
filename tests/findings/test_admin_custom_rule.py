"""The support console opens the list and the change page of every findings model (a custom rule's
connections, a many-to-many to an org-scoped model, used to raise OrgScopeError: a 500)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import TOTPDevice
from findings.models import Baseline, CustomRule, OrgPolicy, RuleStatus
from tests.factories import CloudConnectionFactory, FindingFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    """A superuser with a confirmed authenticator, signed in with the second factor verified (the admin
    may require MFA of staff)."""
    user = UserFactory(is_staff=True, is_superuser=True)
    device = TOTPDevice(user=user, name="Authenticator app", confirmed=True)
    device.set_key(b"0123456789abcdefghij")
    device.save()
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def findings_rows(org):
    """One row of every findings model the admin shows, the custom rule limited to two connections."""
    finding = FindingFactory(resource__connection__org=org, resource__name="web-1")
    conn, other = finding.connection, CloudConnectionFactory(org=org, name="Staging")
    rule = CustomRule.objects.for_org(org).create(
        rule_id="custom.tagged",
        source="id: tagged",
        document={"id": "tagged"},
        title="Everything is tagged",
        severity="low",
        category="governance",
    )
    through = CustomRule.connections.through  # (the related manager itself refuses an unscoped query)
    through.objects.bulk_create([through(customrule=rule, cloudconnection=c) for c in (conn, other)])
    return {
        "finding": finding,
        "customrule": rule,
        "rulestatus": RuleStatus.objects.for_org(org).create(connection=conn, rule_id="r", verdict="pass"),
        "orgpolicy": OrgPolicy.objects.for_org(org).create(name="Tags", kind="required_tags", values=["env"]),
        "baseline": Baseline.objects.for_org(org).create(connection=conn, resource=finding.resource),
    }


def test_every_findings_model_lists_and_opens_in_the_admin(staff_client, findings_rows):
    registered = sorted(m._meta.model_name for m in admin.site._registry if m._meta.app_label == "findings")
    assert registered == sorted(findings_rows), "a findings model in the admin needs a row here"
    for name, row in findings_rows.items():
        listing = staff_client.get(reverse(f"admin:findings_{name}_changelist"))
        assert listing.status_code == 200, name
        change = staff_client.get(reverse(f"admin:findings_{name}_change", args=[row.pk]))
        assert change.status_code == 200, name


def test_a_custom_rules_connections_show_read_only(staff_client, findings_rows):
    rule = findings_rows["customrule"]
    page = staff_client.get(reverse("admin:findings_customrule_change", args=[rule.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Staging" in html and findings_rows["finding"].connection.name in html
    assert 'name="_save"' not in html
    # No secret of a connection reaches the console.
    assert findings_rows["finding"].connection.encrypted_secret not in html
