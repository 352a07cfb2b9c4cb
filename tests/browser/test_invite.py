"""An owner invites a new person; the invitee signs up through the emailed link, confirms their
address, logs in and lands in the organization with the role given; as a viewer, the admin pages
answer 403."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from playwright.sync_api import expect

from orgs.models import Membership, Organization
from orgs.roles import Role
from tests.browser.conftest import ARTIFACTS, LOGOUT_BUTTON, on_live_server, password_field, submit_login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.browser

INVITEE = "nina.new@example.com"
INVITEE_PASSWORD = "Lantern-orbit-Cobalt-84"


def _wait_for_mail(subject_part: str, *, to: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in mail.outbox if subject_part.lower() in m.subject.lower() and to in m.to]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_owner_invites_newcomer_who_signs_up_and_lands_as_viewer(page, browser, live_server, shot):
    owner = UserFactory(email="olive@example.com", first_name="Olive")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)

    # --- the owner invites someone as a viewer -------------------------------------------------------
    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.wait_for_url(re.compile(r"/o/acme-cloud/$"))
    expect(page.get_by_test_id("current-org")).to_have_text("Acme Cloud")
    page.get_by_role("navigation", name="Main").locator("summary", has_text="Team").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Members of Acme Cloud")
    page.get_by_label("Email address").fill(INVITEE)
    page.get_by_label(re.compile(r"^\s*Role:?\s*$")).select_option("viewer")
    shot("01-invite-filled")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text(f"Invitation sent to {INVITEE} as Viewer.")
    expect(page.locator(f'[data-invitation="{INVITEE}"]')).to_contain_text("Pending")
    shot("02-invitation-pending")
    page.get_by_role("button", name=LOGOUT_BUTTON).first.click()

    sent = _wait_for_mail("invited you to Acme Cloud", to=INVITEE)
    assert sent, [m.subject for m in mail.outbox]
    link = re.search(r"https?://\S+/invitations/[\w-]+/", sent[-1].body).group(0)

    # --- the invitee, in their own browser, follows the link and signs up --------------------------
    context = browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    invitee = context.new_page()

    def snap(step: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        invitee.screenshot(path=str(ARTIFACTS / f"test_invite-{step}.png"), full_page=True)

    try:
        invitee.goto(on_live_server(link, live_server.url))
        expect(invitee.get_by_role("heading", level=1)).to_have_text("Join Acme Cloud")
        expect(invitee.get_by_role("main")).to_contain_text("as Viewer")
        snap("03-invitation-page")
        invitee.get_by_role("link", name="Create your account").click()

        expect(invitee.get_by_label(re.compile(r"^\s*Email", re.I))).to_have_value(INVITEE)
        expect(invitee.get_by_role("main")).to_contain_text("You are joining Acme Cloud")
        invitee.get_by_label(re.compile(r"^\s*First name", re.I)).fill("Nina")
        password_field(invitee).fill(INVITEE_PASSWORD)
        invitee.get_by_label(re.compile(r"^\s*Password \(again\)", re.I)).fill(INVITEE_PASSWORD)
        invitee.get_by_label("I am 18 years of age or older").check()
        invitee.get_by_role("button", name=re.compile(r"^\s*sign up\s*$", re.I)).click()
        # The invitation link reached this address: no confirmation email, signed in at once.
        assert not _wait_for_mail("confirm", to=INVITEE, timeout=0.5), [m.subject for m in mail.outbox]

        # --- lands in the organization, as a viewer --------------------------------------------------
        invitee.wait_for_url(re.compile(r"/o/acme-cloud/$"))
        expect(invitee.get_by_test_id("current-org")).to_have_text("Acme Cloud")
        expect(invitee.get_by_test_id("my-role")).to_have_text("Viewer")
        snap("04-landed-as-viewer")
        nav = invitee.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Settings", exact=True)).to_have_count(0)
        expect(nav.get_by_role("link", name="Audit log", exact=True)).to_have_count(0)
        membership = Membership.objects.for_org(Organization.objects.get(slug="acme-cloud")).get(user__email=INVITEE)
        assert membership.role == Role.VIEWER
        assert Membership.objects.for_user(membership.user).count() == 1  # no personal organization

        # --- a viewer cannot reach the admin pages --------------------------------------------------------
        for path in ("/o/acme-cloud/settings/", "/o/acme-cloud/audit/", "/o/acme-cloud/members/invite/"):
            response = invitee.goto(path)
            assert response.status == 403, path
            expect(invitee.get_by_role("heading", level=1)).to_have_text("Not allowed")
        snap("05-viewer-refused")
        # The members page is readable, without the invitation tools.
        invitee.goto("/o/acme-cloud/members/")
        expect(invitee.get_by_role("heading", level=1)).to_have_text("Members of Acme Cloud")
        expect(invitee.get_by_role("button", name="Send invitation")).to_have_count(0)
        expect(invitee.locator(f'[data-member="{INVITEE}"]')).to_contain_text("Viewer")

        # --- the link is spent ------------------------------------------------------------------------
        response = invitee.goto(on_live_server(link, live_server.url))
        assert response.status == 200 and invitee.url.endswith("/o/acme-cloud/")  # a member: to the org
    finally:
        context.close()
