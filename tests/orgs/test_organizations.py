"""Organizations: created at sign-up, created by hand, switched between; the home page follows."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import AuditEvent, User
from orgs.actions import OrgActionError, do_create_organization, unique_slug
from orgs.models import Membership, Organization
from orgs.roles import Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "grace@example.com",
    "first_name": "Grace",
    "organization_name": "Navy Cloud",
    "password1": "a-long-enough-passphrase-1",
    "password2": "a-long-enough-passphrase-1",
    "timezone": "UTC",
    "confirm_age": "on",
}


def test_signup_creates_the_named_organization_with_the_user_as_owner(client):
    response = client.post(reverse("account_signup"), SIGNUP)
    assert response.status_code == 302
    user = User.objects.get(email="grace@example.com")
    membership = Membership.objects.for_user(user).select_related("org").get()
    assert membership.role == Role.OWNER
    assert (membership.org.name, membership.org.slug) == ("Navy Cloud", "navy-cloud")
    event = AuditEvent.objects.get(action="org_created")
    assert event.org == membership.org and event.actor == user


def test_signup_slugs_are_unique(client):
    OrganizationFactory(name="Navy Cloud", slug="navy-cloud")
    client.post(reverse("account_signup"), SIGNUP)
    org = Membership.objects.for_user(User.objects.get(email="grace@example.com")).get().org
    assert org.slug == "navy-cloud-2"


def test_unique_slug_handles_odd_names():
    assert unique_slug("Ünïcödé & Co. — GmbH") == "unicode-co-gmbh"
    assert unique_slug("日本") == "org"
    assert len(unique_slug("x" * 200)) <= 40
    OrganizationFactory(name="org", slug="org")
    assert unique_slug("日本") == "org-2"


def test_create_organization_refuses_blank_names(owner):
    with pytest.raises(OrgActionError):
        do_create_organization(owner, "   ")


def test_home_sends_a_user_without_organization_to_create_one(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"Create an organization" in response.content
    assert b"not a member of any organization" in response.content

    response = client.post(reverse("orgs:create"), {"name": "Fresh Start"})
    org = Organization.objects.get(name="Fresh Start")
    assert response.status_code == 302 and response["Location"] == f"/o/{org.slug}/"
    assert Membership.objects.for_org(org).get().user == user
    assert client.get(reverse("home"))["Location"] == f"/o/{org.slug}/"


def test_create_organization_form_errors_are_not_500(client, owner):
    client.force_login(owner)
    response = client.post(reverse("orgs:create"), {"name": "   "})
    assert response.status_code == 200 and b"Enter the organization" in response.content
    response = client.post(reverse("orgs:create"), {"name": "x" * 500})
    assert response.status_code == 200


def test_home_goes_to_the_last_used_organization(client, owner, org):
    second = OrganizationFactory(name="Second Org")
    MembershipFactory(user=owner, org=second, role=Role.VIEWER)
    client.force_login(owner)
    client.get(reverse("dashboard:home", kwargs={"org_slug": second.slug}))
    assert client.get(reverse("home"))["Location"] == f"/o/{second.slug}/"
    client.get(reverse("dashboard:home", kwargs={"org_slug": org.slug}))
    assert client.get(reverse("home"))["Location"] == f"/o/{org.slug}/"


def test_switcher_shows_the_current_org_and_the_others(client, owner, org):
    second = OrganizationFactory(name="Second Org")
    MembershipFactory(user=owner, org=second, role=Role.VIEWER)
    client.force_login(owner)
    page = client.get(reverse("dashboard:home", kwargs={"org_slug": second.slug})).content.decode()
    assert 'data-testid="current-org">Second Org<' in page
    assert f'href="/o/{org.slug}/"' in page  # switch to the other one
    assert 'href="/orgs/new/"' in page
    # On pages outside any organization, the current one is still shown.
    page = client.get(reverse("profile")).content.decode()
    assert 'data-testid="current-org">Second Org<' in page


def test_dashboard_shows_real_information(client, owner, org, member):
    from tests.factories import InvitationFactory

    InvitationFactory(org=org, email="soon@example.com")
    client.force_login(owner)
    page = client.get(reverse("dashboard:home", kwargs={"org_slug": org.slug})).content.decode()
    assert "2 members" in page
    assert 'data-testid="my-role">Owner<' in page
    assert 'data-testid="pending-count">1<' in page

    client.force_login(member)
    page = client.get(reverse("dashboard:home", kwargs={"org_slug": org.slug})).content.decode()
    assert 'data-testid="my-role">Member<' in page
    assert 'data-testid="pending-count"' not in page  # for those who manage invitations
    assert "soon@example.com" not in page  # the list of invitations is on the Members page


def test_seed_demo_creates_the_demo_org_idempotently():
    call_command("seed_demo", stdout=None)
    call_command("seed_demo", stdout=None)
    org = Organization.objects.get(name="Demo Org")
    membership = Membership.objects.for_org(org).select_related("user").get()
    assert membership.user.email == "demo@cloustral.localhost" and membership.role == Role.OWNER
    assert Organization.objects.count() == 1
