"""Billing emails (payment failed, trial ending, plan changed), to the members who may manage billing.
Text and HTML through the account adapter (the HTML is the text in templates/email/layout.html); dates
in each recipient's timezone."""

from __future__ import annotations

import logging
import zoneinfo

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.utils import timezone

from billing.limits import absolute_plan_page_url
from billing.models import BillingAccount
from billing.plans import get_plan
from orgs.models import Membership
from orgs.roles import Capability

logger = logging.getLogger(__name__)


def billing_recipients(org) -> list:
    memberships = Membership.objects.for_org(org).select_related("user").filter(user__is_active=True)
    return [m.user for m in memberships if m.can(Capability.MANAGE_BILLING)]


def _send(template: str, account: BillingAccount, **context) -> int:
    org = account.org
    sent = 0
    for user in billing_recipients(org):
        try:
            tz = zoneinfo.ZoneInfo(user.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz = zoneinfo.ZoneInfo("UTC")
        with timezone.override(tz):
            get_adapter().send_mail(
                f"billing/email/{template}",
                user.email,
                {
                    "org_name": org.name,
                    "plan_url": absolute_plan_page_url(org),
                    "user": user,
                    "site_url": settings.SITE_URL,
                    **context,
                },
            )
        sent += 1
    logger.info("billing email %s to %s recipient(s) of org %s", template, sent, org.pk)
    return sent


def send_payment_failed(account: BillingAccount) -> int:
    return _send(
        "payment_failed",
        account,
        plan_name=account.subscribed_plan.name,
        grace_ends_at=account.grace_ends_at(),
        grace_days=settings.BILLING_GRACE_DAYS,
    )


def send_trial_ending(account: BillingAccount, trial_end) -> int:
    return _send("trial_ending", account, plan_name=account.subscribed_plan.name, trial_end=trial_end)


def send_plan_changed(account: BillingAccount, old_plan: str, new_plan: str, reason: str) -> int:
    """``reason``: "changed" (a member or Stripe changed it), "downgraded" (unpaid after the grace
    period) or "restored" (paid again)."""
    return _send(
        "plan_changed",
        account,
        old_plan=get_plan(old_plan),
        new_plan=get_plan(new_plan),
        reason=reason,
    )
