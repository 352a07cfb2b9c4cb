"""Invitations: sent by admins, a signed single-use expiring link, accepted with or without an account."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.account.signals import user_signed_up
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from orgs.actions import OrgActionError, do_accept_invitation, do_invite, find_invitation
from orgs.models import Invitation, Membership, hash_token
from orgs.pending import PENDING_INVITATION_SESSION_KEY
from orgs.roles import Role
from tests.accounts.helpers import confirm_identity
from tests.conftest import PASSWORD
from tests.factories import InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^/\s]+(/invitations/[\w-]+/)")


def url(name: str, org, **kwargs) -> str:
    return reverse(f"orgs:{name}", kwargs={"org_slug": org.slug, **kwargs})


def invite(client, org, email="new@example.com", role=Role.MEMBER):
    return client.post(url("invite", org), {"email": email, "role": role})


def link_in(message) -> str:
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def membership(user, org) -> Membership | None:
    return Membership.objects.for_org(org).filter(user=user).first()


# --- sending ------------------------------------------------------------------------------------


@pytest.mark.parametrize("member_role", [Role.ADMIN])
def test_admin_invites_by_email_with_a_signed_expiring_link(client, org, member, settings):
    settings.INVITATION_MAX_AGE_DAYS = 3
    client.force_login(member)
    response = invite(client, org, "New.Person@Example.com", Role.VIEWER)
    assert response.status_code == 302 and response["Location"] == url("members", org)

    invitation = Invitation.objects.for_org(org).get()
    assert (invitation.email, invitation.role, invitation.invited_by) == ("new.person@example.com", "viewer", member)
    assert abs(invitation.expires_at - (timezone.now() + timedelta(days=3))) < timedelta(minutes=1)

    message = mail.outbox[-1]
    assert message.to == ["new.person@example.com"]
    assert "invited you to Acme Cloud" in message.subject
    assert "as Viewer" in message.body and "expires in 3 days" in message.body
    html = {mime: body for body, mime in message.alternatives}["text/html"]
    assert "Acme Cloud" in html and "<html" in html
    path = link_in(message)
    token = path.split("/")[2]
    # Only the hash is stored: the database does not hold working links.
    assert invitation.token_hash == hash_token(token) and token not in invitation.token_hash
    assert len(token) >= 40

    event = AuditEvent.objects.get(action="invitation_sent")
    assert (event.org, event.actor, event.target, event.metadata["role"]) == (org, member, invitation.email, "viewer")


def test_members_page_lists_invitations_for_admins(client, owner, org):
    client.force_login(owner)
    invite(client, org, "pending@example.com")
    page = client.get(url("members", org)).content.decode()
    assert 'data-invitation="pending@example.com"' in page and "Resend" in page and "Revoke" in page


@pytest.mark.parametrize("member_role", [Role.ADMIN])
def test_invite_refusals_are_form_errors(client, owner, org, member):
    client.force_login(member)
    response = invite(client, org, "owner@example.com")
    assert response.status_code == 200 and b"already a member of Acme Cloud" in response.content
    invite(client, org, "twice@example.com")
    response = invite(client, org, "TWICE@example.com")
    assert response.status_code == 200 and b"already has a pending invitation" in response.content
    response = invite(client, org, "boss@example.com", Role.OWNER)  # admins cannot make owners
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    for bad in ({"email": "not-an-email", "role": "member"}, {"email": "", "role": ""}, {}):
        assert client.post(url("invite", org), bad).status_code == 200
    assert Invitation.objects.for_org(org).count() == 1


def test_owner_may_invite_an_owner(client, owner, org):
    client.force_login(owner)
    confirm_identity(client)  # an owner invitation needs a fresh proof of identity (accounts/sudo.py)
    assert invite(client, org, "co-owner@example.com", Role.OWNER).status_code == 302
    assert Invitation.objects.for_org(org).get().role == Role.OWNER


def test_invitation_email_without_a_request_uses_site_url(owner, org, settings):
    settings.SITE_URL = "https://app.cloustral.example"
    do_invite(membership(owner, org), "cli@example.com", Role.MEMBER)
    assert "https://app.cloustral.example/invitations/" in mail.outbox[-1].body


# --- accepting with an account --------------------------------------------------------------------


def test_existing_user_accepts_and_joins_with_the_role(client, client_for, owner, org):
    client_for(owner).post(url("invite", org), {"email": "friend@example.com", "role": Role.ADMIN})
    path = link_in(mail.outbox[-1])
    friend = UserFactory(email="friend@example.com")
    client.force_login(friend)

    page = client.get(path)
    assert page.status_code == 200
    assert b"Join Acme Cloud" in page.content and b"Accept invitation" in page.content
    assert membership(friend, org) is None  # GET changes nothing

    response = client.post(path, follow=True)
    assert response.redirect_chain[-1][0] == org.get_absolute_url()
    assert "Welcome to Acme Cloud. You joined as Admin." in messages_of(response)
    assert membership(friend, org).role == Role.ADMIN
    actions = set(AuditEvent.objects.filter(org=org, actor=friend).values_list("action", flat=True))
    assert {"invitation_accepted", "member_joined"} <= actions
    # Coming back to the link as a member leads to the organization.
    assert client.get(path)["Location"] == org.get_absolute_url()


def test_the_link_works_once(client_for, org):
    invitation = InvitationFactory(org=org, email="one@example.com")
    first, second = UserFactory(email="one@example.com"), UserFactory(email="two@example.com")
    path = reverse("orgs:invitation", kwargs={"token": invitation.token})
    assert client_for(first).post(path).status_code == 302
    response = client_for(second).post(path)
    assert response.status_code == 410
    assert b"This invitation has already been used." in response.content
    assert membership(second, org) is None
    # And at the action level, a racing second accept is refused too.
    with pytest.raises(OrgActionError):
        do_accept_invitation(Invitation.objects.for_org(org).get(), first)


def test_wrong_account_gets_a_clear_message(client, org):
    invitation = InvitationFactory(org=org, email="right@example.com")
    wrong = UserFactory(email="wrong@example.com")
    client.force_login(wrong)
    path = reverse("orgs:invitation", kwargs={"token": invitation.token})
    page = client.get(path)
    assert page.status_code == 200
    assert b"This invitation was sent to right@example.com, but you are logged in as wrong@example.com." in page.content
    assert b"Log out" in page.content
    client.post(path)
    assert membership(wrong, org) is None
    assert find_invitation(invitation.token).is_pending


def test_unverified_address_does_not_accept(client, org):
    invitation = InvitationFactory(org=org, email="unverified@example.com")
    person = UserFactory(email="unverified@example.com", verified_email=False)
    EmailAddress.objects.create(user=person, email=person.email, verified=False, primary=True)
    client.force_login(person)
    client.post(reverse("orgs:invitation", kwargs={"token": invitation.token}))
    assert membership(person, org) is None


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("expired", b"This invitation has expired."),
        ("revoked", b"This invitation was withdrawn by the organization."),
        ("accepted", b"This invitation has already been used."),
    ],
)
def test_closed_links_give_a_clear_page(client, org, state, expected):
    invitation = InvitationFactory(org=org, email="late@example.com")
    now = timezone.now()
    field = {
        "expired": {"expires_at": now - timedelta(seconds=1)},
        "revoked": {"revoked_at": now},
        "accepted": {"accepted_at": now},
    }[state]
    Invitation.objects.for_org(org).filter(pk=invitation.pk).update(**field)
    late = UserFactory(email="late@example.com")
    path = reverse("orgs:invitation", kwargs={"token": invitation.token})
    for c in (Client(), client):
        if c is client:
            c.force_login(late)
        for response in (c.get(path), c.post(path)):
            assert response.status_code == 410
            assert expected in response.content
            assert b"Acme Cloud" in response.content and b"send you a new one" in response.content
    assert membership(late, org) is None


@pytest.mark.parametrize("token", ["nope", "x" * 43, "a" * 500])
def test_unknown_links_are_a_clear_404_page(client, token):
    response = client.get(reverse("orgs:invitation", kwargs={"token": token}))
    assert response.status_code == 404
    assert b"This invitation link is not valid." in response.content


# --- revoke and resend ----------------------------------------------------------------------------


def test_revoke(client, owner, org):
    invitation = InvitationFactory(org=org, email="gone@example.com")
    client.force_login(owner)
    response = client.post(url("revoke_invitation", org, invitation_id=invitation.pk), follow=True)
    assert "The invitation of gone@example.com was revoked; its link no longer works." in messages_of(response)
    assert Client().get(reverse("orgs:invitation", kwargs={"token": invitation.token})).status_code == 410
    assert AuditEvent.objects.filter(action="invitation_revoked", org=org, actor=owner).exists()
    # Twice is a message, not an error; a revoked invitation cannot be resent.
    response = client.post(url("revoke_invitation", org, invitation_id=invitation.pk), follow=True)
    assert "This invitation was already accepted or revoked." in messages_of(response)
    response = client.post(url("resend_invitation", org, invitation_id=invitation.pk), follow=True)
    assert "cannot be resent" in messages_of(response)[0]


def test_resend_sends_a_new_link_and_kills_the_old_one(client, owner, org):
    invitation = InvitationFactory(org=org, email="again@example.com", invited_by=owner)
    Invitation.objects.for_org(org).filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    old_path = reverse("orgs:invitation", kwargs={"token": invitation.token})
    client.force_login(owner)
    response = client.post(url("resend_invitation", org, invitation_id=invitation.pk), follow=True)
    assert "A new invitation link was sent to again@example.com." in messages_of(response)
    invitation.refresh_from_db()
    assert invitation.is_pending and invitation.expires_at > timezone.now() + timedelta(days=6)
    new_path = link_in(mail.outbox[-1])
    assert new_path != old_path
    assert Client().get(old_path).status_code == 404
    assert Client().get(new_path).status_code == 200
    assert AuditEvent.objects.filter(action="invitation_resent", org=org, metadata__target="again@example.com").exists()


# --- accepting without an account: sign up first ----------------------------------------------------

SIGNUP = {
    "first_name": "Nina",
    "password1": "a-long-enough-passphrase-1",
    "password2": "a-long-enough-passphrase-1",
    "timezone": "UTC",
    "confirm_age": "on",
}


def _confirm_and_log_in(client, email: str):
    confirm = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    client.post(confirm)
    return client.post(reverse("account_login"), {"login": email, "password": SIGNUP["password1"]})


def test_new_person_signs_up_through_the_link_and_lands_in_the_org(client, client_for, owner, org):
    client_for(owner).post(url("invite", org), {"email": "nina@example.com", "role": Role.VIEWER})
    path = link_in(mail.outbox[-1])

    page = client.get(path)
    assert page.status_code == 200 and b"Create your account" in page.content
    assert client.session[PENDING_INVITATION_SESSION_KEY]
    signup_url = re.search(r'href="(/accounts/signup/\?email=[^"]+)"', page.content.decode()).group(1)

    form = client.get(signup_url.replace("&amp;", "&")).content.decode()
    assert 'value="nina@example.com"' in form  # prefilled
    assert "Your own organization (optional)" in form and "You are joining Acme Cloud" in form

    mail.outbox.clear()
    response = client.post(reverse("account_signup"), {**SIGNUP, "email": "nina@example.com", "organization_name": ""})
    assert response.status_code == 302
    nina = User.objects.get(email="nina@example.com")
    # The link reached the invited address: no second proof is asked for; signed in and joined at once.
    assert not [m for m in mail.outbox if "confirm" in m.subject.lower()]
    assert membership(nina, org).role == Role.VIEWER
    assert client.get(response["Location"])["Location"] == org.get_absolute_url()
    page = client.get(org.get_absolute_url()).content.decode()
    assert 'data-testid="my-role">Viewer<' in page
    assert PENDING_INVITATION_SESSION_KEY not in client.session
    assert Membership.objects.for_user(nina).count() == 1


def test_signing_up_through_an_invitation_may_also_create_an_own_org(client, org):
    invitation = InvitationFactory(org=org, email="both@example.com", role=Role.ADMIN)
    client.get(reverse("orgs:invitation", kwargs={"token": invitation.token}))
    # The invited address needs no verification (the link proved it): signed in at once.
    data = {**SIGNUP, "email": "both@example.com", "organization_name": "Mine"}
    response = client.post(reverse("account_signup"), data)
    both = User.objects.get(email="both@example.com")
    names = set(Membership.objects.for_user(both).values_list("org__name", "role"))
    assert names == {("Mine", "owner"), ("Acme Cloud", "admin")}
    # The invited organization was joined last: that is where they land.
    assert client.get(response["Location"])["Location"] == org.get_absolute_url()


def test_without_an_invitation_the_org_name_stays_required(client):
    response = client.post(reverse("account_signup"), {**SIGNUP, "email": "solo@example.com", "organization_name": ""})
    assert response.status_code == 200 and b"Enter your organization" in response.content


def test_existing_user_logging_in_from_the_link_joins(client, org):
    invitation = InvitationFactory(org=org, email="back@example.com", role=Role.MEMBER)
    back = UserFactory(email="back@example.com")
    page = client.get(reverse("orgs:invitation", kwargs={"token": invitation.token})).content.decode()
    login_url = re.search(r'href="(/accounts/login/\?next=[^"]+)"', page).group(1)
    response = client.post(login_url, {"login": back.email, "password": PASSWORD})
    assert response.status_code == 302
    assert membership(back, org).role == Role.MEMBER
    assert client.get(response["Location"], follow=True).redirect_chain[-1][0] == org.get_absolute_url()


def test_logging_in_as_someone_else_keeps_the_invitation_for_its_owner(client, org):
    invitation = InvitationFactory(org=org, email="meant@example.com")
    other = UserFactory(email="other@example.com")
    client.get(reverse("orgs:invitation", kwargs={"token": invitation.token}))
    client.post(reverse("account_login"), {"login": other.email, "password": PASSWORD})
    assert membership(other, org) is None
    assert find_invitation(invitation.token).is_pending


def test_signup_with_an_already_verified_address_joins_at_once(org):
    # Google sign-up: the address arrives verified, the signal fires once the user exists.
    InvitationFactory(org=org, email="g@example.com", role=Role.MEMBER)
    person = UserFactory(email="g@example.com")
    user_signed_up.send(sender=User, request=None, user=person)
    assert membership(person, org).role == Role.MEMBER
    assert not Membership.objects.for_user(person).exclude(org=org).exists()


def test_other_orgs_invitation_ids_are_404_for_admins(client, owner, org, outsider):
    theirs = Invitation.objects.for_org(outsider.org).get()
    client.force_login(owner)
    assert client.post(url("revoke_invitation", org, invitation_id=theirs.pk)).status_code == 404
    assert client.post(url("resend_invitation", org, invitation_id=theirs.pk)).status_code == 404
    assert Invitation.objects.for_org(outsider.org).get().is_pending
