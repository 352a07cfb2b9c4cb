"""Support views of organizations. Invitation tokens are never shown (only their hash is stored)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from orgs.models import Invitation, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ["user", "role", "created_at", "last_used_at"]
    readonly_fields = ["user", "created_at", "last_used_at"]
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return Membership.objects.unscoped().select_related("user")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "require_mfa", "created_at", "support"]
    search_fields = ["name", "slug"]
    list_filter = ["require_mfa"]
    readonly_fields = ["created_at", "support"]
    inlines = [MembershipInline]

    @admin.display(description="Support")
    def support(self, obj: Organization) -> str:
        """The support console's page of the organization (plan, members, scans, emails, audit log)."""
        if not obj.pk:
            return ""
        return format_html('<a href="{}">Support page</a>', reverse("admin:support_org", args=[obj.pk]))


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "org", "role", "created_at", "last_used_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "org__name", "org__slug"]
    fields = ["user", "org", "role", "created_at", "last_used_at"]
    readonly_fields = ["user", "org", "created_at", "last_used_at"]

    def get_queryset(self, request):
        return Membership.objects.unscoped().select_related("user", "org")

    def has_add_permission(self, request):
        return False  # people join through invitations or sign-up (orgs.actions), audit-logged


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "org", "role", "status", "created_at", "expires_at"]
    list_filter = ["role"]
    search_fields = ["email", "org__name", "org__slug"]
    fields = [
        "org",
        "email",
        "role",
        "invited_by",
        "status",
        "created_at",
        "sent_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return Invitation.objects.unscoped().select_related("org", "invited_by")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
