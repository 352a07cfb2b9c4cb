"""The members page: roles, removal, ownership, leaving; the last owner stays."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from orgs.models import Membership
from orgs.roles import Role
from tests.accounts.helpers import confirm_identity
from tests.factories import InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def url(name: str, org, **kwargs) -> str:
    return reverse(f"orgs:{name}", kwargs={"org_slug": org.slug, **kwargs})


def membership(user, org) -> Membership:
    return Membership.objects.for_org(org).get(user=user)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_members_page_lists_members_with_roles(client, owner, org, member):
    client.force_login(member)
    page = client.get(url("members", org)).content.decode()
    assert "owner@example.com" in page and "member@example.com" in page
    assert 'data-testid="role">Owner<' in page and 'data-testid="role">Member<' in page
    assert "Send invitation" not in page  # members do not manage invitations
    assert "Change role" not in page


@pytest.mark.parametrize("member_role", [Role.ADMIN])
def test_admin_changes_roles_and_it_applies_on_the_next_request(client, client_for, owner, org, member):
    target = MembershipFactory(org=org, role=Role.MEMBER)
    target_client = client_for(target.user)
    assert target_client.get(url("roles", org)).status_code == 200

    client.force_login(member)
    response = client.post(url("change_role", org, membership_id=target.pk), {"role": Role.VIEWER}, follow=True)
    assert f"{target.user.email} is now Viewer." in messages_of(response)
    target.refresh_from_db()
    assert target.role == Role.VIEWER
    event = AuditEvent.objects.get(action="member_role_changed")
    assert (event.org, event.actor, event.target) == (org, member, target.user.email)
    assert event.metadata["old_role"] == "member" and event.metadata["new_role"] == "viewer"

    # Promoted to admin: the invite page opens on their very next request; demoted: it closes.
    client.post(url("change_role", org, membership_id=target.pk), {"role": Role.ADMIN})
    assert target_client.get(url("invite", org)).status_code == 200
    client.post(url("change_role", org, membership_id=target.pk), {"role": Role.VIEWER})
    assert target_client.get(url("invite", org)).status_code == 403


@pytest.mark.parametrize("member_role", [Role.ADMIN])
def test_admins_cannot_touch_owners_or_make_owners(client, owner, org, member):
    client.force_login(member)
    confirm_identity(client)  # these need a fresh proof (accounts/sudo.py); the refusal is the point here
    owner_row = membership(owner, org)
    response = client.post(url("change_role", org, membership_id=owner_row.pk), {"role": Role.VIEWER}, follow=True)
    assert response.status_code == 200
    assert membership(owner, org).role == Role.OWNER
    target = MembershipFactory(org=org, role=Role.MEMBER)
    response = client.post(url("change_role", org, membership_id=target.pk), {"role": Role.OWNER}, follow=True)
    assert "Choose one of the roles you can give." in messages_of(response)
    target.refresh_from_db()
    assert target.role == Role.MEMBER
    response = client.post(url("remove_member", org, membership_id=owner_row.pk), follow=True)
    assert "Only an owner can remove an owner." in messages_of(response)
    assert Membership.objects.for_org(org).filter(pk=owner_row.pk).exists()


def test_change_role_rejects_bad_input_without_500(client, owner, org, member):
    client.force_login(owner)
    target = membership(member, org)
    for data in ({}, {"role": "emperor"}, {"role": ""}, {"role": ["a", "b"]}):
        response = client.post(url("change_role", org, membership_id=target.pk), data)
        assert response.status_code == 302
    target.refresh_from_db()
    assert target.role == Role.MEMBER
    assert client.post(url("change_role", org, membership_id=999999), {"role": "viewer"}).status_code == 404


def test_last_owner_cannot_be_demoted_or_leave(client, owner, org, member):
    client.force_login(owner)
    confirm_identity(client)  # a fresh proof of identity (accounts/sudo.py)
    mine = membership(owner, org)
    response = client.post(url("change_role", org, membership_id=mine.pk), {"role": Role.ADMIN}, follow=True)
    assert "owner@example.com is the last owner. Make another member an owner first, or transfer ownership." in (
        messages_of(response)
    )
    assert membership(owner, org).role == Role.OWNER

    response = client.post(url("leave", org), follow=True)
    assert any("You are the last owner, so you cannot leave" in m for m in messages_of(response))
    assert Membership.objects.for_org(org).filter(user=owner).exists()

    # With a second owner, the first may step down or leave.
    second = membership(member, org)
    client.post(url("change_role", org, membership_id=second.pk), {"role": Role.OWNER})
    response = client.post(url("change_role", org, membership_id=mine.pk), {"role": Role.ADMIN}, follow=True)
    assert membership(owner, org).role == Role.ADMIN
    response = client.post(url("leave", org))
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert not Membership.objects.for_org(org).filter(user=owner).exists()
    assert AuditEvent.objects.filter(action="member_left", org=org, actor=owner).exists()


def test_owner_removes_a_member_who_then_gets_404(client, client_for, owner, org, member):
    member_client = client_for(member)
    assert member_client.get(org.get_absolute_url()).status_code == 200
    client.force_login(owner)
    confirm_identity(client)  # a fresh proof of identity (accounts/sudo.py)
    target = membership(member, org)
    assert client.get(url("remove_member", org, membership_id=target.pk)).status_code == 200  # confirmation
    response = client.post(url("remove_member", org, membership_id=target.pk), follow=True)
    assert "member@example.com was removed from Acme Cloud." in messages_of(response)
    assert member_client.get(org.get_absolute_url()).status_code == 404
    event = AuditEvent.objects.get(action="member_removed")
    assert (event.org, event.actor, event.target) == (org, owner, "member@example.com")


def test_removing_yourself_is_refused_with_a_pointer_to_leave(client, owner, org, member):
    client.force_login(owner)
    confirm_identity(client)  # a fresh proof of identity (accounts/sudo.py)
    response = client.post(url("remove_member", org, membership_id=membership(owner, org).pk), follow=True)
    assert any("Leave organization" in m for m in messages_of(response))


def test_transfer_ownership(client, owner, org, member):
    client.force_login(owner)
    confirm_identity(client)  # a fresh proof of identity (accounts/sudo.py)
    target = membership(member, org)
    assert (
        b"Transfer ownership to member@example.com?"
        in client.get(url("transfer_ownership", org, membership_id=target.pk)).content
    )
    response = client.post(url("transfer_ownership", org, membership_id=target.pk), follow=True)
    assert "member@example.com now owns Acme Cloud. You are an admin." in messages_of(response)
    assert membership(member, org).role == Role.OWNER
    assert membership(owner, org).role == Role.ADMIN
    event = AuditEvent.objects.get(action="ownership_transferred")
    assert (event.org, event.actor, event.target) == (org, owner, "member@example.com")
    # The former owner is an admin now: ownership pages are closed to them.
    assert client.get(url("transfer_ownership", org, membership_id=target.pk)).status_code == 403


@pytest.mark.parametrize("member_role", [Role.VIEWER])
def test_anyone_can_leave(client, owner, org, member):
    client.force_login(member)
    assert client.get(url("leave", org)).status_code == 200
    response = client.post(url("leave", org), follow=True)
    assert "You left Acme Cloud." in messages_of(response)
    assert client.get(org.get_absolute_url()).status_code == 404


def test_members_page_query_count_does_not_grow_with_members(client, owner, org, django_assert_max_num_queries):
    client.force_login(owner)
    client.get(url("members", org))  # first visit records the current org
    for _ in range(25):
        MembershipFactory(org=org, role=Role.MEMBER)
    for _ in range(10):
        InvitationFactory(org=org, invited_by=owner)
    with django_assert_max_num_queries(9):
        response = client.get(url("members", org))
    assert response.status_code == 200
    assert response.content.decode().count("data-member=") == 26
    assert response.content.decode().count("data-invitation=") == 10


def test_dashboard_query_count(client, owner, org, django_assert_max_num_queries):
    for _ in range(10):
        MembershipFactory(org=org)
        InvitationFactory(org=org, invited_by=owner)
    client.force_login(owner)
    client.get(org.get_absolute_url())
    with django_assert_max_num_queries(11):
        assert client.get(org.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("bad_id", [0, 2**63, 10**30])
def test_out_of_range_ids_are_404_not_500(client, owner, org, bad_id):
    client.force_login(owner)
    assert client.get(url("remove_member", org, membership_id=bad_id)).status_code == 404
    assert client.post(url("revoke_invitation", org, invitation_id=bad_id)).status_code == 404
