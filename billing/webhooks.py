"""Stripe's webhook: signature checked, each event handled once (its id is stored in the same
transaction as its effects), and order-safe: no handler trusts the event's snapshot, each re-reads the
customer's subscriptions from Stripe (``state.refresh``). Unknown event types are acknowledged and
ignored. If Stripe cannot be reached while handling, the answer is 503 and nothing is stored, so
Stripe delivers the event again later."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.models import AuditEvent
from billing import actions, emails, state, stripe_api
from billing.models import BillingAccount, ProcessedStripeEvent

logger = logging.getLogger(__name__)
A = AuditEvent.Action


def _subscription_changed(account: BillingAccount, event: dict) -> None:
    actions.announce(account, state.refresh(account))


def _invoice_paid(account: BillingAccount, event: dict) -> None:
    actions.announce(account, state.refresh(account))


def _payment_failed(account: BillingAccount, event: dict) -> None:
    transition = state.refresh(account)
    actions.announce(account, transition)
    if not account.is_past_due:
        return  # paid meanwhile (this event arrived late): Stripe's state says all is well
    invoice = event["data"]["object"]
    audit.record(
        A.BILLING_PAYMENT_FAILED,
        org=account.org,
        target=account.org.name,
        invoice=invoice.get("id", ""),
        attempt=invoice.get("attempt_count"),
        grace_ends_at=account.grace_ends_at().isoformat() if account.grace_ends_at() else "",
    )
    transaction.on_commit(lambda: emails.send_payment_failed(account))


def _trial_will_end(account: BillingAccount, event: dict) -> None:
    actions.announce(account, state.refresh(account))
    if account.status == "trialing" and account.trial_end is not None:
        trial_end = account.trial_end
        transaction.on_commit(lambda: emails.send_trial_ending(account, trial_end))


HANDLERS: dict[str, Callable[[BillingAccount, dict], None]] = {
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.paid": _invoice_paid,
    "invoice.payment_succeeded": _invoice_paid,  # sent by older API versions (and localstripe) instead
    "invoice.payment_failed": _payment_failed,
    "customer.subscription.trial_will_end": _trial_will_end,
}


def _account_for(obj: dict) -> BillingAccount | None:
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if not customer or not isinstance(customer, str):
        return None
    # A lookup by Stripe's customer id (unguessable, ours): the event names no organization otherwise.
    return BillingAccount.objects.unscoped().select_related("org").filter(stripe_customer_id=customer).first()


def handle_event(event: dict) -> str:
    """Apply one verified event. Returns what happened: processed, duplicate, ignored, unknown_customer."""
    handler = HANDLERS.get(event.get("type", ""))
    if handler is None:
        return "ignored"
    obj = (event.get("data") or {}).get("object") or {}
    account = _account_for(obj)
    if account is None:
        logger.info("stripe event %s (%s): no organization has that customer", event.get("id"), event.get("type"))
        return "unknown_customer"
    with transaction.atomic():
        try:
            with transaction.atomic():
                ProcessedStripeEvent.objects.create(event_id=event["id"], type=event["type"], org=account.org)
        except IntegrityError:
            return "duplicate"
        handler(account, event)
    return "processed"


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = stripe_api.construct_event(request.body, request.headers.get("Stripe-Signature", ""))
    except stripe_api.InvalidWebhook:
        return HttpResponse("Invalid signature.", status=400, content_type="text/plain")
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return HttpResponse("Not an event.", status=400, content_type="text/plain")
    try:
        outcome = handle_event(event)
    except stripe_api.StripeUnavailable:
        return HttpResponse("Stripe could not be reached; deliver again later.", status=503, content_type="text/plain")
    return JsonResponse({"received": True, "outcome": outcome})
