from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from connections.models import CloudConnection


@admin.register(CloudConnection)
class CloudConnectionAdmin(admin.ModelAdmin):
    """Support sees which connections exist and how they are doing; the secret is never a field here."""

    list_display = ["name", "org", "provider", "auth_method", "status", "enabled", "last_checked_at", "scan"]
    list_filter = ["provider", "auth_method", "status", "enabled"]
    search_fields = ["name", "org__name", "aws_account_id", "tenant_id"]
    fields = [
        "org",
        "name",
        "provider",
        "auth_method",
        "enabled",
        "status",
        "last_checked_at",
        "last_check_code",
        "last_check_message",
        "role_arn",
        "aws_account_id",
        "aws_account_alias",
        "enabled_regions",
        "selected_regions",
        "azure_cloud",
        "tenant_id",
        "client_id",
        "subscriptions",
        "secret_changed_at",
        "created_by",
        "created_at",
        "scan",
    ]
    readonly_fields = fields

    @admin.display(description="")
    def scan(self, obj: CloudConnection) -> str:
        """The support console's confirmed "scan now" (support/safe_actions.py)."""
        return format_html('<a href="{}">Scan now…</a>', reverse("admin:support_action", args=["start-scan", obj.pk]))

    def get_queryset(self, request):
        return CloudConnection.objects.unscoped().select_related("org")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
