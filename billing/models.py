"""An organization's billing state: its Stripe ids and its plan, nothing else (no card data), plus the
Stripe events already handled (webhooks are idempotent by event id)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from billing.plans import FREE, PLANS, Plan, get_plan
from orgs.scoping import OrgScopedManager

# Stripe subscription statuses under which the subscribed plan applies. ``past_due``/``unpaid`` keep
# it during the grace period; the dunning task then sets ``downgraded_at`` (Free limits).
PLAN_STATUSES = ("active", "trialing", "past_due", "unpaid")


class BillingAccount(models.Model):
    """One per organization, created lazily (the first time a billing manager opens the plan page or
    subscribes). No row means Free."""

    class Interval(models.TextChoices):
        MONTH = "month", "Monthly"
        YEAR = "year", "Yearly"

    org = models.OneToOneField("orgs.Organization", on_delete=models.CASCADE, related_name="billing_account")
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    plan = models.CharField(max_length=32, choices=[(k, p.name) for k, p in PLANS.items()], default=FREE)
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.MONTH)
    # Stripe's own status of the subscription ("" when there is none).
    status = models.CharField(max_length=32, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    trial_used = models.BooleanField(default=False, help_text="A trial is offered once per organization.")
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    past_due_since = models.DateTimeField(
        null=True, blank=True, help_text="When a payment first failed; cleared when an invoice is paid."
    )
    downgraded_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the grace period ran out: Free limits until a payment succeeds."
    )
    # When the state above was last read from Stripe (every change and webhook re-reads it).
    synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedManager()

    def __str__(self) -> str:
        return f"Billing of {self.org_id}: {self.plan} ({self.status or 'none'})"

    @property
    def subscribed_plan(self) -> Plan:
        return get_plan(self.plan)

    @property
    def has_subscription(self) -> bool:
        return bool(self.stripe_subscription_id) and self.status in PLAN_STATUSES

    @property
    def is_past_due(self) -> bool:
        return self.past_due_since is not None

    @property
    def effective_plan(self) -> Plan:
        """The plan whose limits apply now."""
        if self.downgraded_at is not None or self.status not in PLAN_STATUSES:
            return PLANS[FREE]
        return self.subscribed_plan

    def grace_ends_at(self):
        if self.past_due_since is None:
            return None
        return self.past_due_since + timedelta(days=settings.BILLING_GRACE_DAYS)


class ProcessedStripeEvent(models.Model):
    """A Stripe event already handled: a redelivery of the same id does nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    org = models.ForeignKey("orgs.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.type})"
