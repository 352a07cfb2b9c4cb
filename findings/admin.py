from django.contrib import admin
from django.db.models import Prefetch

from cloustral.admin_base import ReadOnlyOrgAdmin
from connections.models import CloudConnection
from findings.models import Baseline, CustomRule, Finding, OrgPolicy, RuleStatus


@admin.register(Finding)
class FindingAdmin(ReadOnlyOrgAdmin):
    list_display = ["rule_id", "severity", "category", "status", "resource_name", "org", "last_seen"]
    list_filter = ["status", "severity", "category", "rule_source"]
    search_fields = ["rule_id", "native_id", "resource_name", "org__name"]
    list_select_related = ["org", "connection", "resource", "suppressed_by"]
    raw_id_fields = ["resource", "connection"]
    date_hierarchy = "last_seen"


@admin.register(RuleStatus)
class RuleStatusAdmin(ReadOnlyOrgAdmin):
    list_display = ["rule_id", "connection", "verdict", "checked", "matched", "org", "evaluated_at"]
    list_filter = ["verdict"]
    search_fields = ["rule_id", "org__name"]
    list_select_related = ["org", "connection"]


@admin.register(CustomRule)
class CustomRuleAdmin(ReadOnlyOrgAdmin):
    list_display = ["rule_id", "title", "severity", "category", "enabled", "org", "updated_at"]
    list_filter = ["enabled", "severity", "category"]
    search_fields = ["rule_id", "title", "org__name"]

    def get_queryset(self, request):
        # The read-only "connections" field lists ``rule.connections.all()``: through the connections'
        # org-scoped manager that query has no organization and raises. The console sees every
        # organization, so it prefetches them deliberately unscoped (the rule's own rows only).
        connections = Prefetch("connections", queryset=CloudConnection.objects.unscoped().order_by("name"))
        return super().get_queryset(request).prefetch_related(connections)


@admin.register(OrgPolicy)
class OrgPolicyAdmin(ReadOnlyOrgAdmin):
    list_display = ["name", "kind", "enabled", "org", "updated_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "org__name"]


@admin.register(Baseline)
class BaselineAdmin(ReadOnlyOrgAdmin):
    list_display = ["resource", "connection", "org", "approved_by", "approved_at"]
    list_select_related = ["org", "resource", "connection", "approved_by"]
    raw_id_fields = ["resource"]
