"""Stripe's webhook: signed payloads (the test secret) are applied once, in any order; forged ones are
refused; unknown event types are acknowledged and ignored. Every handler re-reads the subscription
from Stripe (localstripe here) instead of trusting the event's snapshot."""

from __future__ import annotations

import time

import pytest
import stripe
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import AuditEvent
from billing import actions, limits
from billing.models import BillingAccount, ProcessedStripeEvent
from billing.plans import BUSINESS, FREE, TEAM
from tests.billing.helpers import confirm_card, event, signed

pytestmark = pytest.mark.usefixtures("enforce_limits", "stripe_on")
A = AuditEvent.Action
URL = reverse("billing:stripe_webhook")


def req(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


@pytest.fixture
def subscribed(org, owner, stripe_on):
    setup = actions.start_card_setup(req(owner), org)
    confirm_card(stripe_on, setup)
    actions.do_subscribe(req(owner), org, TEAM, "month", setup["id"])
    mail.outbox.clear()
    return BillingAccount.objects.for_org(org).get()


def deliver(client, payload: dict, **kwargs):
    body, header = signed(payload, **kwargs)
    return client.post(URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def stripe_sub(account) -> dict:
    return stripe.Subscription.retrieve(account.stripe_subscription_id).to_dict()


def test_valid_event_reapplies_stripes_state(client, subscribed, django_capture_on_commit_callbacks):
    sub = stripe_sub(subscribed)
    item = sub["items"]["data"][0]["id"]
    stripe.Subscription.modify(sub["id"], items=[{"id": item, "plan": "price_business_monthly"}])
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, event("customer.subscription.updated", stripe_sub(subscribed)))
    assert response.status_code == 200 and response.json()["outcome"] == "processed"
    subscribed.refresh_from_db()
    assert subscribed.plan == BUSINESS and limits.plan_for(subscribed.org).key == BUSINESS
    assert ProcessedStripeEvent.objects.filter(type="customer.subscription.updated").count() == 1
    assert AuditEvent.objects.filter(org=subscribed.org, action=A.BILLING_PLAN_CHANGED).count() == 1
    assert any("Business plan" in m.subject for m in mail.outbox)


@pytest.mark.parametrize(
    "forge",
    [
        {"secret": "whsec_someone_else"},  # signed with another secret
        {"timestamp": int(time.time()) - 3600},  # replayed an hour later (outside the tolerance)
    ],
)
def test_forged_events_are_refused(client, subscribed, forge):
    response = deliver(client, event("customer.subscription.deleted", stripe_sub(subscribed)), **forge)
    assert response.status_code == 400
    assert not ProcessedStripeEvent.objects.exists()
    subscribed.refresh_from_db()
    assert subscribed.plan == TEAM


def test_unsigned_or_garbage_bodies_are_refused(client, subscribed):
    assert client.post(URL, data=b"{}", content_type="application/json").status_code == 400
    body, header = signed({"not": "an event"})
    post = {"content_type": "application/json"}
    assert client.post(URL, data=body, HTTP_STRIPE_SIGNATURE=header, **post).status_code == 400
    assert client.post(URL, data=b"\xff\xfe", HTTP_STRIPE_SIGNATURE="t=1,v1=00", **post).status_code == 400
    assert client.get(URL).status_code == 405


def test_duplicate_delivery_is_applied_once(client, subscribed, django_capture_on_commit_callbacks):
    stripe.Subscription.cancel(subscribed.stripe_subscription_id)
    payload = event("customer.subscription.deleted", stripe_sub(subscribed))
    with django_capture_on_commit_callbacks(execute=True):
        first = deliver(client, payload)
        second = deliver(client, payload)
    assert first.json()["outcome"] == "processed" and second.json()["outcome"] == "duplicate"
    assert second.status_code == 200
    assert ProcessedStripeEvent.objects.filter(event_id=payload["id"]).count() == 1
    assert AuditEvent.objects.filter(org=subscribed.org, action=A.BILLING_PLAN_CHANGED).count() == 1
    assert len([m for m in mail.outbox if "Free plan" in m.subject]) == 1
    assert limits.plan_for(subscribed.org).key == FREE


def test_events_out_of_order_end_in_stripes_current_state(client, subscribed):
    stale_active = stripe_sub(subscribed)  # a snapshot from before the cancellation
    stripe.Subscription.cancel(subscribed.stripe_subscription_id)
    deliver(client, event("customer.subscription.deleted", stripe_sub(subscribed)))
    response = deliver(client, event("customer.subscription.updated", stale_active))  # arrives late
    assert response.json()["outcome"] == "processed"
    subscribed.refresh_from_db()
    assert subscribed.status == "canceled" and limits.plan_for(subscribed.org).key == FREE

    # A payment failure reported after the subscription is fine again does not make it past due.
    late_failure = {"id": "in_late", "object": "invoice", "customer": subscribed.stripe_customer_id}
    deliver(client, event("invoice.payment_failed", late_failure))
    subscribed.refresh_from_db()
    assert not subscribed.is_past_due
    assert not AuditEvent.objects.filter(action=A.BILLING_PAYMENT_FAILED).exists()


def test_unknown_event_types_and_customers_are_acknowledged(client, subscribed):
    dispute = {"id": "dp_1", "customer": subscribed.stripe_customer_id}
    response = deliver(client, event("charge.dispute.created", dispute))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    response = deliver(client, event("invoice.paid", {"id": "in_1", "customer": "cus_nobody"}))
    assert response.status_code == 200 and response.json()["outcome"] == "unknown_customer"
    assert not ProcessedStripeEvent.objects.exists()


def test_stripe_away_answers_503_and_stores_nothing(client, subscribed, settings, stripe_on):
    payload = event("customer.subscription.updated", stripe_sub(subscribed))
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    assert deliver(client, payload).status_code == 503
    assert not ProcessedStripeEvent.objects.exists()
    settings.STRIPE_API_BASE = stripe_on
    assert deliver(client, payload).json()["outcome"] == "processed"  # Stripe's retry


def test_trial_will_end_emails_the_billing_managers(client, subscribed, owner, django_capture_on_commit_callbacks):
    from tests.factories import MembershipFactory, UserFactory

    admin = UserFactory(email="admin@example.com")
    MembershipFactory(org=subscribed.org, user=admin, role="admin")  # may not manage billing: no email
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, event("customer.subscription.trial_will_end", stripe_sub(subscribed)))
    assert response.json()["outcome"] == "processed"
    [email] = [m for m in mail.outbox if "trial ends soon" in m.subject]
    assert email.to == [owner.email]
    assert "Team plan" in email.body and "ends on" in email.body
    assert "<html" in email.alternatives[0][0]


def test_no_webhook_secret_refuses_everything(client, subscribed, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert deliver(client, event("invoice.paid", {"customer": subscribed.stripe_customer_id})).status_code == 400
