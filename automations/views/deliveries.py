"""The organization's delivery log (admins): every summary, test and email of the organization, failed
ones first by default, what the provider reported, and the suppressed addresses of its members with a
button to clear them. Support staff see every delivery, of every organization, in the admin."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse

from automations import actions
from automations.access import get_suppression_for_member, member_emails
from automations.models import Delivery, Suppression
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
ORG = "o/<slug:org_slug>/automations/"
PER_PAGE = 50
SHOWS = {"failed": "Failed and suppressed", "all": "All deliveries"}


@org_view(_C.VIEW_AUDIT_LOG)
def delivery_log(request: HttpRequest) -> HttpResponse:
    org = request.org
    show = request.GET.get("show") if request.GET.get("show") in SHOWS else "failed"
    deliveries = Delivery.objects.for_org(org).select_related("run__org")
    if show == "failed":
        deliveries = deliveries.filter(status__in=Delivery.FAILURES)
    page = Paginator(deliveries, PER_PAGE).get_page(request.GET.get("page"))
    suppressions = Suppression.objects.active().filter(address__in=member_emails(org)).order_by("address")
    context = {
        "page": page,
        "show": show,
        "shows": SHOWS,
        "suppressions": suppressions,
        "can_clear": request.membership.can_manage_members,
    }
    return render(request, "automations/deliveries.html", context)


@org_view(_C.MANAGE_MEMBERS, methods=["POST"])
def suppression_clear(request: HttpRequest, suppression_id: int) -> HttpResponse:
    suppression = get_suppression_for_member(request, suppression_id)
    actions.do_clear_suppression(suppression, user=request.user, org=request.org, request=request)
    messages.success(request, f"{suppression.address} receives emails again.")
    return redirect(reverse("automations:deliveries", kwargs={"org_slug": request.org.slug}))


urlpatterns = [
    path(f"{ORG}deliveries/", delivery_log, name="deliveries"),
    path(f"{ORG}suppressions/<int:suppression_id>/clear/", suppression_clear, name="suppression_clear"),
]
