"""Every billing change: subscribe, change plan, cancel at period end (and undo), change the card, and
the transitions Stripe reports (webhooks, dunning). Each one re-reads or applies Stripe's state,
records the org's audit log and emails the members who may manage billing.

A refused request raises ``BillingError`` (or ``stripe_api.StripeUnavailable``/``PaymentRefused``)
with a message for the person acting; nothing is changed then.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from billing import emails, state, stripe_api
from billing.models import BillingAccount
from billing.plans import PLANS, Plan
from billing.usage import usage_for

logger = logging.getLogger(__name__)
A = AuditEvent.Action


class BillingError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def get_account(org) -> BillingAccount:
    """The org's billing row, created on first use (no row means Free)."""
    account = BillingAccount.objects.for_org(org).select_related("org").first()
    if account is None:
        account, _ = BillingAccount.objects.for_org(org).get_or_create(org=org)
    return account


def _locked(account: BillingAccount) -> BillingAccount:
    return BillingAccount.objects.for_org(account.org_id).select_related("org").select_for_update().get(pk=account.pk)


def ensure_customer(account: BillingAccount, request: HttpRequest | None = None) -> str:
    """The org's Stripe customer, created lazily (once: the row is locked meanwhile)."""
    if account.stripe_customer_id:
        return account.stripe_customer_id
    with transaction.atomic():
        locked = _locked(account)
        if not locked.stripe_customer_id:
            email = request.user.email if request is not None and request.user.is_authenticated else ""
            locked.stripe_customer_id = stripe_api.create_customer(
                org_id=locked.org_id, name=locked.org.name, email=email
            )
            locked.save(update_fields=["stripe_customer_id", "updated_at"])
    account.stripe_customer_id = locked.stripe_customer_id
    return account.stripe_customer_id


def start_card_setup(request: HttpRequest, org) -> dict:
    """A SetupIntent for the card form (stripe.js confirms it in the browser; no card reaches us)."""
    account = get_account(org)
    customer_id = ensure_customer(account, request)
    setup = stripe_api.create_setup_intent(customer_id)
    return {"id": setup["id"], "client_secret": setup["client_secret"]}


def _confirmed_payment_method(account: BillingAccount, setup_intent_id: str) -> str:
    if not setup_intent_id.startswith("seti_") or not account.stripe_customer_id:
        raise BillingError("The card could not be confirmed. Enter it again.")
    setup = stripe_api.retrieve_setup_intent(setup_intent_id)
    if setup.get("customer") != account.stripe_customer_id:
        raise BillingError("The card could not be confirmed. Enter it again.")
    if setup.get("status") != "succeeded" or not setup.get("payment_method"):
        raise BillingError("The card was not confirmed by your bank. Enter it again or use another card.")
    method = setup["payment_method"]
    return method["id"] if isinstance(method, dict) else method


def _purchasable(plan_key: str, interval: str) -> tuple[Plan, str]:
    plan = PLANS.get(plan_key)
    if plan is None or plan.is_free:
        raise BillingError("Choose one of the paid plans.")
    if interval not in ("month", "year"):
        raise BillingError("Choose monthly or yearly billing.")
    price_id = plan.price_id(interval)
    if not price_id:
        raise BillingError(f"The {plan.name} plan cannot be bought {interval}ly on this installation.")
    return plan, price_id


def announce(account: BillingAccount, transition: state.Transition, *, request=None, action: str = "") -> None:
    """Audit and email what a transition changed (after the commit)."""
    org = account.org
    if transition.restored:
        audit.record(A.BILLING_RESTORED, request=request, org=org, target=org.name, plan=transition.new_plan)
        reason = "restored"
    elif transition.plan_changed:
        audit.record(
            action or A.BILLING_PLAN_CHANGED,
            request=request,
            org=org,
            target=org.name,
            old_plan=transition.old_plan,
            new_plan=transition.new_plan,
        )
        reason = "changed"
    else:
        return
    if transition.plan_changed or transition.restored:
        old, new = transition.old_plan, transition.new_plan
        transaction.on_commit(lambda: emails.send_plan_changed(account, old, new, reason))


def _apply(account: BillingAccount, subscription: dict | None) -> state.Transition:
    with transaction.atomic():
        locked = _locked(account)
        transition = state.apply(locked, subscription)
    account.refresh_from_db()
    return transition


def do_subscribe(request: HttpRequest, org, plan_key: str, interval: str, setup_intent_id: str) -> state.Transition:
    """Subscribe with the card just confirmed (a SetupIntent), with a trial the first time."""
    plan, price_id = _purchasable(plan_key, interval)
    account = get_account(org)
    if account.has_subscription:
        raise BillingError("The organization already has a subscription: change its plan instead.")
    payment_method = _confirmed_payment_method(account, setup_intent_id)
    stripe_api.use_payment_method(account.stripe_customer_id, payment_method)
    trial_end = None
    if not account.trial_used and settings.BILLING_TRIAL_DAYS > 0:
        trial_end = int((timezone.now() + timedelta(days=settings.BILLING_TRIAL_DAYS)).timestamp())
    subscription = stripe_api.create_subscription(
        account.stripe_customer_id, price_id, org_id=org.pk, trial_end=trial_end
    )
    if subscription.get("status") in ("incomplete", "incomplete_expired"):
        # The first payment did not go through: leave nothing half-made behind.
        try:
            stripe_api.cancel_subscription(subscription["id"])
        except stripe_api.StripeUnavailable:
            logger.warning("org %s: could not cancel incomplete subscription", org.pk)
        raise stripe_api.PaymentRefused("The first payment was declined. Nothing was charged; try another card.")
    with transaction.atomic():
        transition = _apply(account, subscription)
        audit.record(
            A.BILLING_SUBSCRIBED,
            request=request,
            org=org,
            target=org.name,
            plan=plan.key,
            interval=interval,
            trial=bool(trial_end),
        )
        if transition.plan_changed:
            old, new = transition.old_plan, transition.new_plan
            transaction.on_commit(lambda: emails.send_plan_changed(account, old, new, "changed"))
    return transition


def over_limits(org, plan: Plan) -> list[str]:
    """The limits ``org``'s current usage exceeds on ``plan`` (for a downgrade's warning)."""
    over = []
    for limit, used in usage_for(org).items():
        allowed = plan.limits.count_limit(limit)
        if allowed is not None and used > allowed:
            over.append(f"{limit} ({used:,} of {allowed:,})")
    return over


def do_change_plan(request: HttpRequest, org, plan_key: str, interval: str) -> state.Transition:
    plan, price_id = _purchasable(plan_key, interval)
    account = get_account(org)
    if not account.has_subscription:
        raise BillingError("Subscribe first: the organization has no subscription to change.")
    subscription = stripe_api.retrieve_subscription(account.stripe_subscription_id)
    if state.price_of(subscription) == price_id:
        raise BillingError(f"The organization is already on the {plan.name} plan, billed {interval}ly.")
    subscription = stripe_api.change_price(subscription, price_id)
    with transaction.atomic():
        transition = _apply(account, subscription)
        audit.record(
            A.BILLING_PLAN_CHANGED,
            request=request,
            org=org,
            target=org.name,
            old_plan=transition.old_plan,
            new_plan=plan.key,
            interval=interval,
        )
        old, new = transition.old_plan, transition.new_plan
        if old != new:
            transaction.on_commit(lambda: emails.send_plan_changed(account, old, new, "changed"))
    return transition


def do_set_cancel_at_period_end(request: HttpRequest, org, cancel: bool) -> BillingAccount:
    """Cancel at the end of the paid period (the plan stays until then), or undo that."""
    account = get_account(org)
    if not account.has_subscription:
        raise BillingError("The organization has no subscription.")
    if account.cancel_at_period_end == cancel:
        return account
    subscription = stripe_api.set_cancel_at_period_end(account.stripe_subscription_id, cancel)
    with transaction.atomic():
        _apply(account, subscription)
        audit.record(
            A.BILLING_CANCEL_SCHEDULED if cancel else A.BILLING_CANCEL_UNDONE,
            request=request,
            org=org,
            target=org.name,
            plan=account.plan,
            ends_at=account.current_period_end.isoformat() if account.current_period_end else "",
        )
    return account


def do_change_payment_method(request: HttpRequest, org, setup_intent_id: str) -> state.Transition:
    """Make the card just confirmed the default; a past-due organization's open invoices are paid with
    it at once (paying restores the plan)."""
    account = get_account(org)
    payment_method = _confirmed_payment_method(account, setup_intent_id)
    stripe_api.use_payment_method(account.stripe_customer_id, payment_method)
    audit.record(A.BILLING_PAYMENT_METHOD_CHANGED, request=request, org=org, target=org.name)
    refused_message = ""
    if account.is_past_due:
        for invoice in stripe_api.open_invoices(account.stripe_customer_id):
            try:
                stripe_api.pay_invoice(invoice["id"])
            except stripe_api.PaymentRefused as refused:
                refused_message = refused.message
                break
    transition = state.refresh(account)
    announce(account, transition, request=request)
    if refused_message:
        raise BillingError(f"The card was saved, but the open invoice could not be paid: {refused_message}")
    return transition


MAX_TRIAL_EXTENSION_DAYS = 30


def do_extend_trial(request: HttpRequest | None, org, days: int) -> BillingAccount:
    """Push a trialing subscription's trial end ``days`` later (support staff, at the customer's request)."""
    if not 1 <= days <= MAX_TRIAL_EXTENSION_DAYS:
        raise BillingError(f"A trial is extended by 1 to {MAX_TRIAL_EXTENSION_DAYS} days.")
    account = get_account(org)
    if not account.has_subscription or account.status != "trialing" or account.trial_end is None:
        raise BillingError("The organization is not on a trial.")
    new_end = account.trial_end + timedelta(days=days)
    subscription = stripe_api.set_trial_end(account.stripe_subscription_id, int(new_end.timestamp()))
    with transaction.atomic():
        _apply(account, subscription)
        audit.record(
            A.BILLING_TRIAL_EXTENDED,
            request=request,
            org=org,
            target=org.name,
            days=days,
            trial_end=account.trial_end.isoformat() if account.trial_end else "",
        )
    return account
