from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from billing.models import BillingAccount, ProcessedStripeEvent
from cloustral.admin_base import ReadOnlyOrgAdmin


@admin.register(BillingAccount)
class BillingAccountAdmin(ReadOnlyOrgAdmin):
    """Support sees each organization's plan state and Stripe ids (no card data exists here); changes go
    through Stripe, whose events update these rows."""

    list_display = ["org", "plan", "status", "interval", "trial_end", "cancel_at_period_end", "past_due_since", "trial"]
    list_filter = ["plan", "status", "cancel_at_period_end"]
    search_fields = ["org__name", "org__slug", "stripe_customer_id", "stripe_subscription_id"]
    readonly_fields = ["trial"]

    @admin.display(description="")
    def trial(self, obj: BillingAccount) -> str:
        """A trialing organization's trial can be extended through the support console's confirmed action."""
        if obj.status != "trialing":
            return ""
        return format_html(
            '<a href="{}">Extend the trial…</a>', reverse("admin:support_action", args=["extend-trial", obj.org_id])
        )


@admin.register(ProcessedStripeEvent)
class ProcessedStripeEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "org", "received_at"]
    list_filter = ["type"]
    search_fields = ["event_id"]
    list_select_related = ["org"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
