from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from cloustral.admin_base import ReadOnlyOrgAdmin
from inventory.models import Resource, SyncRun


@admin.register(Resource)
class ResourceAdmin(ReadOnlyOrgAdmin):
    list_display = ["name", "resource_type", "region", "connection", "org", "last_seen"]
    list_filter = ["provider"]
    search_fields = ["name", "native_id", "org__name"]
    list_select_related = ["org", "connection"]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyOrgAdmin):
    list_display = ["id", "connection", "org", "status", "trigger", "created_at", "completeness_percent", "cancel"]
    list_filter = ["status", "trigger"]
    search_fields = ["connection__name", "org__name"]
    list_select_related = ["org", "connection"]
    exclude = ["celery_task_id"]
    readonly_fields = ["cancel"]

    @admin.display(description="")
    def cancel(self, obj: SyncRun) -> str:
        """A queued or running scan can be stopped through the support console's confirmed action."""
        if not obj.is_active or obj.cancel_requested:
            return ""
        return format_html('<a href="{}">Cancel…</a>', reverse("admin:support_action", args=["cancel-scan", obj.pk]))
