"""``@org_view``: the one way into an organization's pages (ARCHITECTURE.md convention 1).

URLs carry the organization as ``/o/<slug:org_slug>/...``. The decorator, once per request:

1. sends anonymous visitors to the login page;
2. loads the visitor's membership of that organization (one query, never cached across requests,
   so a removal or a role change takes effect on the next request) — none: **404**, the same answer
   as an organization that does not exist;
3. sets ``request.org`` and ``request.membership``;
4. if the organization requires MFA and the visitor has none: redirect to MFA setup with a message;
5. checks the role matrix for ``capability`` — refused: **403**;
6. checks the HTTP method — refused: 405 (after 404/403, so they never leak anything);
7. remembers the organization as the visitor's current one.

The view receives the request and its other URL kwargs (``org_slug`` is consumed). The decorator
records ``org_capability`` and ``org_methods`` on the view; the role and isolation tests use them to
try every org view with every role.

For a class-based view, decorate in the URLconf: ``org_view(Capability.VIEW)(MyView.as_view())``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect

from orgs.current import remember_current_org
from orgs.models import Membership
from orgs.roles import Capability


def load_membership(user, org_slug: str) -> Membership | None:
    return Membership.objects.for_user(user).select_related("org").filter(org__slug=org_slug).first()


def org_view(
    capability: str = Capability.VIEW,
    *,
    methods: Iterable[str] = ("GET",),
    mfa_exempt: bool = False,
) -> Callable:
    capability = Capability(capability)  # an unknown capability fails at import time
    allowed = {m.upper() for m in methods}
    if "GET" in allowed:
        allowed.add("HEAD")
    allowed_methods = tuple(sorted(allowed))

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, org_slug: str, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = load_membership(request.user, org_slug)
            if membership is None:
                raise Http404("No such organization.")
            request.org = membership.org
            request.membership = membership
            if membership.org.require_mfa and not mfa_exempt and not request.user.has_mfa:
                messages.warning(
                    request,
                    f"{membership.org.name} requires two-factor authentication. "
                    "Set it up to continue to the organization.",
                )
                return redirect("mfa_setup")
            if not membership.can(capability):
                raise PermissionDenied
            if request.method not in allowed_methods:
                return HttpResponseNotAllowed(allowed_methods)
            remember_current_org(request, membership)
            return view(request, *args, **kwargs)

        wrapper.org_capability = capability
        wrapper.org_methods = allowed_methods
        return wrapper

    return decorator
