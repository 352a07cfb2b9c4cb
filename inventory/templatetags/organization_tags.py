"""The member accounts of an AWS Organization connection, with each one's last scan (its own coverage)."""

from __future__ import annotations

from django import template
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery

from connections.organization import members_of
from inventory.models import SyncRun

register = template.Library()
MEMBERS_PER_PAGE = 50


@register.inclusion_tag("connections/_members.html", takes_context=True)
def organization_members(context, connection):
    """A page of the organization's members (``?members=<page>``), each with its last scan: 3 queries."""
    request = context["request"]
    runs = SyncRun.objects.for_org(connection.org_id)
    last = runs.filter(connection=OuterRef("pk")).order_by("-created_at", "-id").values("id")[:1]
    members = members_of(connection).annotate(last_run_id=Subquery(last))
    page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("members"))
    by_id = runs.in_bulk([m.last_run_id for m in page.object_list if m.last_run_id])
    rows = [(member, by_id.get(member.last_run_id)) for member in page.object_list]
    return {"request": request, "connection": connection, "page": page, "rows": rows}
