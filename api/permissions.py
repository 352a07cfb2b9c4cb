"""The role matrix and the key's scope, per endpoint and method.

Each view names the capability each HTTP method needs (``capabilities = {"GET": "view", "POST": ...}``),
the same capabilities as the pages (``orgs/roles.py``). A read-only key asking to write gets 403
``insufficient_scope``; a key whose role may not act, 403 ``permission_denied``. Objects of another
organization are looked up through the org-scoped access helpers afterwards: 404, as on the pages.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from orgs.roles import Capability


class InsufficientScope(exceptions.PermissionDenied):
    default_detail = "This key is read-only: use a key with the read and write scope."
    default_code = "insufficient_scope"


class RoleRefused(exceptions.PermissionDenied):
    default_code = "permission_denied"


class MfaRequired(exceptions.PermissionDenied):
    default_detail = (
        "The organization requires two-factor authentication: the key's owner must set it up before "
        "their personal keys work."
    )
    default_code = "mfa_required"


def required_capability(view, method: str) -> Capability:
    capabilities = getattr(view, "capabilities", {})
    if method == "HEAD":
        method = "GET"
    return Capability(capabilities.get(method, Capability.VIEW))


class KeyCapability(BasePermission):
    def has_permission(self, request, view) -> bool:
        principal = request.auth
        if principal is None:
            return False  # DRF answers 401 "not_authenticated"
        if getattr(principal, "mfa_missing", False):
            raise MfaRequired
        capability = required_capability(view, request.method)
        if capability != Capability.VIEW and principal.key.scope == principal.key.Scope.READ:
            raise InsufficientScope
        if not principal.can(capability):
            raise RoleRefused(f"This key's role may not do this (it needs the “{capability.value}” capability).")
        return True
