"""Logins the product must refuse, seen from a real browser: a wrong second factor, a brute force
on one account, and an unknown email that must look exactly like a wrong password."""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.conftest import LOGOUT_BUTTON, submit_login, totp_code
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

MFA_KEY = bytes.fromhex("3132333435363738393031323334353637383930")  # RFC 6238's test key
BAD_CREDENTIALS = "The email address and/or password you specified are not correct."


def _form_error(page) -> str:
    return page.get_by_role("main").get_by_role("alert").inner_text().strip()


def _rate_amount(action: str, scope: str) -> int:
    """The amount of the ``scope`` ("ip" or "key") rate of an allauth rate limit, e.g. 5 in "5/5m/key"."""
    for rate in settings.ACCOUNT_RATE_LIMITS[action].split(","):
        amount, _duration, *rest = rate.strip().split("/")
        if (rest[0] if rest else "ip") == scope:
            return int(amount)
    raise AssertionError(f"no {scope} rate in ACCOUNT_RATE_LIMITS[{action!r}]")


@pytest.fixture
def mfa_user(make_user, transactional_db):
    from accounts.models import TOTPDevice

    user = make_user(email="mfa@example.com", first_name="Mona")
    device = TOTPDevice(user=user, name="Authenticator app", confirmed=True)
    device.set_key(MFA_KEY)
    device.save()
    return user


def test_wrong_totp_code_is_refused_and_stays_on_the_verify_page(page, live_server, mfa_user, shot):
    response = submit_login(page, mfa_user.email, PASSWORD)
    assert response.status == 302  # password accepted: on to the second step
    page.wait_for_url(re.compile(r"/account/mfa/verify/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("two-factor authentication", re.I))
    shot("01-verify")

    now = time.time()
    valid = {totp_code(MFA_KEY, at=now + 30 * k) for k in range(-2, 3)}
    wrong = next(c for c in ("000000", "111111", "123456", "654321") if c not in valid)
    code_field = page.get_by_label(re.compile(r"^\s*Authentication code", re.I))
    code_field.fill(wrong)
    with page.expect_response(lambda r: r.request.method == "POST" and "/account/mfa/verify/" in r.url) as info:
        page.get_by_role("button", name=re.compile(r"^\s*verify\s*$", re.I)).click()
    page.wait_for_load_state()
    assert info.value.status == 200  # re-rendered with an error, not redirected

    assert "/account/mfa/verify/" in page.url
    expect(page.get_by_role("main")).to_contain_text("That code is not valid")
    expect(code_field).to_have_attribute("aria-invalid", "true")
    shot("02-wrong-code")

    # Still half-authenticated: every other page sends the user back to the second step.
    page.goto("/account/security/")
    page.wait_for_url(re.compile(r"/account/mfa/verify/\?next="))
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("two-factor authentication", re.I))

    # The device throttles after a failure (1 s for the first one); after that the right code works.
    time.sleep(1.5)
    page.get_by_label(re.compile(r"^\s*Authentication code", re.I)).fill(totp_code(MFA_KEY))
    page.get_by_role("button", name=re.compile(r"^\s*verify\s*$", re.I)).click()
    page.wait_for_url(re.compile(r"/account/security/$"))
    expect(page.get_by_role("heading", level=1, name="Security")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("MFA code refused")  # the failure is in the audit log


def test_repeated_failed_logins_are_answered_with_429(page, live_server, make_user, shot):
    # Its own address: the per-account limit is keyed by email, in a cache that may be shared (Redis).
    user = make_user(email="locked-out@example.com")
    per_account = _rate_amount("login_failed", "key")  # 5 failures per account per 5 minutes

    # The first failures say "wrong email or password".
    for attempt in range(1, per_account + 1):
        response = submit_login(page, user.email, f"wrong-password-{attempt}")
        assert response.status == 200, attempt
        assert _form_error(page) == BAD_CREDENTIALS, attempt
        assert "/accounts/login/" in page.url
    shot("01-bad-password")

    # Then the account is locked for a while, with the 429 page: even the right password is refused.
    response = submit_login(page, user.email, PASSWORD)
    assert response.status == 429
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many attempts")
    expect(page.get_by_role("main")).to_contain_text("please wait a few minutes and try again")
    expect(page).to_have_title(re.compile("Too many attempts"))
    expect(page.get_by_role("button", name=LOGOUT_BUTTON)).to_have_count(0)
    shot("02-429")

    # Not logged in: a private page still asks for the login.
    page.goto("/account/security/")
    page.wait_for_url(re.compile(r"/accounts/login/"))


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(page, live_server, make_user, shot):
    user = make_user(email="enumeration@example.com")
    wrong_password = submit_login(page, user.email, "not-the-password-1")
    wrong_password_error = _form_error(page)
    shot("01-wrong-password")

    unknown = submit_login(page, "nobody-here@example.com", "not-the-password-1")
    unknown_error = _form_error(page)
    shot("02-unknown-email")

    assert wrong_password_error == BAD_CREDENTIALS
    assert unknown_error == wrong_password_error
    assert unknown.status == wrong_password.status == 200
    assert "/accounts/login/" in page.url
