"""Support views of accounts: people, the audit log (superusers), MFA devices and sign-ins. Never a
secret: no password hash (the change form has no password field), no TOTP key, no recovery code, no
OAuth token or client secret (allauth's own admins for those are replaced below)."""

from __future__ import annotations

from allauth.socialaccount.admin import SocialAccountAdmin as AllauthSocialAccountAdmin
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import AuditEvent, RecoveryCode, SignInEvent, TOTPDevice, User

# OAuth tokens and the Google client secret are credentials: no admin page shows them. The Google app
# is configured from the environment (SOCIALACCOUNT_PROVIDERS), tokens are not stored at all.
for _model in (SocialToken, SocialApp):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
if admin.site.is_registered(SocialAccount):
    admin.site.unregister(SocialAccount)


@admin.register(SocialAccount)
class SocialAccountAdmin(AllauthSocialAccountAdmin):
    """Which Google account signs a person in; the provider's payload (``extra_data``) is not shown."""

    fields = ["user", "provider", "uid", "last_login", "date_joined"]
    readonly_fields = ["provider", "uid", "last_login", "date_joined"]


def support_page_link(url: str) -> str:
    return format_html('<a href="{}">Support page</a>', url)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_staff", "date_joined", "has_mfa", "support"]
    list_filter = ["is_active", "is_staff", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    readonly_fields = ["date_joined", "last_login", "age_confirmed_at", "signup_org_name", "support"]
    fieldsets = (
        (None, {"fields": ("email", "support")}),
        ("Personal", {"fields": ("first_name", "last_name", "timezone", "age_confirmed_at", "signup_org_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.display(boolean=True, description="MFA")
    def has_mfa(self, obj: User) -> bool:
        return obj.has_mfa

    @admin.display(description="Support")
    def support(self, obj: User) -> str:
        return support_page_link(reverse("admin:support_user", args=[obj.pk])) if obj.pk else ""


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The whole log, staff views and actions included (superusers: the support group cannot see it)."""

    list_display = ["created_at", "action", "actor_email", "org", "target", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_email", "ip", "org__name", "org__slug"]
    list_select_related = ["org"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the log is evidence: nobody edits it from here


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    """Support can see that a device exists; a superuser may remove it (MFA reset). The key is never shown."""

    list_display = ["user", "name", "confirmed", "created_at"]
    fields = ["user", "name", "confirmed", "created_at"]
    readonly_fields = ["user", "name", "confirmed", "created_at"]
    search_fields = ["user__email"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RecoveryCode)
class RecoveryCodeAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "used_at"]
    fields = ["user", "created_at", "used_at"]
    readonly_fields = ["user", "created_at", "used_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
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
