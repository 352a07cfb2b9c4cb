"""Re-authentication ("sudo mode", accounts/sudo.py and accounts/reauth.py): who is asked, which proofs
work for whom, how long a proof lasts, and the safety of the way back."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.urls import reverse

from accounts import mfa
from accounts.models import AuditEvent, TOTPDevice
from accounts.reauth import EMAIL_CODE_SESSION_KEY
from accounts.sudo import SESSION_KEY
from tests.accounts.helpers import enable_mfa, login, totp_code
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

RAW = b"0123456789abcdefghij"
SETUP = "/account/mfa/setup/"


def confirm(next_url: str = SETUP) -> str:
    return f"{reverse('sudo_confirm')}?{urlencode({'next': next_url})}"


def is_sent_to_confirm(response, next_url: str = SETUP) -> bool:
    return response.status_code == 302 and response["Location"] == confirm(next_url)


def audited(user, action: str) -> list[dict]:
    return list(AuditEvent.objects.filter(actor=user, action=action).values_list("metadata", flat=True))


@pytest.fixture
def google_user(make_user):
    """Signed up with Google: no usable password, no MFA."""
    return make_user("gina@example.com", password=None)


def verified(client, user):
    """Logged in long ago (no recent proof), second step done if the user has MFA."""
    client.force_login(user)
    if user.has_mfa:
        assert client.post(reverse("mfa_verify"), {"code": totp_code(RAW)}).status_code == 302
    return client


def email_code() -> str:
    return re.search(r"^\s*(\d{6})\s*$", mail.outbox[-1].body, re.M).group(1)


# --- who is asked, and for how long -------------------------------------------------------------


def test_a_login_just_now_counts_as_a_proof(client, user):
    login(client, user.email, PASSWORD)
    assert client.get(SETUP).status_code == 200


def test_an_old_session_is_asked_and_the_password_opens_the_window(client, user):
    client.force_login(user)
    response = client.get(SETUP)
    assert is_sent_to_confirm(response)
    page = client.get(response["Location"]).content.decode()
    assert 'name="password"' in page and "Email me a code" not in page

    response = client.post(confirm(), {"method": "password", "password": "wrong-password"})
    assert response.status_code == 400 and b"That password is not right." in response.content
    assert audited(user, "reauthentication_failed") == [{"method": "password"}]
    assert is_sent_to_confirm(client.get(SETUP))

    response = client.post(confirm(), {"method": "password", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == SETUP
    assert audited(user, "reauthenticated") == [{"method": "password"}]
    assert client.get(SETUP).status_code == 200


def test_the_window_comes_from_the_setting(client, user, settings):
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 60
    client.force_login(user)
    client.post(confirm(), {"method": "password", "password": PASSWORD})
    assert client.get(SETUP).status_code == 200
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "at": session[SESSION_KEY]["at"] - 61}
    session.save()
    assert is_sent_to_confirm(client.get(SETUP))


def test_a_proof_belongs_to_its_user(client, user, make_user):
    client.force_login(user)
    client.post(confirm(), {"method": "password", "password": PASSWORD})
    proof = client.session[SESSION_KEY]
    other = make_user("other@example.com")
    client.force_login(other)  # a login flushes the session; a copied mark of another user counts for nothing
    session = client.session
    session[SESSION_KEY] = proof
    session.save()
    assert is_sent_to_confirm(client.get(SETUP))


@pytest.mark.parametrize(
    "evil", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "home", "/\\evil.example"]
)
def test_next_never_leaves_the_site(client, user, evil):
    client.force_login(user)
    assert 'name="next" value=""' in client.get(confirm(evil)).content.decode()
    response = client.post(confirm(evil), {"method": "password", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(confirm(evil))["Location"] == reverse("home")  # already fresh: straight on, still home


def test_confirm_page_needs_a_login(client):
    response = client.get(confirm())
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_password_guessing_is_rate_limited(client, user):
    client.force_login(user)
    statuses = [client.post(confirm(), {"method": "password", "password": f"guess-{i}"}).status_code for i in range(6)]
    assert statuses == [400] * 5 + [429]
    assert client.post(confirm(), {"method": "password", "password": PASSWORD}).status_code == 429


# --- users without a password -------------------------------------------------------------------


def test_google_user_without_mfa_proves_with_an_emailed_code(client, google_user):
    client.force_login(google_user)
    response = client.get(SETUP)
    assert is_sent_to_confirm(response)  # allauth's check let them straight through
    page = client.get(response["Location"]).content.decode()
    assert "Email me a code" in page and 'name="password"' not in page

    response = client.post(reverse("sudo_email_code"), {"next": SETUP})
    assert response.status_code == 302 and response["Location"] == confirm()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["gina@example.com"]
    code = email_code()
    # The session keeps a keyed hash, never the code.
    assert code not in json.dumps(client.session[EMAIL_CODE_SESSION_KEY])
    assert audited(google_user, "reauthentication_code_sent")

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = client.post(confirm(), {"method": "email_code", "code": wrong})
    assert response.status_code == 400 and b"not valid or has expired" in response.content
    assert audited(google_user, "reauthentication_failed") == [{"method": "email_code"}]

    response = client.post(confirm(), {"method": "email_code", "code": code})
    assert response.status_code == 302 and response["Location"] == SETUP
    assert audited(google_user, "reauthenticated") == [{"method": "email_code"}]
    assert client.get(SETUP).status_code == 200
    assert EMAIL_CODE_SESSION_KEY not in client.session  # used once


def test_email_code_expires(client, google_user):
    client.force_login(google_user)
    client.post(reverse("sudo_email_code"), {"next": SETUP})
    session = client.session
    session[EMAIL_CODE_SESSION_KEY] = {**session[EMAIL_CODE_SESSION_KEY], "expires": 0}
    session.save()
    assert client.post(confirm(), {"method": "email_code", "code": email_code()}).status_code == 400
    assert is_sent_to_confirm(client.get(SETUP))


def test_email_code_dies_after_five_wrong_tries(client, google_user, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "reauthenticate": "100/m/user"}
    client.force_login(google_user)
    client.post(reverse("sudo_email_code"), {"next": SETUP})
    code = email_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert client.post(confirm(), {"method": "email_code", "code": wrong}).status_code == 400
    assert client.post(confirm(), {"method": "email_code", "code": code}).status_code == 400
    assert is_sent_to_confirm(client.get(SETUP))


def test_sending_codes_is_rate_limited(client, google_user):
    client.force_login(google_user)
    statuses = [client.post(reverse("sudo_email_code"), {"next": SETUP}).status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert len(mail.outbox) == 3


def test_only_accounts_without_password_or_mfa_get_email_codes(client, user):
    client.force_login(user)
    client.post(reverse("sudo_email_code"), {"next": SETUP})
    assert mail.outbox == []
    response = client.post(confirm(), {"method": "email_code", "code": "123456"})
    assert response.status_code == 200  # not a proof this account may give: the page again
    assert is_sent_to_confirm(client.get(SETUP))


def test_google_user_with_mfa_proves_with_totp_or_a_recovery_code(client, google_user):
    enable_mfa(google_user, RAW)
    codes = mfa.new_recovery_codes(google_user)
    verified(client, google_user)
    target = reverse("mfa_recovery_codes")
    response = client.get(target)
    assert is_sent_to_confirm(response, target)
    page = client.get(response["Location"]).content.decode()
    assert "authenticator app" in page and 'name="password"' not in page and "Email me a code" not in page

    response = client.post(confirm(target), {"method": "totp", "code": "000000"})
    assert response.status_code == 400
    TOTPDevice.objects.filter(user=google_user).update(throttling_failure_timestamp=None)
    response = client.post(confirm(target), {"method": "totp", "code": totp_code(RAW, offset_steps=1)})
    assert response.status_code == 302 and response["Location"] == target
    assert audited(google_user, "reauthenticated") == [{"method": "totp"}]

    session = client.session
    del session[SESSION_KEY]
    session.save()
    assert is_sent_to_confirm(client.get(target), target)
    response = client.post(confirm(target), {"method": "totp", "code": codes[0]})
    assert response.status_code == 302 and response["Location"] == target
    assert {"method": "recovery_code"} in audited(google_user, "reauthenticated")
    assert audited(google_user, "recovery_code_used")
    assert "recovery code" in mail.outbox[-1].subject.lower()  # the usual alert


def test_password_user_with_mfa_may_use_either(client, user):
    enable_mfa(user, RAW)
    verified(client, user)
    page = client.get(confirm()).content.decode()
    assert 'name="password"' in page and "authenticator app" in page
    response = client.post(confirm(), {"method": "totp", "code": totp_code(RAW, offset_steps=1)})
    assert response.status_code == 302


# --- allauth's own sign-in settings: the same proof, for accounts without a password too ---------


def test_google_user_is_asked_before_setting_a_password(client, google_user):
    verified(client, google_user)
    assert is_sent_to_confirm(client.get("/accounts/password/set/"), "/accounts/password/set/")


@pytest.mark.parametrize("page", ["/accounts/email/", "/accounts/3rdparty/"])
def test_lists_open_but_changes_need_a_proof(client, google_user, page):
    verified(client, google_user)
    assert client.get(page).status_code == 200
    assert is_sent_to_confirm(client.post(page, {"action_remove": "", "email": "gina@example.com"}), page)


def test_adding_an_address_without_a_proof_keeps_nothing(client, google_user):
    from allauth.account.models import EmailAddress

    verified(client, google_user)
    response = client.post("/accounts/email/", {"action_add": "", "email": "attacker@example.net"})
    assert is_sent_to_confirm(response, "/accounts/email/")
    assert not EmailAddress.objects.filter(email="attacker@example.net").exists()
    assert not any("attacker@example.net" in str(s.get_decoded()) for s in _sessions())


def test_connecting_another_google_account_needs_a_proof(client, google_user, settings):
    settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = "client-id", "client-secret"
    verified(client, google_user)
    response = client.post("/accounts/google/login/?process=connect")
    assert is_sent_to_confirm(response, "/accounts/google/login/?process=connect")


def test_after_the_emailed_code_the_address_page_opens_without_a_second_prompt(client, google_user):
    verified(client, google_user)
    client.post(reverse("sudo_email_code"), {"next": "/accounts/email/"})
    response = client.post(confirm("/accounts/email/"), {"method": "email_code", "code": email_code()})
    assert response.status_code == 302 and response["Location"] == "/accounts/email/"
    assert client.get("/accounts/email/").status_code == 200


def test_password_user_confirms_once_for_allauths_email_page(client, user):
    client.force_login(user)
    client.post(confirm("/accounts/email/"), {"method": "password", "password": PASSWORD})
    response = client.post("/accounts/email/", {"action_add": "", "email": "second@example.com"})
    assert response.status_code == 302 and "reauthenticate" not in response["Location"]


def _sessions():
    from django.contrib.sessions.models import Session

    return Session.objects.all()
