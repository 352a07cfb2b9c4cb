"""API keys: an organization's (made by an admin; what it may do is its scope) or a member's personal
key (it carries that member's current role in the organization, narrowed by its scope).

Only the SHA-256 of a key is stored (``api/keys.py``); the key itself is shown once, when it is made.
A key stops working when it is revoked, when it expires, and (personal keys) when its owner leaves the
organization or is deactivated: every request loads the key and, for a personal key, the membership
afresh, so each of those takes effect on the next request.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.roles import Capability, role_can
from orgs.scoping import OrgScopedManager

C = Capability
# What the API asks of a write: the capabilities of a member (the role walk of the pages, the same matrix).
WRITE_CAPABILITIES = frozenset({C.RUN_SCANS, C.MANAGE_RULES, C.MANAGE_SUPPRESSIONS})


class ApiKey(models.Model):
    class Kind(models.TextChoices):
        ORGANIZATION = "org", "Organization key"
        PERSONAL = "personal", "Personal key"

    class Scope(models.TextChoices):
        READ = "read", "Read"
        READ_WRITE = "read_write", "Read and write"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="api_keys")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # A personal key's owner (it acts as them, with their current role); empty for an organization key.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key (hex).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "kind", "-created_at"], name="apikey_org_kind_created")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="personal", user__isnull=False) | models.Q(kind="org", user__isnull=True)),
                name="apikey_personal_has_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_personal(self) -> bool:
        return self.kind == self.Kind.PERSONAL

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def is_usable(self, now=None) -> bool:
        return not self.is_revoked and not self.is_expired(now)

    @property
    def status(self) -> str:
        if self.is_revoked:
            return "revoked"
        return "expired" if self.is_expired() else "active"

    @property
    def label(self) -> str:
        """How the audit log and the pages name it: never the key itself."""
        return f"{self.prefix}… ({self.name})"

    def allows(self, capability: str, role: str | None = None) -> bool:
        """What this key may do. An organization key acts as a viewer (read) or a member (read and
        write); a personal key as ``role`` (its owner's role now) — in both cases a read key reads only."""
        capability = Capability(capability)
        if self.scope == self.Scope.READ and capability != C.VIEW:
            return False
        if self.is_personal:
            return role is not None and role_can(role, capability)
        return capability == C.VIEW or (self.scope == self.Scope.READ_WRITE and capability in WRITE_CAPABILITIES)
