"""The whole first-day journey in a real browser: sign up, verify the email, log in, turn on
two-factor authentication, log out, and log back in with a TOTP code."""

from __future__ import annotations

import re
import time

import pytest
from django.apps import apps
from django.conf import settings
from django.core import mail
from playwright.sync_api import expect

from accounts.models import User
from tests.browser.conftest import LOGOUT_BUTTON, on_live_server, password_field, submit_login, totp_code

pytestmark = pytest.mark.browser

EMAIL = "grace@example.com"
PASSWORD = "Orbit-lantern-Quartz-57"


def _wait_for_mail(subject_part: str, *, to: str, timeout: float = 5.0):
    """The live server sends mail in its own thread before it answers; poll briefly anyway."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in mail.outbox if subject_part.lower() in m.subject.lower() and to in m.to]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_signup_verify_enroll_totp_and_log_in_with_it(page, live_server, shot):
    # --- sign up ------------------------------------------------------------------------------
    page.goto("/accounts/signup/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("sign up", re.I))
    page.get_by_label(re.compile(r"^\s*Email", re.I)).fill(EMAIL)
    page.get_by_label(re.compile(r"^\s*First name", re.I)).fill("Grace")
    page.get_by_label(re.compile(r"^\s*Last name", re.I)).fill("Hopper")
    page.get_by_label(re.compile(r"^\s*Organization name", re.I)).fill("Hopper Labs")
    password_field(page).fill(PASSWORD)
    page.get_by_label(re.compile(r"^\s*Password \(again\)", re.I)).fill(PASSWORD)
    timezone = page.get_by_label(re.compile(r"^\s*Time\s*zone", re.I))
    has_timezone = timezone.count() > 0
    if has_timezone:
        timezone.select_option("Europe/Paris")
    page.get_by_label("I am 18 years of age or older").check()
    shot("01-signup-filled")
    page.get_by_role("button", name=re.compile(r"^\s*sign up\s*$", re.I)).click()

    # --- "verify your email" -----------------------------------------------------------------
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("verify your email", re.I))
    shot("02-verify-email-sent")
    sent = _wait_for_mail("confirm", to=EMAIL)
    assert sent, f"no confirmation email; outbox: {[m.subject for m in mail.outbox]}"
    match = re.search(r"https?://\S+/accounts/confirm-email/[^\s/]+/", sent[-1].body)
    assert match, sent[-1].body
    # allauth builds the link from the request host, with https (ACCOUNT_DEFAULT_HTTP_PROTOCOL when
    # DEBUG is off); the live server speaks plain http, so keep the path and swap scheme and host.
    assert "example.com" not in match.group(0), "link built from the Site domain, not the request host"
    page.goto(on_live_server(match.group(0), live_server.url))

    # --- confirm (ACCOUNT_CONFIRM_EMAIL_ON_GET is False: a POST button) ------------------------
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("confirm email", re.I))
    expect(page.get_by_role("main")).to_contain_text(EMAIL)
    shot("03-confirm-email")
    page.get_by_role("button", name=re.compile(r"^\s*confirm\s*$", re.I)).click()

    # --- confirmed in the browser that signed up: signed in at once, no second login ------------------
    page.wait_for_url(lambda url: "/accounts/" not in url)
    # The organization made at sign-up, on its dashboard: nothing connected yet, so it says what to do.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hopper Labs")
    expect(page.get_by_test_id("empty-connect")).to_contain_text("Connect your first cloud account")
    shot("04-home-after-first-login")
    user = User.objects.get(email=EMAIL)
    assert (user.first_name, user.last_name) == ("Grace", "Hopper")
    assert user.age_confirmed_at is not None
    if has_timezone:
        assert user.timezone == "Europe/Paris"

    # --- Security → set up two-factor authentication -------------------------------------------
    page.get_by_role("link", name="Security", exact=True).first.click()
    expect(page.get_by_role("heading", level=1, name="Security")).to_be_visible()
    page.get_by_role("link", name=re.compile("set up two-factor authentication", re.I)).click()
    if "/account/confirm/" in page.url:  # sudo mode: the last login may be older than the timeout
        shot("05-reauthenticate")
        password_field(page).fill(PASSWORD)
        page.get_by_role("button", name=re.compile(r"^\s*confirm\s*$", re.I)).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("set up two-factor", re.I))
    expect(page.get_by_role("img", name=re.compile("QR code", re.I))).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", secret), secret
    shot("06-mfa-setup")

    enrolled_at = time.time()
    page.get_by_label(re.compile(r"^\s*Authentication code", re.I)).fill(totp_code(secret, at=enrolled_at))
    page.get_by_role("button", name=re.compile(r"^\s*turn on\s*$", re.I)).click()

    # --- recovery codes, shown once --------------------------------------------------------------
    codes = page.get_by_test_id("recovery-codes")
    expect(codes).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("two-factor authentication is on", re.I))
    code_texts = [t.strip() for t in codes.get_by_role("listitem").all_inner_texts()]
    assert len(code_texts) == settings.MFA_RECOVERY_CODE_COUNT, code_texts
    assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", c) for c in code_texts), code_texts
    shot("07-recovery-codes")
    assert _wait_for_mail("Two-factor authentication enabled", to=EMAIL), [m.subject for m in mail.outbox]

    # --- log out -----------------------------------------------------------------------------------
    page.get_by_role("button", name=LOGOUT_BUTTON).first.click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("button", name=LOGOUT_BUTTON)).to_have_count(0)
    shot("08-logged-out")

    # --- log in again: password, then the second step ---------------------------------------------
    assert submit_login(page, EMAIL, PASSWORD).status == 302
    page.wait_for_url(re.compile(r"/account/mfa/verify/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("two-factor authentication", re.I))
    shot("09-mfa-verify")
    # The enrollment code's time step is spent (replay guard), so use the next step's code: the
    # server accepts ±1 step around its clock, so this code stays good for the next 60 s at least.
    next_step_code = totp_code(secret, at=max(time.time(), enrolled_at) + 30)
    page.get_by_label(re.compile(r"^\s*Authentication code", re.I)).fill(next_step_code)
    page.get_by_role("button", name=re.compile(r"^\s*verify\s*$", re.I)).click()

    # --- home, fully logged in ("/" may forward to the organization's overview) -------------------
    page.wait_for_url(lambda url: "/mfa/verify/" not in url and "/accounts/login/" not in url)
    assert page.url.startswith(live_server.url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hopper Labs")
    expect(page.get_by_role("button", name=LOGOUT_BUTTON).first).to_be_visible()
    if apps.is_installed("orgs"):  # sign-up created the organization from the name given
        expect(page.get_by_text("Hopper Labs").first).to_be_visible()
    shot("10-home-after-mfa")
    # A fully verified session reaches other pages without being sent back to the second step.
    page.get_by_role("link", name="Security", exact=True).first.click()
    expect(page.get_by_role("heading", level=1, name="Security")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(re.compile(r"Two-factor authentication\s*On"))
    expect(page.get_by_role("main")).to_contain_text(f"{len(code_texts)} unused recovery codes left")
