"""The one place that talks to Stripe (the ``stripe`` library, module-level configuration).

Everything returns plain dicts. A Stripe failure becomes ``StripeUnavailable`` (or ``PaymentRefused``
for a card the bank declined), each with a message for the person acting; callers never see a
stripe exception, so a page never answers 500 because Stripe is away.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

_localstripe_client = None


class StripeUnavailable(Exception):
    def __init__(self, message: str = "Payments are unavailable right now. Nothing was changed; try again shortly."):
        super().__init__(message)
        self.message = message


class PaymentRefused(StripeUnavailable):
    """The card was declined or needs an authentication that did not happen."""


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)


def _configure() -> Any:
    global _localstripe_client
    if not settings.STRIPE_SECRET_KEY:
        raise StripeUnavailable("Payments are not set up on this installation.")
    stripe.api_key = settings.STRIPE_SECRET_KEY
    stripe.api_base = settings.STRIPE_API_BASE
    if settings.STRIPE_API_VERSION:
        stripe.api_version = settings.STRIPE_API_VERSION
    stripe.max_network_retries = 2
    if settings.STRIPE_LOCALSTRIPE:
        if _localstripe_client is None:
            from billing.localstripe_compat import LocalstripeHTTPClient

            _localstripe_client = LocalstripeHTTPClient()
        stripe.default_http_client = _localstripe_client
    elif stripe.default_http_client is _localstripe_client and _localstripe_client is not None:
        stripe.default_http_client = None  # back to the library's own client
    return stripe


def _plain(obj: Any) -> Any:
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def _call(what: str, fn, *args, **kwargs) -> Any:
    _configure()
    try:
        return _plain(fn(*args, **kwargs))
    except stripe.CardError as exc:
        raise PaymentRefused(exc.user_message or "The card was declined. Nothing was changed.") from None
    except stripe.StripeError as exc:
        # Logged without the request (it may name a customer); never shown in full to the user.
        logger.warning("stripe %s failed: %s %s", what, type(exc).__name__, getattr(exc, "code", "") or "")
        raise StripeUnavailable() from None


# --- customers and payment methods --------------------------------------------------------------


def create_customer(*, org_id: int, name: str, email: str) -> str:
    customer = _call(
        "customer.create",
        stripe.Customer.create,
        name=name,
        email=email or None,
        metadata={"org_id": str(org_id)},
        idempotency_key=f"cloustral-customer-org-{org_id}",
    )
    return customer["id"]


def create_setup_intent(customer_id: str) -> dict:
    return _call(
        "setup_intent.create",
        stripe.SetupIntent.create,
        customer=customer_id,
        payment_method_types=["card"],
        usage="off_session",
    )


def retrieve_setup_intent(setup_intent_id: str) -> dict:
    return _call("setup_intent.retrieve", stripe.SetupIntent.retrieve, setup_intent_id)


def use_payment_method(customer_id: str, payment_method_id: str) -> dict:
    """Attach the card to the customer (when the SetupIntent did not already) and make it the default."""
    method = _call("payment_method.retrieve", stripe.PaymentMethod.retrieve, payment_method_id)
    attached_to = method.get("customer")
    if attached_to and attached_to != customer_id:
        raise PaymentRefused("That card belongs to another customer. Enter the card again.")
    if not attached_to:
        method = _call("payment_method.attach", stripe.PaymentMethod.attach, payment_method_id, customer=customer_id)
    _call(
        "customer.modify",
        stripe.Customer.modify,
        customer_id,
        invoice_settings={"default_payment_method": payment_method_id},
    )
    return method


def default_payment_method(customer_id: str) -> dict | None:
    """{"brand", "last4", "exp_month", "exp_year"} of the customer's default card, or None."""
    customer = _call("customer.retrieve", stripe.Customer.retrieve, customer_id)
    method_id = (customer.get("invoice_settings") or {}).get("default_payment_method")
    if isinstance(method_id, dict):
        method_id = method_id.get("id")
    if not method_id:
        return None
    method = _call("payment_method.retrieve", stripe.PaymentMethod.retrieve, method_id)
    card = method.get("card") or {}
    return {
        "brand": card.get("brand") or method.get("type", ""),
        "last4": card.get("last4", ""),
        "exp_month": card.get("exp_month"),
        "exp_year": card.get("exp_year"),
    }


# --- subscriptions -------------------------------------------------------------------------------


def create_subscription(customer_id: str, price_id: str, *, org_id: int, trial_end: int | None) -> dict:
    params: dict[str, Any] = {
        "customer": customer_id,
        "items": [{"price": price_id}],
        "metadata": {"org_id": str(org_id)},
    }
    if trial_end:
        params["trial_end"] = trial_end
    return _call("subscription.create", stripe.Subscription.create, **params)


def retrieve_subscription(subscription_id: str) -> dict:
    return _call("subscription.retrieve", stripe.Subscription.retrieve, subscription_id)


def list_subscriptions(customer_id: str) -> list[dict]:
    result = _call("subscription.list", stripe.Subscription.list, customer=customer_id, status="all", limit=20)
    return list(result.get("data", []))


def change_price(subscription: dict, price_id: str) -> dict:
    items = (subscription.get("items") or {}).get("data") or []
    if not items:
        raise StripeUnavailable("The subscription has no item to change. Nothing was changed.")
    return _call(
        "subscription.modify",
        stripe.Subscription.modify,
        subscription["id"],
        items=[{"id": items[0]["id"], "price": price_id}],
    )


def set_cancel_at_period_end(subscription_id: str, cancel: bool) -> dict:
    return _call("subscription.modify", stripe.Subscription.modify, subscription_id, cancel_at_period_end=cancel)


def set_trial_end(subscription_id: str, trial_end: int) -> dict:
    """Move a trialing subscription's trial end (a timestamp); nothing is charged before it."""
    return _call("subscription.modify", stripe.Subscription.modify, subscription_id, trial_end=trial_end)


# --- invoices, portal, webhooks ---------------------------------------------------------------


def list_invoices(customer_id: str, *, limit: int = 12, starting_after: str = "") -> tuple[list[dict], bool]:
    params: dict[str, Any] = {"customer": customer_id, "limit": limit}
    if starting_after:
        params["starting_after"] = starting_after
    result = _call("invoice.list", stripe.Invoice.list, **params)
    return list(result.get("data", [])), bool(result.get("has_more"))


def portal_url(customer_id: str, return_url: str) -> str:
    session = _call(
        "billing_portal.session.create",
        stripe.billing_portal.Session.create,
        customer=customer_id,
        return_url=return_url,
        configuration=settings.STRIPE_PORTAL_CONFIGURATION,
    )
    return session["url"]


class InvalidWebhook(Exception):
    """Not a Stripe event signed with our webhook secret."""


def construct_event(payload: bytes, signature: str) -> dict:
    """The event, once its signature (``Stripe-Signature``, with a timestamp tolerance) is checked."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise InvalidWebhook("No webhook secret is configured.")
    try:
        event = stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise InvalidWebhook(type(exc).__name__) from None
    return _plain(event)


def cancel_subscription(subscription_id: str) -> dict:
    """End a subscription now (used for an incomplete one that never started)."""
    return _call("subscription.cancel", stripe.Subscription.cancel, subscription_id)


def open_invoices(customer_id: str) -> list[dict]:
    invoices, _ = list_invoices(customer_id, limit=20)
    return [i for i in invoices if i.get("status") == "open"]


def pay_invoice(invoice_id: str) -> dict:
    return _call("invoice.pay", stripe.Invoice.pay, invoice_id)
