"""Dunning, through to the downgrade and back: a failed payment makes the organization past due and
emails its billing managers; after the grace period the daily task moves it to Free limits; paying
restores the plan. Against localstripe: the renewal that fails is a real invoice charged to a card
whose charges fail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from billing import actions, dunning, limits, tasks
from billing.limits import LimitReached, ensure_within
from billing.models import BillingAccount
from billing.plans import FREE, TEAM
from tests.billing.helpers import CHARGE_FAILS_CARD, confirm_card, event, signed
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.usefixtures("enforce_limits", "stripe_on")
A = AuditEvent.Action
URL = reverse("billing:stripe_webhook")


def req(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


def deliver(client, payload):
    body, header = signed(payload)
    return client.post(URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def use_card(base, account, number):
    """Make ``number`` the customer's default card, as a member changing it in Stripe would."""
    setup = stripe.SetupIntent.create(customer=account.stripe_customer_id).to_dict()
    method = confirm_card(base, setup, number)["payment_method"]
    stripe.PaymentMethod.attach(method, customer=account.stripe_customer_id)
    stripe.Customer.modify(account.stripe_customer_id, invoice_settings={"default_payment_method": method})


def fail_a_renewal(account) -> dict:
    """Bill a new period to the failing card. (localstripe invoices a subscription when its billing
    interval changes; Stripe would at the renewal. Either way the invoice's payment fails.)"""
    sub = stripe.Subscription.retrieve(account.stripe_subscription_id).to_dict()
    item = sub["items"]["data"][0]["id"]
    stripe.Subscription.modify(sub["id"], items=[{"id": item, "plan": "price_team_yearly"}])
    invoices = stripe.Invoice.list(customer=account.stripe_customer_id).to_dict()["data"]
    return next(i for i in invoices if i["status"] == "open")


@pytest.fixture
def past_due(org, owner, stripe_on, settings, client, django_capture_on_commit_callbacks):
    settings.BILLING_TRIAL_DAYS = 0
    settings.BILLING_GRACE_DAYS = 7
    setup = actions.start_card_setup(req(owner), org)
    confirm_card(stripe_on, setup)
    actions.do_subscribe(req(owner), org, TEAM, "month", setup["id"])
    account = BillingAccount.objects.for_org(org).get()
    assert account.status == "active"
    use_card(stripe_on, account, CHARGE_FAILS_CARD)
    invoice = fail_a_renewal(account)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, event("invoice.payment_failed", invoice))
    assert response.json()["outcome"] == "processed"
    account.refresh_from_db()
    return account


def test_a_failed_payment_marks_past_due_and_emails_the_owners(org, owner, past_due):
    assert past_due.status == "past_due" and past_due.past_due_since is not None
    assert limits.plan_for(org).key == TEAM  # the grace period: nothing changes yet
    [email] = [m for m in mail.outbox if "Payment failed" in m.subject]
    assert email.to == [owner.email]
    assert "grace period of 7 days" in email.body and f"/o/{org.slug}/billing/" in email.body
    html = email.alternatives[0][0]
    assert email.alternatives[0][1] == "text/html" and "Free plan" in html
    event = AuditEvent.objects.get(org=org, action=A.BILLING_PAYMENT_FAILED)
    assert event.metadata["invoice"].startswith("in_")
    page_client = Client()
    page_client.force_login(owner)
    assert "Past due" in page_client.get(reverse("billing:plan", args=[org.slug])).content.decode()


def test_grace_period_then_free_limits_then_paying_restores(
    org, owner, past_due, stripe_on, django_capture_on_commit_callbacks
):
    from connections.models import CloudConnection

    for name in ("a", "b"):
        CloudConnection.objects.for_org(org).create(name=name, provider="aws", auth_method="aws_role")
    now = timezone.now()
    assert not dunning.end_grace_period(past_due.pk, now + timedelta(days=6))  # still in the grace period
    assert limits.plan_for(org).key == TEAM

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning.end_grace_period(past_due.pk, now + timedelta(days=8))
    assert not dunning.end_grace_period(past_due.pk, now + timedelta(days=9))  # idempotent
    past_due.refresh_from_db()
    assert past_due.downgraded_at is not None and limits.plan_for(org).key == FREE
    with pytest.raises(LimitReached):
        ensure_within(org, "connections")  # 2 connections kept, none more on Free
    assert CloudConnection.objects.for_org(org).count() == 2  # nothing lost
    [email] = [m for m in mail.outbox if "moved to Free limits" in m.subject]
    assert email.to == [owner.email] and "Nothing was deleted" in email.body
    assert AuditEvent.objects.filter(org=org, action=A.BILLING_DOWNGRADED).count() == 1

    # The owner enters a working card: the open invoice is paid at once and the plan comes back.
    setup = actions.start_card_setup(req(owner), org)
    confirm_card(stripe_on, setup)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        transition = actions.do_change_payment_method(req(owner), org, setup["id"])
    assert transition.restored
    past_due.refresh_from_db()
    assert past_due.status == "active" and past_due.past_due_since is None and past_due.downgraded_at is None
    assert limits.plan_for(org).key == TEAM
    ensure_within(org, "connections")
    assert any("restored" in m.subject for m in mail.outbox)
    assert AuditEvent.objects.filter(org=org, action=A.BILLING_RESTORED).count() == 1


def test_invoice_paid_webhook_restores_a_downgraded_org(org, past_due, client, stripe_on):
    dunning.end_grace_period(past_due.pk, timezone.now() + timedelta(days=30))
    assert limits.plan_for(org).key == FREE
    invoice = next(
        i for i in stripe.Invoice.list(customer=past_due.stripe_customer_id).to_dict()["data"] if i["status"] == "open"
    )
    use_card(stripe_on, past_due, "4242424242424242")
    paid = stripe.Invoice.pay(invoice["id"]).to_dict()
    assert deliver(client, event("invoice.paid", paid)).json()["outcome"] == "processed"
    assert limits.plan_for(org).key == TEAM


def test_the_daily_task_finds_expired_grace_periods(org, past_due, eager_celery):
    BillingAccount.objects.for_org(org).update(past_due_since=timezone.now() - timedelta(days=8))
    other = BillingAccount.objects.create(
        org=MembershipFactory(user=UserFactory()).org, plan=TEAM, status="past_due", past_due_since=timezone.now()
    )
    assert list(dunning.grace_expired().values_list("pk", flat=True)) == [past_due.pk]
    assert tasks.end_grace_periods.delay().get() == 1  # eager Celery: the per-account task ran too
    past_due.refresh_from_db()
    other.refresh_from_db()
    assert past_due.downgraded_at is not None and other.downgraded_at is None


def test_a_payment_made_during_the_grace_period_is_seen_before_downgrading(org, past_due, stripe_on):
    invoice = next(
        i for i in stripe.Invoice.list(customer=past_due.stripe_customer_id).to_dict()["data"] if i["status"] == "open"
    )
    use_card(stripe_on, past_due, "4242424242424242")
    stripe.Invoice.pay(invoice["id"])  # paid in Stripe; its webhook has not arrived
    assert not dunning.end_grace_period(past_due.pk, timezone.now() + timedelta(days=8))
    past_due.refresh_from_db()
    assert past_due.downgraded_at is None and past_due.status == "active"
