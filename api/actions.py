"""Making and revoking API keys: atomic, audit-logged, shared by the keys page and tests.

The key is returned once by ``do_create_api_key`` and never stored: only its SHA-256 is."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from api import keys
from api.models import ApiKey

A = AuditEvent.Action


class ApiKeyError(ValueError):
    """The key cannot be made; the message says why, for the person who asked."""


def do_create_api_key(
    org,
    *,
    user,
    kind: str,
    name: str,
    scope: str = ApiKey.Scope.READ,
    expires_at: datetime | None = None,
    request=None,
) -> tuple[ApiKey, str]:
    """(the key's row, the key itself — to show once). A personal key belongs to ``user``."""
    name = (name or "").strip()
    if not name:
        raise ApiKeyError("Name the key after what will use it, e.g. “SIEM export”.")
    if kind not in ApiKey.Kind.values or scope not in ApiKey.Scope.values:
        raise ApiKeyError("Choose the kind of key and its scope.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiKeyError("The expiry must be in the future.")
    token = keys.new_token()
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            org=org,
            kind=kind,
            user=user if kind == ApiKey.Kind.PERSONAL else None,
            name=name[:100],
            scope=scope,
            prefix=keys.visible_prefix(token),
            token_hash=keys.hash_token(token),
            created_by=user,
            expires_at=expires_at,
        )
        audit.record(
            A.API_KEY_CREATED,
            request=request,
            actor=user,
            org=org,
            target=api_key.label,
            kind=kind,
            scope=scope,
            expires_at=expires_at.isoformat() if expires_at else None,
        )
    return api_key, token


def do_revoke_api_key(api_key: ApiKey, *, user, request=None) -> bool:
    """Revoke at once (the next request with it gets 401). False when it already was revoked."""
    with transaction.atomic():
        updated = (
            ApiKey.objects.for_org(api_key.org_id)
            .filter(pk=api_key.pk, revoked_at__isnull=True)
            .update(revoked_at=timezone.now(), revoked_by=user)
        )
        if not updated:
            return False
        api_key.refresh_from_db()
        audit.record(
            A.API_KEY_REVOKED,
            request=request,
            actor=user,
            org=api_key.org,
            target=api_key.label,
            kind=api_key.kind,
        )
    return True
