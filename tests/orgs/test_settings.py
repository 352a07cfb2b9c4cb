"""Organization settings: rename, require MFA (enforced on every org page), delete."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from orgs.models import Invitation, Membership, Organization
from orgs.roles import Role
from tests.accounts.helpers import confirm_identity, enable_mfa, totp_code
from tests.factories import InvitationFactory

pytestmark = pytest.mark.django_db

RAW = b"0123456789abcdefghij"


def url(name: str, org, **kwargs) -> str:
    return reverse(f"orgs:{name}", kwargs={"org_slug": org.slug, **kwargs})


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def verified_client(client, user):
    """Logged in with the second factor done (MFA users are half-logged-in until then)."""
    client.force_login(user)
    assert client.post(reverse("mfa_verify"), {"code": totp_code(RAW)}).status_code == 302
    return client


@pytest.mark.parametrize("member_role", [Role.ADMIN])
def test_admin_renames_the_org(client, org, member):
    client.force_login(member)
    confirm_identity(client)  # settings need a fresh proof of identity (accounts/sudo.py)
    page = client.get(url("settings", org))
    assert page.status_code == 200 and b'value="Acme Cloud"' in page.content
    response = client.post(url("settings", org), {"name": "  Acme   Platform "}, follow=True)
    assert "Settings saved." in messages_of(response)
    org.refresh_from_db()
    assert (org.name, org.slug) == ("Acme Platform", "acme-cloud")  # URLs stay stable
    event = AuditEvent.objects.get(action="org_renamed")
    assert (event.org, event.actor, event.target, event.metadata["old_name"]) == (
        org,
        member,
        "Acme Platform",
        "Acme Cloud",
    )
    assert client.post(url("settings", org), {"name": ""}).status_code == 200  # a form error, not a 500


def test_require_mfa_needs_the_admin_to_have_mfa(client, owner, org):
    client.force_login(owner)
    confirm_identity(client)
    response = client.post(url("settings", org), {"name": org.name, "require_mfa": "on"})
    assert response.status_code == 200
    assert b"Turn on two-factor authentication for your own account" in response.content
    org.refresh_from_db()
    assert not org.require_mfa


def test_require_mfa_sends_members_without_it_to_enroll(client, client_for, owner, org, member):
    enable_mfa(owner, RAW)
    owner_client = confirm_identity(verified_client(client, owner))
    response = owner_client.post(url("settings", org), {"name": org.name, "require_mfa": "on"}, follow=True)
    assert "Settings saved." in messages_of(response)
    org.refresh_from_db()
    assert org.require_mfa
    assert AuditEvent.objects.filter(action="org_mfa_required", org=org, actor=owner).exists()

    member_client = client_for(member)
    for page in (org.get_absolute_url(), url("members", org), url("roles", org)):
        response = member_client.get(page)
        assert response.status_code == 302 and response["Location"] == reverse("mfa_setup"), page
    response = member_client.get(org.get_absolute_url(), follow=True)
    assert "Acme Cloud requires two-factor authentication. Set it up to continue to the organization." in (
        messages_of(response)
    )
    # Leaving stays possible; people with MFA are not bothered.
    assert member_client.get(url("leave", org)).status_code == 200
    assert owner_client.get(org.get_absolute_url()).status_code == 200
    # Once enrolled, the member gets in.
    enable_mfa(member, RAW)
    assert verified_client(member_client, member).get(org.get_absolute_url()).status_code == 200

    # Turning it off again is audited as well.
    owner_client.post(url("settings", org), {"name": org.name})
    org.refresh_from_db()
    assert not org.require_mfa
    assert AuditEvent.objects.filter(action="org_mfa_not_required", org=org).exists()


def test_outsiders_are_404_before_any_mfa_redirect(client_for, org, outsider):
    Organization.objects.filter(pk=org.pk).update(require_mfa=True)
    assert client_for(outsider).get(org.get_absolute_url()).status_code == 404


def test_owner_deletes_the_org_after_reauthenticating(client, owner, org, member):
    InvitationFactory(org=org)
    earlier = AuditEvent.objects.create(action="org_renamed", org=org, actor=owner)
    client.force_login(owner)
    response = client.get(url("delete", org))
    assert response.status_code == 302 and response["Location"].startswith(reverse("sudo_confirm"))
    confirm_identity(client)
    response = client.post(url("delete", org), {"confirm_name": "wrong"})
    assert response.status_code == 200 and b"Type the organization" in response.content
    assert Organization.objects.filter(pk=org.pk).exists()
    response = client.post(url("delete", org), {"confirm_name": "Acme Cloud"}, follow=True)
    assert "Acme Cloud and all its data were deleted." in messages_of(response)
    assert not Organization.objects.filter(pk=org.pk).exists()
    assert not Membership.objects.unscoped().filter(org_id=org.pk).exists()
    assert not Invitation.objects.unscoped().filter(org_id=org.pk).exists()
    event = AuditEvent.objects.get(action="org_deleted")
    assert (event.actor, event.target) == (owner, "Acme Cloud")
    # Earlier events of the organization survive, detached from it.
    earlier.refresh_from_db()
    assert earlier.org is None
