"""An organization's plan state, read from Stripe.

Webhook events may arrive twice or out of order, so no event's snapshot is trusted: every change
re-reads the customer's subscriptions from Stripe and applies what is true now (``refresh``). The
returned ``Transition`` says what changed, for the audit log and the emails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from billing import stripe_api
from billing.models import PLAN_STATUSES, BillingAccount
from billing.plans import FREE, interval_for_price, plan_for_price

# Which of a customer's subscriptions is "the" subscription: a live one before an ended one.
_STATUS_RANK = {"active": 0, "trialing": 0, "past_due": 1, "unpaid": 1, "incomplete": 2}
PAST_DUE_STATUSES = ("past_due", "unpaid")


@dataclass(frozen=True)
class Transition:
    old_plan: str  # the effective plan before
    new_plan: str  # and after
    became_past_due: bool = False
    restored: bool = False  # a past-due (or downgraded) organization paid
    cancel_changed: bool = False

    @property
    def plan_changed(self) -> bool:
        return self.old_plan != self.new_plan


def _time(value) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def price_of(subscription: dict) -> str:
    items = (subscription.get("items") or {}).get("data") or []
    if not items:
        return ""
    item = items[0]
    price = item.get("price") or item.get("plan") or {}
    return price.get("id", "") if isinstance(price, dict) else str(price)


def period_end_of(subscription: dict):
    # Newer API versions keep the period on the item; older ones (and localstripe) on the subscription.
    items = (subscription.get("items") or {}).get("data") or []
    value = subscription.get("current_period_end") or (items[0].get("current_period_end") if items else None)
    return _time(value)


def current_subscription(subscriptions: list[dict]) -> dict | None:
    """The subscription that decides the plan: live before ended, then the newest."""
    if not subscriptions:
        return None
    return min(subscriptions, key=lambda s: (_STATUS_RANK.get(s.get("status", ""), 9), -(s.get("created") or 0)))


def apply(account: BillingAccount, subscription: dict | None, now: datetime | None = None) -> Transition:
    """Set ``account`` (locked by the caller) to ``subscription``'s state and save it."""
    now = now or timezone.now()
    old_plan = account.effective_plan.key
    was_past_due = account.past_due_since is not None or account.downgraded_at is not None
    old_cancel = account.cancel_at_period_end
    if subscription is None:
        account.stripe_subscription_id = ""
        account.status = ""
        account.plan = FREE
        account.cancel_at_period_end = False
        account.current_period_end = None
        account.trial_end = None
    else:
        price = price_of(subscription)
        plan = plan_for_price(price)
        account.stripe_subscription_id = subscription["id"]
        account.status = subscription.get("status", "")
        account.plan = plan.key if plan is not None else FREE
        account.interval = interval_for_price(price)
        account.cancel_at_period_end = bool(subscription.get("cancel_at_period_end") or subscription.get("cancel_at"))
        account.current_period_end = period_end_of(subscription)
        account.trial_end = _time(subscription.get("trial_end")) if account.status == "trialing" else None
        if account.status in (*PLAN_STATUSES, "canceled"):
            account.trial_used = True  # one trial per organization, and none after a paid subscription
    restored = False
    if account.status in PAST_DUE_STATUSES:
        account.past_due_since = account.past_due_since or now
    else:
        restored = was_past_due and account.status in PLAN_STATUSES
        account.past_due_since = None
        account.downgraded_at = None
    account.synced_at = now
    account.save()
    return Transition(
        old_plan=old_plan,
        new_plan=account.effective_plan.key,
        became_past_due=not was_past_due and account.past_due_since is not None,
        restored=restored,
        cancel_changed=old_cancel != account.cancel_at_period_end,
    )


def refresh(account: BillingAccount, now: datetime | None = None) -> Transition:
    """Re-read the customer's subscriptions from Stripe and apply the current one."""
    if not account.stripe_customer_id:
        return Transition(old_plan=account.effective_plan.key, new_plan=account.effective_plan.key)
    subscriptions = stripe_api.list_subscriptions(account.stripe_customer_id)
    with transaction.atomic():
        locked = BillingAccount.objects.for_org(account.org_id).select_for_update().get(pk=account.pk)
        transition = apply(locked, current_subscription(subscriptions), now)
    account.refresh_from_db()
    return transition
