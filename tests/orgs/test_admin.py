"""The Django admin on org models: support can look and fix roles; tokens never show."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgs.models import Membership
from orgs.roles import Role
from tests.factories import InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_invitation_admin_never_shows_the_token(staff_client, org):
    client = staff_client
    invitation = InvitationFactory(org=org)
    page = client.get(reverse("admin:orgs_invitation_change", args=[invitation.pk]))
    assert page.status_code == 200
    assert invitation.token.encode() not in page.content and invitation.token_hash.encode() not in page.content
    assert client.get(reverse("admin:orgs_invitation_changelist")).status_code == 200
    assert client.get(reverse("admin:orgs_membership_changelist")).status_code == 200
    assert client.get(reverse("admin:orgs_organization_change", args=[org.pk])).status_code == 200
    MembershipFactory(org=org)
    assert client.get(reverse("admin:orgs_membership_changelist")).status_code == 200


def test_admin_site_works_on_scoped_models(staff_client, owner, org, member):
    client = staff_client
    row = Membership.objects.for_org(org).get(user=member)
    response = client.post(reverse("admin:orgs_membership_change", args=[row.pk]), {"role": "admin"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.role == Role.ADMIN
    assert client.get(reverse("admin:orgs_organization_delete", args=[org.pk])).status_code == 200
    assert client.get(reverse("admin:orgs_membership_changelist") + "?q=member").status_code == 200
