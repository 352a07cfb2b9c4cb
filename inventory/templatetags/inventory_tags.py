from __future__ import annotations

from django import template

from inventory.models import Resource, SyncRun

register = template.Library()


@register.inclusion_tag("inventory/_connection_scans.html", takes_context=True)
def connection_scans(context, connection, schedule_form=None):
    """The "Inventory and scans" panel of a connection's page."""
    org = connection.org_id
    runs = SyncRun.objects.for_org(org).filter(connection=connection).select_related("triggered_by")
    return {
        "request": context["request"],
        "csrf_token": context.get("csrf_token"),
        "connection": connection,
        "active_run": runs.filter(status__in=SyncRun.ACTIVE).first(),
        "last_run": runs.exclude(status__in=SyncRun.ACTIVE).first(),
        "resource_count": Resource.objects.for_org(org).filter(connection=connection).count(),
        "schedule_form": schedule_form,
    }
