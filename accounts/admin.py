from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import AuditEvent, RecoveryCode, SignInEvent, TOTPDevice, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_staff", "date_joined", "has_mfa"]
    list_filter = ["is_active", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    readonly_fields = ["date_joined", "last_login", "age_confirmed_at", "signup_org_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal", {"fields": ("first_name", "last_name", "timezone", "age_confirmed_at", "signup_org_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.display(boolean=True, description="MFA")
    def has_mfa(self, obj: User) -> bool:
        return obj.has_mfa


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "actor_email", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_email", "ip"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    """Support can see that a device exists and remove it; the secret is never shown."""

    list_display = ["user", "name", "confirmed", "created_at"]
    fields = ["user", "name", "confirmed", "created_at"]
    readonly_fields = ["user", "name", "confirmed", "created_at"]
    search_fields = ["user__email"]

    def has_add_permission(self, request):
        return False


@admin.register(RecoveryCode)
class RecoveryCodeAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "used_at"]
    fields = ["user", "created_at", "used_at"]
    readonly_fields = ["user", "created_at", "used_at"]

    def has_add_permission(self, request):
        return False


@admin.register(SignInEvent)
class SignInEventAdmin(admin.ModelAdmin):
    """Sign-in history (time, IP network, browser), read-only, for support."""

    list_display = ["at", "user", "browser", "ip", "ip_network", "new_browser", "new_network", "alerted"]
    list_filter = ["new_browser", "new_network", "alerted"]
    search_fields = ["user__email", "ip", "ip_network"]
    list_select_related = ["user"]
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
