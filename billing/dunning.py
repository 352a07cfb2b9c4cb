"""Unpaid invoices: a failed payment makes the organization past due (Stripe's subscription status,
re-read on every event); after ``BILLING_GRACE_DAYS`` a daily task moves it to Free limits
(``downgraded_at``); a successful payment restores its plan (``state.apply`` clears both)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from billing import actions, emails, state, stripe_api
from billing.models import BillingAccount

logger = logging.getLogger(__name__)
A = AuditEvent.Action


def grace_expired(now: datetime | None = None):
    """Past-due accounts whose grace period is over and that still have their plan's limits."""
    now = now or timezone.now()
    return BillingAccount.objects.unscoped().filter(
        past_due_since__lte=now - timedelta(days=settings.BILLING_GRACE_DAYS), downgraded_at__isnull=True
    )


def end_grace_period(account_id: int, now: datetime | None = None) -> bool:
    """Move one past-due organization to Free limits if Stripe still says it has not paid. Idempotent.
    Returns True when it was moved."""
    now = now or timezone.now()
    account = BillingAccount.objects.unscoped().select_related("org").filter(pk=account_id).first()
    if account is None or account.downgraded_at is not None or account.past_due_since is None:
        return False
    try:
        transition = state.refresh(account, now)  # paid meanwhile? then this restores, not downgrades
    except stripe_api.StripeUnavailable:
        logger.warning("billing account %s: Stripe unreachable; grace period checked again next run", account_id)
        return False
    actions.announce(account, transition)
    if not account.is_past_due or account.past_due_since > now - timedelta(days=settings.BILLING_GRACE_DAYS):
        return False
    with transaction.atomic():
        locked = BillingAccount.objects.for_org(account.org_id).select_for_update().get(pk=account.pk)
        if locked.downgraded_at is not None:
            return False
        old_plan = locked.effective_plan.key
        locked.downgraded_at = now
        locked.save(update_fields=["downgraded_at", "updated_at"])
        audit.record(
            A.BILLING_DOWNGRADED,
            org=account.org,
            target=account.org.name,
            plan=locked.plan,
            past_due_since=locked.past_due_since.isoformat(),
        )
        account.refresh_from_db()
        transaction.on_commit(lambda: emails.send_plan_changed(account, old_plan, "free", "downgraded"))
    logger.info("billing account %s: grace period over, Free limits apply", account_id)
    return True
