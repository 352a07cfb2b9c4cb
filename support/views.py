"""The support pages: search, an organization's page, a person's page, and the confirmation page of
each safe action. Thin: the queries are overview.py, the actions safe_actions.py."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import audit
from accounts.models import User
from orgs.models import Organization
from support import overview, staff_audit
from support.safe_actions import ACTIONS, ActionRefused

SEARCH_LIMIT = 50
CONSOLE_PERMISSION = "support.use_console"


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _context(request: HttpRequest, title: str, **extra) -> dict:
    return {**admin.site.each_context(request), "title": title, **extra}


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    _require(request, CONSOLE_PERMISSION)
    q = request.GET.get("q", "").strip()[:200]
    users = orgs = []
    if q:
        users = list(
            User.objects.filter(
                Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
            ).order_by("email")[: SEARCH_LIMIT + 1]
        )
        orgs = list(
            Organization.objects.filter(Q(name__icontains=q) | Q(slug__icontains=q)).order_by("name")[
                : SEARCH_LIMIT + 1
            ]
        )
        staff_audit.mark(request, None, "Support search", search=q[:100])
    context = _context(
        request,
        "Find a customer",
        q=q,
        users=users[:SEARCH_LIMIT],
        orgs=orgs[:SEARCH_LIMIT],
        more_users=len(users) > SEARCH_LIMIT,
        more_orgs=len(orgs) > SEARCH_LIMIT,
    )
    return render(request, "support/search.html", context)


@require_GET
def org_page(request: HttpRequest, org_id: int) -> HttpResponse:
    _require(request, CONSOLE_PERMISSION)
    org = get_object_or_404(Organization, pk=org_id)
    staff_audit.mark(request, org, "Organization page")
    context = _context(request, org.name, o=overview.org_overview(org), actions=ACTIONS)
    return render(request, "support/org.html", context)


@require_GET
def user_page(request: HttpRequest, user_id: int) -> HttpResponse:
    _require(request, CONSOLE_PERMISSION)
    person = get_object_or_404(User, pk=user_id)
    staff_audit.mark(request, None, f"Person “{person.email}”")
    context = _context(request, person.email, u=overview.user_overview(person), actions=ACTIONS)
    return render(request, "support/user.html", context)


@require_http_methods(["GET", "POST"])
def action(request: HttpRequest, action: str, object_id: int) -> HttpResponse:
    """GET: what the action will do, and a button; POST: do it, record it, go back."""
    safe_action = ACTIONS.get(action)
    if safe_action is None:
        raise Http404("No such action.")
    _require(request, safe_action.permission)
    target = safe_action.load(object_id)
    form = safe_action.form_class(request.POST or None) if safe_action.form_class else None
    staff_audit.mark_recorded(request)  # looking at a confirmation page is no view of data; the action is recorded
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            with transaction.atomic():  # the action and its audit event stand or fall together
                message = safe_action.run(request, target, form.cleaned_data if form else {})
                if safe_action.audit_action:
                    audit.record(
                        safe_action.audit_action,
                        request=request,
                        org=target.org,
                        target=target.label,
                        object_id=object_id,
                    )
        except ActionRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, message)
        return redirect(target.back)
    context = _context(request, safe_action.title, action=safe_action, target=target, form=form)
    return render(request, "support/confirm.html", context, status=400 if form is not None and form.errors else 200)
