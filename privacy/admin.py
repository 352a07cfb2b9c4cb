"""Support's view of the privacy app, read-only: contact requests (marked answered, and pending deletions
cancelled, only through the console's confirmed and audit-logged actions), consent, exports, deletions
and tombstones. No secret is ever a field here: export links are not stored, only their jobs, and a
deletion's cancel nonce is not shown."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from privacy.models import AnalyticsEvent, ConsentRecord, ContactRequest, DeletionRequest, ExportJob, Tombstone


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def action_link(key: str, pk: int, label: str) -> str:
    return format_html('<a href="{}">{}</a>', reverse("admin:support_action", args=[key, pk]), label)


@admin.register(ContactRequest)
class ContactRequestAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "topic", "name", "email", "delivered", "handled_at", "answer"]
    list_filter = ["topic", ("handled_at", admin.EmptyFieldListFilter), ("delivered_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "name"]
    fields = [
        "created_at",
        "topic",
        "name",
        "email",
        "user",
        "message",
        "delivered_at",
        "delivery_attempts",
        "last_error",
        "acknowledged_at",
        "handled_at",
        "answer",
    ]
    readonly_fields = fields

    @admin.display(boolean=True, description="Delivered")
    def delivered(self, obj: ContactRequest) -> bool:
        return obj.delivered_at is not None

    @admin.display(description="")
    def answer(self, obj: ContactRequest) -> str:
        return "" if obj.handled_at else action_link("answer-contact", obj.pk, "Mark answered…")


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "user", "org", "status", "rows_written", "file_size", "expires_at"]
    list_filter = ["kind", "status"]
    fields = ["kind", "user", "org", "status", "rows_written", "file_size", "error", "created_at", "finished_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return ExportJob.objects.unscoped().select_related("user", "org")


@admin.register(DeletionRequest)
class DeletionRequestAdmin(ReadOnlyAdmin):
    list_display = ["user", "requested_at", "purge_after", "cancel"]
    fields = ["user", "requested_at", "purge_after", "cancel"]
    readonly_fields = fields
    list_select_related = ["user"]

    @admin.display(description="")
    def cancel(self, obj: DeletionRequest) -> str:
        return action_link("cancel-deletion", obj.pk, "Cancel the deletion…")


@admin.register(Tombstone)
class TombstoneAdmin(ReadOnlyAdmin):
    list_display = ["email", "google_id", "deleted_at", "signed_up_again_at"]
    search_fields = ["email", "google_id"]
    fields = list_display
    readonly_fields = list_display


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "analytics", "policy_version", "user"]
    list_filter = ["analytics", "policy_version"]
    fields = ["created_at", "analytics", "policy_version", "user", "browser_id"]
    readonly_fields = fields


@admin.register(AnalyticsEvent)
class AnalyticsEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "name", "page"]
    list_filter = ["name"]
    fields = ["created_at", "name", "page", "properties", "user"]
    readonly_fields = fields
