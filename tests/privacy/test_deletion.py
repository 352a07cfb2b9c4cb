"""Account deletion: deactivated at once, a grace period with a link that cancels it, a sole owner
refused first, the purge after 30 days, and sign-ups during and after it."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from orgs.models import Membership
from orgs.roles import Role
from privacy import deletion, erasure
from privacy.models import DeletionRequest, Tombstone
from privacy.tasks import purge_due_accounts
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.privacy.conftest import clock_at, days

RESTORE = re.compile(r"https?://[^\s]+(/privacy/restore/[^/\s]+/)")


def _sessions_of(user) -> int:
    return sum(1 for s in Session.objects.all() if s.get_decoded().get(SESSION_KEY) == str(user.pk))


def _request_deletion(client) -> object:
    return client.post(reverse("privacy:delete_account"), {"confirm": "on"})


def test_deletion_deactivates_at_once_and_ends_every_session(client_for, member, org, sudo):
    here, elsewhere = client_for(member), client_for(member)
    assert _sessions_of(member) == 2
    response = _request_deletion(here)
    assert response.status_code == 200 and b"scheduled for deletion" in response.content

    member.refresh_from_db()
    assert not member.is_active
    assert _sessions_of(member) == 0
    # Every session is over: this one and the other browser's.
    for c in (here, elsewhere):
        assert c.get(reverse("profile")).status_code == 302
    # The email explains the grace period and how to cancel.
    [message] = [m for m in mail.outbox if m.to == [member.email]]
    assert "30 days" in message.body and "cancels the deletion" in message.body
    assert RESTORE.search(message.body)
    assert message.alternatives  # an HTML version too
    pending = DeletionRequest.objects.get(user=member)
    assert (pending.purge_after - pending.requested_at).days == 30
    assert AuditEvent.objects.filter(actor=member, action="account_deletion_requested").exists()


def test_a_deactivated_account_cannot_log_in(client, member, org, sudo, client_for):
    _request_deletion(client_for(member))
    response = client.post(reverse("account_login"), {"login": member.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("account_inactive")
    page = client.get(response["Location"])
    assert b"deletion" in page.content and reverse("privacy:restore_request").encode() in page.content
    assert "_auth_user_id" not in client.session


def test_a_google_login_during_the_grace_period_meets_the_inactive_page(rf, member, org, sudo, client_for):
    """Every way in (password or Google) goes through the adapter's pre_login, which refuses an inactive
    account with allauth's inactive page: ours explains the pending deletion."""
    from allauth.account.adapter import get_adapter
    from django.contrib.sessions.backends.db import SessionStore

    _request_deletion(client_for(member))
    member.refresh_from_db()
    request = rf.get("/accounts/google/login/callback/")
    request.session = SessionStore()
    response = get_adapter(request).pre_login(
        request, member, email_verification="none", signal_kwargs=None, email=None, signup=False, redirect_url=None
    )
    assert response.status_code == 302 and response["Location"] == reverse("account_inactive")


def test_members_page_shows_pending_deletion(client_for, owner, member, org, sudo):
    _request_deletion(client_for(member))
    page = client_for(owner).get(reverse("orgs:members", args=[org.slug])).content.decode()
    row = page[page.index(f'data-member="{member.email}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="pending-deletion"' in row and "Pending deletion" in row
    own = page[page.index(f'data-member="{owner.email}"') :]
    assert "pending-deletion" not in own[: own.index("</tr>")]


def test_cancelling_restores_everything(client, client_for, member, org, sudo):
    _request_deletion(client_for(member))
    path = RESTORE.search(mail.outbox[-1].body).group(1)
    # Opening the link changes nothing (mail scanners open links); the button does.
    page = client.get(path)
    assert page.status_code == 200 and b"Cancel the deletion" in page.content
    assert DeletionRequest.objects.filter(user=member).exists()
    done = client.post(path)
    assert done.status_code == 200 and b"restored" in done.content

    member.refresh_from_db()
    assert member.is_active and not DeletionRequest.objects.filter(user=member).exists()
    assert Membership.objects.for_org(org).filter(user=member, role="member").exists()
    assert Client().login(email=member.email, password=PASSWORD)
    assert AuditEvent.objects.filter(actor=member, action="account_deletion_cancelled").exists()
    # The link is spent.
    again = client.post(path)
    assert again.status_code == 410 and b"no deletion to cancel" in again.content.lower()


@pytest.mark.parametrize("bad", ["garbage", "truncated"])
def test_a_damaged_cancel_link_gets_a_clear_page(client, client_for, member, org, sudo, bad):
    _request_deletion(client_for(member))
    path = RESTORE.search(mail.outbox[-1].body).group(1)
    url = "/privacy/restore/not-a-token/" if bad == "garbage" else path[:-6] + "/"
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 404 and b"not valid" in response.content
    assert not User.objects.get(pk=member.pk).is_active


def test_an_expired_cancel_link_gets_a_clear_page(client, member):
    with clock_at(timezone.now() - days(31)):
        pending = DeletionRequest.objects.create(user=member, purge_after=timezone.now() - days(1))
        token = deletion.cancel_token(pending)
    response = client.get(reverse("privacy:restore_account", args=[token]))
    assert response.status_code == 410 and b"expired" in response.content


def test_the_cancel_link_can_be_sent_again(client, client_for, member, org, sudo):
    _request_deletion(client_for(member))
    mail.outbox.clear()
    for email in (member.email, "nobody@example.com"):
        response = client.post(reverse("privacy:restore_request"), {"email": email.upper()}, follow=True)
        assert b"If an account with that address" in response.content  # the same answer either way
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert RESTORE.search(mail.outbox[0].body)


def test_the_cancel_link_resend_is_rate_limited(client, db):
    codes = [client.post(reverse("privacy:restore_request"), {"email": "x@example.com"}).status_code for _ in range(4)]
    assert codes[:3] == [302, 302, 302] and codes[3] == 429


# --- refusals --------------------------------------------------------------------------------------


def test_a_sole_owner_is_refused_and_told_what_to_do(client_for, owner, org, sudo):
    page = client_for(owner).get(reverse("privacy:delete_account"))
    assert b"only owner" in page.content and reverse("orgs:members", args=[org.slug]).encode() in page.content
    response = _request_deletion(client_for(owner))
    assert response.status_code == 400
    assert b"only owner of" in response.content and b"Transfer ownership" in response.content
    owner.refresh_from_db()
    assert owner.is_active and not DeletionRequest.objects.filter(user=owner).exists()


def test_a_co_owner_can_leave_but_not_the_last_active_one(client_for, owner, org, sudo):
    co = UserFactory()
    MembershipFactory(user=co, org=org, role=Role.OWNER)
    assert _request_deletion(client_for(co)).status_code == 200
    # The other owner is pending deletion: the remaining one is now the only (active) owner.
    assert deletion.sole_owner_orgs(owner) == [org]
    assert _request_deletion(client_for(owner)).status_code == 400


def test_a_second_deletion_request_gets_a_clear_answer(member, org, rf):
    from django.contrib.sessions.backends.db import SessionStore

    request = rf.post("/")
    request.session = SessionStore()
    request.user = member
    deletion.do_request_deletion(request, member)
    with pytest.raises(deletion.DeletionError, match="already scheduled for deletion on"):
        deletion.do_request_deletion(request, member)
    assert DeletionRequest.objects.filter(user=member).count() == 1


def test_deletion_asks_for_a_fresh_proof(client_for, member, org):
    response = _request_deletion(client_for(member))
    assert response.status_code == 302 and reverse("sudo_confirm") in response["Location"]
    member.refresh_from_db()
    assert member.is_active


def test_deletion_needs_the_box_ticked(client_for, member, org, sudo):
    response = client_for(member).post(reverse("privacy:delete_account"), {})
    assert response.status_code == 400 and b"Tick the box" in response.content
    member.refresh_from_db()
    assert member.is_active


# --- sign-ups, the purge, tombstones ---------------------------------------------------------------


def _signup(client, email: str):
    return client.post(
        reverse("account_signup"),
        {
            "email": email,
            "password1": "a-long-enough-passphrase-42",
            "password2": "a-long-enough-passphrase-42",
            "organization_name": "Fresh Start",
            "timezone": "UTC",
            "confirm_age": "on",
        },
    )


def test_a_signup_during_the_grace_period_is_refused_politely(client, client_for, member, org, sudo):
    _request_deletion(client_for(member))
    mail.outbox.clear()
    response = _signup(client, member.email)
    # The page is the usual "check your email" (it tells nobody whether the address has an account)...
    assert response.status_code == 302 and response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.filter(email=member.email).count() == 1
    # ... and the email explains, with the way to keep the account instead.
    [message] = mail.outbox
    assert message.to == [member.email] and "scheduled for deletion" in message.body
    assert reverse("privacy:restore_request") in message.body


def test_the_beat_task_purges_due_accounts(member, settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["privacy-purge-deleted-accounts"]
    assert schedule["task"] == purge_due_accounts.name
    DeletionRequest.objects.create(user=member, purge_after=timezone.now() - days(1))
    assert purge_due_accounts.delay().get() == 1
    assert not User.objects.filter(pk=member.pk).exists()


def test_the_purge_leaves_only_a_tombstone(client_for, member, org, sudo):
    EmailAddress.objects.create(user=member, email="mel.alt@example.com", verified=True)
    _request_deletion(client_for(member))
    assert purge_due_accounts.delay().get() == 0  # not yet: the grace period runs
    assert deletion.purge_due_accounts(now=timezone.now() + days(29)) == 0
    assert deletion.purge_due_accounts(now=timezone.now() + days(30, 1)) == 1
    assert not User.objects.filter(pk=member.pk).exists()
    assert set(Tombstone.objects.values_list("email", flat=True)) == {"member@example.com", "mel.alt@example.com"}
    # Safe to run twice.
    assert deletion.purge_due_accounts(now=timezone.now() + days(31)) == 0
    assert not Membership.objects.for_org(org).filter(user_id=member.pk).exists()


def test_a_cancelled_deletion_is_not_purged(member):
    pending = DeletionRequest.objects.create(user=member, purge_after=timezone.now() - days(1))
    pending.delete()
    assert erasure.purge_user(member.pk) is None
    assert User.objects.filter(pk=member.pk).exists()


def test_a_signup_after_the_purge_is_allowed_and_recorded(client, member, org):
    DeletionRequest.objects.create(user=member, purge_after=timezone.now())
    erasure.purge_user(member.pk)
    response = _signup(client, "member@example.com")
    assert response.status_code == 302
    new = User.objects.get(email="member@example.com")
    assert new.pk != member.pk
    tombstone = Tombstone.objects.get(email="member@example.com")
    assert tombstone.signed_up_again_at is not None


def test_a_google_account_is_remembered_in_the_tombstone(member):
    from allauth.socialaccount.models import SocialAccount

    SocialAccount.objects.create(user=member, provider="google", uid="109876543210")
    DeletionRequest.objects.create(user=member, purge_after=timezone.now())
    [tombstone] = erasure.purge_user(member.pk)
    assert (tombstone.email, tombstone.google_id) == ("member@example.com", "109876543210")
    assert not SocialAccount.objects.filter(uid="109876543210").exists()


def test_an_org_left_without_an_owner_by_a_race_passes_to_the_next_member(owner, member, org):
    DeletionRequest.objects.create(user=owner, purge_after=timezone.now())  # as if both asked at once
    erasure.purge_user(owner.pk)
    assert Membership.objects.for_org(org).get(user=member).role == Role.OWNER


def test_an_org_with_nobody_left_goes_with_its_only_member(owner):
    from orgs.models import Organization

    lonely = OrganizationFactory(name="Lonely")
    MembershipFactory(user=owner, org=lonely, role=Role.OWNER)
    DeletionRequest.objects.create(user=owner, purge_after=timezone.now())
    erasure.purge_user(owner.pk)
    assert not Organization.objects.filter(pk=lonely.pk).exists()
