"""Every staff view of an organization's data and every staff change is in the audit log (who, what,
which organization): superusers see it all in the admin, the organization's owners see in their own
audit log that support looked at their organization, and when."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from orgs.models import Membership
from orgs.roles import Role
from tests.factories import CloudConnectionFactory

pytestmark = pytest.mark.django_db
A = AuditEvent.Action


def viewed(actor) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=A.SUPPORT_VIEWED, actor=actor).order_by("id"))


def test_support_views_are_recorded_with_their_organization(support_client, support_user, org):
    connection = CloudConnectionFactory(org=org, name="Prod AWS")
    support_client.get(reverse("admin:support_org", args=[org.pk]))
    support_client.get(reverse("admin:connections_cloudconnection_change", args=[connection.pk]))
    support_client.get(reverse("admin:inventory_syncrun_changelist"), {"q": "prod"})
    support_client.get(reverse("admin:support_search"), {"q": "acme"})
    page, record, listing, search = viewed(support_user)
    assert (page.org, page.target) == (org, "Organization page")
    assert record.org == org and record.target == "Cloud connection “Prod AWS”"
    assert listing.org is None and listing.metadata["search"] == "prod" and listing.target == "Sync runs list"
    assert search.metadata["search"] == "acme"
    assert all(
        e.actor_email == support_user.email and e.metadata["via"] == "support console" for e in viewed(support_user)
    )


def test_pages_that_were_not_shown_are_not_recorded(support_client, support_user, org):
    support_client.get(reverse("admin:support_org", args=[999999]))  # 404
    support_client.get(reverse("admin:index"))  # no customer data
    assert viewed(support_user) == []


def test_owners_see_that_support_looked_at_their_organization(support_client, support_user, client_for, org, owner):
    support_client.get(reverse("admin:support_org", args=[org.pk]))
    log = client_for(owner).get(reverse("orgs:audit_log", args=[org.slug])).content.decode()
    assert "Cloustral support viewed" in log and support_user.email in log and "Organization page" in log


def test_superusers_see_every_staff_event_support_does_not(support_client, support_user, chief_client, org):
    support_client.get(reverse("admin:support_org", args=[org.pk]))
    assert support_client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 403
    log = chief_client.get(reverse("admin:accounts_auditevent_changelist"), {"org__id__exact": org.pk})
    assert log.status_code == 200 and support_user.email in log.content.decode()
    assert "support_viewed" in log.content.decode()


def test_superuser_changes_are_recorded_with_their_organization(chief_client, chief, org, member):
    membership = Membership.objects.for_org(org).get(user=member)
    change = reverse("admin:orgs_membership_change", args=[membership.pk])
    assert chief_client.post(change, {"role": Role.ADMIN}).status_code == 302
    delete = reverse("admin:orgs_membership_delete", args=[membership.pk])
    assert chief_client.post(delete, {"post": "yes"}).status_code == 302
    changed, deleted = AuditEvent.objects.filter(action=A.SUPPORT_CHANGED, actor=chief).order_by("id")
    assert changed.org == org and changed.metadata["page"] == "orgs_membership_change"
    assert deleted.org == org and deleted.metadata["page"] == "orgs_membership_delete"  # named before it went
    chief_client.post(change, {"role": Role.ADMIN})  # the row is gone: nothing changed, nothing recorded
    assert AuditEvent.objects.filter(action=A.SUPPORT_CHANGED).count() == 2


def test_a_list_action_records_the_rows_it_acted_on(chief_client, chief, org, member):
    membership = Membership.objects.for_org(org).get(user=member)
    listing = reverse("admin:orgs_membership_changelist")
    form = {"action": "delete_selected", "_selected_action": [membership.pk]}
    assert chief_client.post(listing, form).status_code == 200  # the confirmation page: nothing done yet
    assert not AuditEvent.objects.filter(action=A.SUPPORT_CHANGED).exists()
    assert chief_client.post(listing, {**form, "post": "yes"}).status_code == 302
    [event] = AuditEvent.objects.filter(action=A.SUPPORT_CHANGED, actor=chief)
    assert event.metadata["list_action"] == "delete_selected" and event.metadata["selected"] == [str(membership.pk)]
    assert not Membership.objects.for_org(org).filter(user=member).exists()
