"""Who controls an organization changes only after a fresh proof of identity (accounts/sudo.py): a
hijacked session cannot make itself permanent. Another org's object is still a 404 and a role that may
not act still a 403, before any prompt."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from orgs.models import Invitation, Membership, Organization
from orgs.roles import Role
from tests.accounts.helpers import confirm_identity, enable_mfa, totp_code
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

RAW = b"0123456789abcdefghij"


def url(name: str, org, **kwargs) -> str:
    return reverse(f"orgs:{name}", kwargs={"org_slug": org.slug, **kwargs})


def role_of(user, org) -> str:
    return Membership.objects.for_org(org).get(user=user).role


def row(user, org) -> Membership:
    return Membership.objects.for_org(org).get(user=user)


def confirm_next(response) -> str:
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    assert location.path == reverse("sudo_confirm"), response["Location"]
    return parse_qs(location.query)["next"][0]


@pytest.fixture
def stale(client, owner, org):
    """The owner's session, logged in long ago: what a stolen cookie gives."""
    client.force_login(owner)
    return client


def test_inviting_an_owner_needs_a_proof_other_roles_do_not(stale, org):
    response = stale.post(url("invite", org), {"email": "mallory@example.com", "role": Role.OWNER})
    assert confirm_next(response) == url("invite", org)
    assert not Invitation.objects.for_org(org).exists()
    assert stale.get(url("invite", org)).status_code == 200  # the form itself is not secret

    response = stale.post(url("invite", org), {"email": "vera@example.com", "role": Role.VIEWER})
    assert response.status_code == 302 and response["Location"] == url("members", org)
    assert Invitation.objects.for_org(org).get().role == Role.VIEWER

    confirm_identity(stale)
    stale.post(url("invite", org), {"email": "co-owner@example.com", "role": Role.OWNER})
    assert Invitation.objects.for_org(org).filter(email="co-owner@example.com", role=Role.OWNER).exists()


def test_making_someone_owner_needs_a_proof(stale, org, member):
    target = row(member, org)
    response = stale.post(url("change_role", org, membership_id=target.pk), {"role": Role.OWNER})
    assert confirm_next(response) == url("members", org)
    assert role_of(member, org) == Role.MEMBER

    confirm_identity(stale)
    stale.post(url("change_role", org, membership_id=target.pk), {"role": Role.OWNER})
    assert role_of(member, org) == Role.OWNER


@pytest.mark.parametrize("member_role", [Role.OWNER])
def test_demoting_an_owner_needs_a_proof(stale, org, member):
    target = row(member, org)
    response = stale.post(url("change_role", org, membership_id=target.pk), {"role": Role.VIEWER})
    assert confirm_next(response) == url("members", org)
    assert role_of(member, org) == Role.OWNER


def test_other_role_changes_need_none(stale, org, member):
    target = row(member, org)
    response = stale.post(url("change_role", org, membership_id=target.pk), {"role": Role.VIEWER})
    assert response.status_code == 302 and response["Location"] == url("members", org)
    assert role_of(member, org) == Role.VIEWER


def test_transferring_ownership_needs_a_proof(stale, org, owner, member):
    target_url = url("transfer_ownership", org, membership_id=row(member, org).pk)
    assert confirm_next(stale.get(target_url)) == target_url
    assert confirm_next(stale.post(target_url)) == target_url
    assert (role_of(owner, org), role_of(member, org)) == (Role.OWNER, Role.MEMBER)


def test_removing_a_member_needs_a_proof(stale, org, member):
    target_url = url("remove_member", org, membership_id=row(member, org).pk)
    assert confirm_next(stale.get(target_url)) == target_url
    assert confirm_next(stale.post(target_url)) == target_url
    assert Membership.objects.for_org(org).filter(user=member).exists()


def test_settings_need_a_proof_so_require_mfa_stays_on(client, owner, org):
    enable_mfa(owner, RAW)
    Organization.objects.filter(pk=org.pk).update(require_mfa=True)
    client.force_login(owner)
    assert client.post(reverse("mfa_verify"), {"code": totp_code(RAW)}).status_code == 302
    assert confirm_next(client.get(url("settings", org))) == url("settings", org)
    response = client.post(url("settings", org), {"name": "Acme Cloud"})  # "require MFA" unticked
    assert confirm_next(response) == url("settings", org)
    org.refresh_from_db()
    assert org.require_mfa


def test_deleting_the_org_needs_a_proof_even_without_a_password(client, org, make_user):
    google_owner = make_user("gina@example.com", password=None)
    MembershipFactory(user=google_owner, org=org, role=Role.OWNER)
    client.force_login(google_owner)
    response = client.post(url("delete", org), {"confirm_name": "Acme Cloud"})
    assert confirm_next(response) == url("delete", org)
    assert Organization.objects.filter(pk=org.pk).exists()


# (view, method): change_role takes only POST.
MEMBER_VIEWS = [
    ("change_role", "post"),
    ("remove_member", "get"),
    ("remove_member", "post"),
    ("transfer_ownership", "get"),
    ("transfer_ownership", "post"),
]


@pytest.mark.parametrize(("name", "method"), MEMBER_VIEWS)
def test_another_orgs_member_is_404_before_any_prompt(client_for, org, member, outsider, name, method):
    attacker = client_for(outsider)  # owns their own organization; no recent proof
    victim_row = row(member, org)
    for slug_org in (org, outsider.org):
        response = getattr(attacker, method)(url(name, slug_org, membership_id=victim_row.pk), {"role": Role.OWNER})
        assert response.status_code == 404, (name, method, slug_org.slug)


@pytest.mark.parametrize("member_role", [Role.ADMIN])
def test_a_role_that_may_not_act_is_403_before_any_prompt(client_for, owner, org, member):
    admin = client_for(member)
    owner_row = row(owner, org)
    assert admin.get(url("transfer_ownership", org, membership_id=owner_row.pk)).status_code == 403
    assert admin.post(url("transfer_ownership", org, membership_id=owner_row.pk)).status_code == 403
    assert admin.get(url("delete", org)).status_code == 403
    assert admin.post(url("delete", org), {"confirm_name": "Acme Cloud"}).status_code == 403


@pytest.mark.parametrize("member_role", [Role.MEMBER])
def test_members_get_403_on_settings_and_removal(client_for, owner, org, member):
    weak = client_for(member)
    assert weak.get(url("settings", org)).status_code == 403
    assert weak.post(url("settings", org), {"name": "X"}).status_code == 403
    assert weak.get(url("remove_member", org, membership_id=row(owner, org).pk)).status_code == 403
