"""An owner subscribes their organization to the Team plan through the card form (Stripe Elements, as
served by localstripe's stand-in for stripe.js), sees the new plan and its raised limits, then cancels
at the end of the period. localstripe runs for the test on a free loopback port and also delivers its
signed webhooks to the live server."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from billing.models import BillingAccount, ProcessedStripeEvent
from orgs.roles import Role
from tests.billing.helpers import GOOD_CARD, localstripe_server, stripe_settings
from tests.browser.conftest import submit_login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def localstripe(live_server, settings):
    with localstripe_server(webhook_url=f"{live_server.url}/billing/stripe/webhook/") as base:
        stripe_settings(settings, base)
        settings.BILLING_ENFORCE_LIMITS = True
        settings.BILLING_TRIAL_DAYS = 14
        yield base


def test_owner_subscribes_with_a_card_sees_the_new_limits_then_cancels(page, localstripe, shot):
    owner = UserFactory(email="olive@example.com", first_name="Olive")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)

    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto("/o/acme-cloud/")
    page.get_by_role("navigation", name="Main").locator("summary", has_text="Team").click()
    page.get_by_role("link", name="Plan & billing").click()
    expect(page.get_by_test_id("plan-name")).to_have_text("Free")
    expect(page.get_by_test_id("allowed-connections")).to_have_text("1")
    shot("01-free-plan")

    page.get_by_test_id("plan-team").get_by_role("button", name="Choose Team").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscribe to Team")
    card = page.get_by_test_id("card-element")
    card.get_by_placeholder("number").fill(GOOD_CARD)  # 4242 4242 4242 4242
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("75001")
    shot("02-card-form")
    page.get_by_role("button", name="Subscribe").click()

    page.wait_for_url(re.compile(r"/o/acme-cloud/billing/$"))
    expect(page.get_by_role("status")).to_contain_text("Acme Cloud is now on the Team plan.")
    expect(page.get_by_test_id("plan-name")).to_have_text("Team")
    expect(page.get_by_test_id("current-plan")).to_contain_text("Trial")
    expect(page.get_by_test_id("allowed-connections")).to_have_text("10")
    expect(page.get_by_test_id("allowed-members")).to_have_text("15")
    expect(page.get_by_test_id("payment-method")).to_contain_text("ending in 4242")
    shot("03-team-plan")

    page.get_by_role("button", name="Cancel at the end of the period").click()
    expect(page.get_by_role("status")).to_contain_text("cancelled at the end of the period")
    expect(page.get_by_test_id("current-plan")).to_contain_text("Cancels at period end")
    expect(page.get_by_test_id("plan-name")).to_have_text("Team")  # until the period ends
    expect(page.get_by_role("button", name="Keep the Team plan")).to_be_visible()
    shot("04-cancelled-at-period-end")

    account = BillingAccount.objects.for_org(org).get()
    assert account.plan == "team" and account.status == "trialing" and account.cancel_at_period_end
    # localstripe's own signed webhook for the new subscription reached the live server and was applied.
    deadline = time.monotonic() + 10
    while not ProcessedStripeEvent.objects.filter(type="customer.subscription.created").exists():
        assert time.monotonic() < deadline, "localstripe's webhook never arrived"
        time.sleep(0.2)
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
