"""The support console's base: org-owned rows across organizations, read-only.

Support staff look; they do not edit customers' inventory or findings (those are rebuilt by scans and
evaluations). ``get_queryset`` goes through ``.unscoped()`` on purpose: the admin is the one place
that sees every organization.
"""

from __future__ import annotations

from django.contrib import admin


class ReadOnlyOrgAdmin(admin.ModelAdmin):
    list_select_related = ["org"]
    show_full_result_count = False  # COUNT(*) over millions of rows on every changelist is slow

    def get_queryset(self, request):
        return self.model.objects.unscoped().select_related(*self.list_select_related)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
