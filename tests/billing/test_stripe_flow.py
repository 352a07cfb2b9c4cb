"""Subscribing, changing plans, the card and cancellation, against localstripe (a stateful fake Stripe)
through the stripe library: the customer is created lazily, the card is confirmed like stripe.js does
(SetupIntent), the subscription starts with a trial, and every change lands in the audit log."""

from __future__ import annotations

import pytest
import stripe
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import AuditEvent
from billing import actions, limits, stripe_api
from billing.models import BillingAccount
from billing.plans import BUSINESS, FREE, TEAM
from tests.billing.helpers import DECLINED_CARD, confirm_card
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.usefixtures("enforce_limits", "stripe_on")
A = AuditEvent.Action


def req(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


def sudo(user) -> Client:
    c = Client()
    c.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    return c


def subscribe(org, owner, base, plan=TEAM, interval="month"):
    setup = actions.start_card_setup(req(owner), org)
    assert confirm_card(base, setup)["status"] == "succeeded"
    return actions.do_subscribe(req(owner), org, plan, interval, setup["id"])


def actions_logged(org) -> list[str]:
    return list(AuditEvent.objects.filter(org=org, action__startswith="billing_").values_list("action", flat=True))


def test_customer_is_created_lazily_once(org, owner, client):
    client.force_login(owner)
    client.get(reverse("billing:plan", args=[org.slug]))
    assert not BillingAccount.objects.for_org(org).exclude(stripe_customer_id="").exists()
    first = actions.start_card_setup(req(owner), org)
    second = actions.start_card_setup(req(owner), org)
    account = BillingAccount.objects.for_org(org).get()
    assert account.stripe_customer_id.startswith("cus_")
    assert first["id"] != second["id"] and first["client_secret"].startswith(first["id"])
    customer = stripe.Customer.retrieve(account.stripe_customer_id).to_dict()
    assert customer["metadata"]["org_id"] == str(org.pk)


def test_subscribe_with_a_trial_raises_the_limits(org, owner, stripe_on, django_capture_on_commit_callbacks):
    assert limits.plan_for(org).key == FREE
    with django_capture_on_commit_callbacks(execute=True):
        transition = subscribe(org, owner, stripe_on)
    account = BillingAccount.objects.for_org(org).get()
    assert (account.plan, account.status, account.interval) == (TEAM, "trialing", "month")
    assert account.trial_used and account.trial_end is not None and account.current_period_end is not None
    assert transition.old_plan == FREE and transition.new_plan == TEAM
    assert limits.plan_for(org).key == TEAM and limits.allowed(org, "connections") == 10
    assert actions_logged(org) == [A.BILLING_SUBSCRIBED]
    [email] = [m for m in mail.outbox if "Team plan" in m.subject]
    assert email.to == [owner.email] and "from Free to Team" in email.body
    assert email.alternatives and email.alternatives[0][1] == "text/html"
    assert stripe_api.default_payment_method(account.stripe_customer_id)["last4"] == "4242"


def test_plan_page_shows_plan_card_renewal_and_invoices(org, owner, stripe_on):
    subscribe(org, owner, stripe_on)
    actions.do_change_plan(req(owner), org, BUSINESS, "year")  # invoices the yearly period at once
    page = sudo(owner).get(reverse("billing:plan", args=[org.slug])).content.decode()
    assert 'data-testid="plan-name">Business<' in page
    assert "Visa ending in 4242" in page or "visa ending in 4242" in page.lower()
    assert 'data-testid="renewal"' in page
    assert 'data-testid="invoices"' in page and "Paid" in page
    assert "<meter" in page


def test_change_plan_then_cancel_at_period_end_and_undo(org, owner, stripe_on, django_capture_on_commit_callbacks):
    subscribe(org, owner, stripe_on)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_change_plan(req(owner), org, BUSINESS, "month")
    account = BillingAccount.objects.for_org(org).get()
    assert account.plan == BUSINESS and limits.plan_for(org).key == BUSINESS
    assert any("Business plan" in m.subject for m in mail.outbox)
    with pytest.raises(actions.BillingError):
        actions.do_change_plan(req(owner), org, BUSINESS, "month")  # already there

    actions.do_set_cancel_at_period_end(req(owner), org, True)
    account.refresh_from_db()
    assert account.cancel_at_period_end and limits.plan_for(org).key == BUSINESS  # until the period ends
    actions.do_set_cancel_at_period_end(req(owner), org, False)
    account.refresh_from_db()
    assert not account.cancel_at_period_end
    assert sorted(actions_logged(org)) == sorted(
        [A.BILLING_SUBSCRIBED, A.BILLING_PLAN_CHANGED, A.BILLING_CANCEL_SCHEDULED, A.BILLING_CANCEL_UNDONE]
    )


def test_a_declined_card_subscribes_nothing(org, owner, stripe_on):
    setup = actions.start_card_setup(req(owner), org)
    assert confirm_card(stripe_on, setup, DECLINED_CARD)["error"]["code"] == "card_declined"
    with pytest.raises(actions.BillingError):
        actions.do_subscribe(req(owner), org, TEAM, "month", setup["id"])
    account = BillingAccount.objects.for_org(org).get()
    assert account.stripe_subscription_id == "" and limits.plan_for(org).key == FREE
    assert stripe_api.list_subscriptions(account.stripe_customer_id) == []


def test_another_orgs_setup_intent_is_refused(org, owner, stripe_on):
    other = OrganizationFactory(name="Other")
    other_owner = UserFactory()
    MembershipFactory(org=other, user=other_owner, role="owner")
    setup = actions.start_card_setup(req(other_owner), other)
    confirm_card(stripe_on, setup)
    actions.start_card_setup(req(owner), org)
    with pytest.raises(actions.BillingError):
        actions.do_subscribe(req(owner), org, TEAM, "month", setup["id"])


def test_subscribing_twice_and_unknown_plans_are_refused(org, owner, stripe_on, settings):
    subscribe(org, owner, stripe_on)
    with pytest.raises(actions.BillingError):
        subscribe(org, owner, stripe_on, plan=BUSINESS)
    with pytest.raises(actions.BillingError):
        actions.do_change_plan(req(owner), org, FREE, "month")
    settings.BILLING_PRICE_IDS = {}
    with pytest.raises(actions.BillingError):
        actions.do_change_plan(req(owner), org, BUSINESS, "month")


def test_new_card_through_the_views_needs_sudo(org, owner, stripe_on):
    subscribe(org, owner, stripe_on)
    url = reverse("billing:payment_method", args=[org.slug])
    lazy = Client()
    lazy.force_login(owner)
    assert lazy.get(url).status_code == 302 and "/confirm" in lazy.get(url)["Location"]

    c = sudo(owner)
    page = c.get(url)
    assert page.status_code == 200
    csp = page["Content-Security-Policy"]
    assert stripe_on in csp  # stripe.js and its API are allowed on the card page (only)
    secret = page.content.decode().split('data-client-secret="')[1].split('"')[0]
    setup = {"id": secret.split("_secret_")[0], "client_secret": secret}
    confirm_card(stripe_on, setup, "5555555555554444")
    response = c.post(url, {"setup_intent": setup["id"]})
    assert response.status_code == 302
    account = BillingAccount.objects.for_org(org).get()
    assert stripe_api.default_payment_method(account.stripe_customer_id)["last4"] == "4444"
    assert A.BILLING_PAYMENT_METHOD_CHANGED in actions_logged(org)
    assert stripe_on not in c.get(reverse("billing:plan", args=[org.slug])).get("Content-Security-Policy", "")


def test_subscribe_view_end_to_end_and_bad_input(org, owner, stripe_on):
    c = sudo(owner)
    url = reverse("billing:subscribe", args=[org.slug])
    page = c.get(url, {"plan": "business", "interval": "year"}).content.decode()
    assert "Subscribe to Business" in page and 'name="interval" value="year"' in page
    secret = page.split('data-client-secret="')[1].split('"')[0]
    setup = {"id": secret.split("_secret_")[0], "client_secret": secret}
    # Forged or missing ids are a message, never a 500.
    for bad in ({"setup_intent": "nope"}, {"setup_intent": "seti_unknown", "plan": "team", "interval": "month"}, {}):
        response = c.post(url, bad)
        assert response.status_code == 200
    confirm_card(stripe_on, setup)
    response = c.post(url, {"setup_intent": setup["id"], "plan": "business", "interval": "year"})
    assert response.status_code == 302
    assert BillingAccount.objects.for_org(org).get().plan == BUSINESS
    follow = c.get(response["Location"]).content.decode()
    assert "now on the Business plan" in follow


def test_stripe_unreachable_is_a_message_not_a_500(org, owner, stripe_on, settings):
    subscribe(org, owner, stripe_on)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    c = sudo(owner)
    page = c.get(reverse("billing:plan", args=[org.slug]))
    assert page.status_code == 200 and "unavailable right now" in page.content.decode()
    response = c.post(reverse("billing:cancel", args=[org.slug]), follow=True)
    assert response.status_code == 200 and "unavailable right now" in response.content.decode()
    assert not BillingAccount.objects.for_org(org).get().cancel_at_period_end
    response = c.get(reverse("billing:subscribe", args=[org.slug]))
    assert response.status_code == 302


def test_invoices_are_paginated_with_a_cursor(org, owner, stripe_on, settings, monkeypatch):
    import functools

    settings.BILLING_TRIAL_DAYS = 0
    subscribe(org, owner, stripe_on)  # the first month's invoice
    actions.do_change_plan(req(owner), org, TEAM, "year")  # and the year's
    monkeypatch.setattr(stripe_api, "list_invoices", functools.partial(stripe_api.list_invoices, limit=1))
    c = sudo(owner)
    plan_url = reverse("billing:plan", args=[org.slug])
    first = c.get(plan_url).content.decode()
    cursor = first.split('href="?after=')[1].split('"')[0]
    assert cursor.startswith("in_") and "Newest invoices" not in first
    second = c.get(plan_url, {"after": cursor}).content.decode()
    assert "Newest invoices" in second and 'href="?after=' not in second
    assert cursor not in second.split('data-testid="invoices"')[1].split("</table>")[0]
    assert c.get(plan_url, {"after": "'; drop table"}).status_code == 200  # a bad cursor is ignored


def test_customer_portal_when_configured(org, owner, stripe_on, settings, monkeypatch):
    subscribe(org, owner, stripe_on)
    c = sudo(owner)
    plan_url = reverse("billing:plan", args=[org.slug])
    portal = reverse("billing:portal", args=[org.slug])
    assert "Open the billing portal" not in c.get(plan_url).content.decode()
    settings.STRIPE_PORTAL_CONFIGURATION = "bpc_test"
    assert "Open the billing portal" in c.get(plan_url).content.decode()
    # localstripe has no Customer Portal: Stripe's refusal is a message, not a 500.
    response = c.post(portal, follow=True)
    assert response.status_code == 200 and "unavailable right now" in response.content.decode()
    seen = {}

    def fake_portal(customer_id, return_url):
        seen.update(customer=customer_id, back=return_url)
        return "https://billing.stripe.com/p/session/test_123"

    monkeypatch.setattr(stripe_api, "portal_url", fake_portal)
    response = c.post(portal)
    assert response.status_code == 302 and response["Location"] == "https://billing.stripe.com/p/session/test_123"
    assert seen["customer"] == BillingAccount.objects.for_org(org).get().stripe_customer_id
    assert seen["back"].endswith(plan_url)
