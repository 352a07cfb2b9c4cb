"""The support console's view of automations: every delivery of every organization (account emails
included) with what the provider reported, and the suppressed addresses, which staff may clear (one at
a time, through the console's confirmed and audit-logged "clear" action). Channel URLs and signing
secrets are never fields here."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.html import format_html

from automations.models import Automation, AutomationRun, Channel, Delivery, EmailEvent, Suppression
from cloustral.admin_base import ReadOnlyOrgAdmin
from connections.models import CloudConnection


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Automation)
class AutomationAdmin(ReadOnlyOrgAdmin):
    list_display = ["name", "org", "trigger", "action", "enabled", "next_run_at", "last_run_at"]
    list_filter = ["trigger", "action", "enabled"]
    search_fields = ["name", "org__name"]
    exclude = ["channels"]

    def get_queryset(self, request):
        connections = Prefetch("connections", queryset=CloudConnection.objects.unscoped().order_by("name"))
        return super().get_queryset(request).prefetch_related(connections)


@admin.register(Channel)
class ChannelAdmin(ReadOnlyOrgAdmin):
    list_display = ["name", "kind", "org", "url_hint", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "org__name"]
    fields = ["org", "name", "kind", "roles", "member_ids", "url_hint", "secret_created_at", "created_at"]


@admin.register(AutomationRun)
class AutomationRunAdmin(ReadOnlyOrgAdmin):
    list_display = ["automation", "org", "key", "status", "period_start", "period_end", "created_at"]
    list_filter = ["status"]
    search_fields = ["automation__name", "org__name", "key"]
    list_select_related = ["org", "automation"]
    exclude = ["digest"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyOrgAdmin):
    list_display = ["created_at", "kind", "category", "status", "recipient", "org", "automation_name", "attempts"]
    list_filter = ["status", "kind", "category"]
    search_fields = ["recipient", "provider_message_id", "org__name", "automation_name", "subject"]
    list_select_related = ["org"]
    date_hierarchy = "created_at"
    exclude = ["run", "channel", "automation", "user"]


@admin.register(EmailEvent)
class EmailEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "event_type", "address", "esp_name", "org", "description"]
    list_filter = ["event_type", "esp_name"]
    search_fields = ["address", "message_id", "event_id"]
    list_select_related = ["org"]
    raw_id_fields = ["delivery"]


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    list_display = ["address", "reason", "created_at", "cleared_at", "cleared_by", "clear"]
    list_filter = ["reason", ("cleared_at", admin.EmptyFieldListFilter)]
    search_fields = ["address"]
    list_select_related = ["cleared_by"]
    fields = ["address", "reason", "event", "created_at", "cleared_at", "cleared_by", "clear"]
    readonly_fields = fields

    @admin.display(description="")
    def clear(self, obj: Suppression) -> str:
        if not obj.is_active:
            return ""
        url = reverse("admin:support_action", args=["clear-suppression", obj.pk])
        return format_html('<a href="{}">Clear…</a>', url)
