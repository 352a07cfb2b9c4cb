"""Who is calling: an API key in ``Authorization: Bearer clst_...``, checked on every request.

A missing key is a 401 that says how to send one. A key that is malformed, unknown, revoked or expired,
or a personal key whose owner left the organization or was deactivated, is one and the same 401
("Invalid API key."): the answer never tells which, so it helps no one probing keys.

For the views the request then looks like a page's: ``request.org`` and ``request.membership`` (an
``ApiPrincipal``, whose ``can(capability)`` applies the key's scope and, for a personal key, its owner's
current role), so ``orgs.access.get_for_member`` and the apps' ``get_<thing>_for_member`` work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.audit import client_ip
from api import keys
from api.models import ApiKey
from orgs.models import Membership

INVALID = "Invalid API key."
LAST_USED_EVERY = timedelta(minutes=1)  # last use is written at most this often per key (and on a new IP)


class InvalidKey(exceptions.AuthenticationFailed):
    default_code = "invalid_api_key"


@dataclass
class ApiPrincipal:
    """The caller of one request: the key, its organization, and (personal keys) its owner and role."""

    key: ApiKey
    org: object
    user: object | None = None  # a personal key's owner; None for an organization key
    role: str | None = None  # the owner's role now (personal keys)
    # The organization requires two-factor authentication and the owner has none: refused (403), as
    # the pages send them to set it up.
    mfa_missing: bool = False

    def can(self, capability: str) -> bool:
        return self.key.allows(capability, self.role)

    @property
    def label(self) -> str:
        return self.key.label


def principal_for(token: str, *, now=None) -> ApiPrincipal | None:
    """The principal of a token, or None whatever the reason (never raises)."""
    if not keys.looks_like_token(token):
        return None
    # Unscoped on purpose: the token is the credential and names its organization.
    api_key = ApiKey.objects.unscoped().select_related("org", "user").filter(token_hash=keys.hash_token(token)).first()
    if api_key is None or not api_key.is_usable(now):
        return None
    if not api_key.is_personal:
        return ApiPrincipal(key=api_key, org=api_key.org)
    owner = api_key.user
    if owner is None or not owner.is_active:
        return None
    membership = Membership.objects.for_user(owner).filter(org_id=api_key.org_id).only("role").first()
    if membership is None:
        return None
    mfa_missing = bool(api_key.org.require_mfa and not owner.has_mfa)
    return ApiPrincipal(key=api_key, org=api_key.org, user=owner, role=membership.role, mfa_missing=mfa_missing)


def _record_use(request, api_key: ApiKey, now) -> None:
    ip = client_ip(request)
    stale = api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_EVERY
    if stale or ip != api_key.last_used_ip:
        ApiKey.objects.for_org(api_key.org_id).filter(pk=api_key.pk).update(last_used_at=now, last_used_ip=ip)


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword.lower().encode() or len(header) != 2:
            raise InvalidKey(INVALID)
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise InvalidKey(INVALID) from None
        now = timezone.now()
        principal = principal_for(token, now=now)
        if principal is None:
            raise InvalidKey(INVALID)
        _record_use(request, principal.key, now)
        django_request = request._request
        django_request.org = principal.org
        django_request.membership = principal
        django_request.audit_via = f"API key {principal.label}"
        return (principal.user or AnonymousUser(), principal)

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
