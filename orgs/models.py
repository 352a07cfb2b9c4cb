"""Organizations (the tenants), who belongs to them with which role, and invitations to join."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Self

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.roles import Capability, Role, role_can
from orgs.scoping import OrgScopedManager, OrgScopedQuerySet, OrgScopeError


class Organization(models.Model):
    """A customer. Every byte of cloud data belongs to exactly one organization."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=50, unique=True, help_text="In every URL of the organization: /o/<slug>/")
    require_mfa = models.BooleanField(
        default=False, help_text="Members without two-factor authentication must enroll before they see org data."
    )
    created_at = models.DateTimeField(default=timezone.now)
    processing_paused_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set while an owner has paused all processing (the right to restriction): no scans, no "
        "automations, until they resume.",
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("dashboard:home", kwargs={"org_slug": self.slug})

    @property
    def processing_paused(self) -> bool:
        return self.processing_paused_at is not None


class MembershipQuerySet(OrgScopedQuerySet):
    # A membership list is legitimately asked for one organization (its members) or for one user
    # (their organizations); either scopes the query.
    scope_fields = ("org", "user")

    def for_user(self, user) -> Self:
        if user is None or getattr(user, "pk", None) is None:
            raise OrgScopeError(f"Membership.objects.for_user() needs a saved user, got {user!r}.")
        return self._scoped_to("user", user)

    def owners(self) -> Self:
        return self.filter(role=Role.OWNER)


class MembershipManager(OrgScopedManager.from_queryset(MembershipQuerySet)):
    pass


class Membership(models.Model):
    """A user's place in an organization. Loaded afresh on every request (no caching), so a role
    change or a removal takes effect on the member's next request."""

    Role = Role

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(
        null=True, blank=True, help_text="When the member last opened this organization (the home page goes there)."
    )

    objects = MembershipManager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "org"], name="orgs_membership_unique_user_org")]
        indexes = [models.Index(fields=["user", "-last_used_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.org_id} as {self.role}"

    def can(self, capability: str) -> bool:
        return role_can(self.role, capability)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role.values else self.role


# ``membership.can_manage_connections`` and friends, one per capability of the matrix.
for _capability in Capability:
    setattr(Membership, f"can_{_capability.value}", property(lambda self, c=_capability: self.can(c)))
del _capability


class InvitationQuerySet(OrgScopedQuerySet):
    def open(self) -> Self:
        """Neither accepted nor revoked (may be expired)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)

    def pending(self) -> Self:
        """Open and not expired: the link works."""
        return self.open().filter(expires_at__gt=timezone.now())


class InvitationManager(OrgScopedManager.from_queryset(InvitationQuerySet)):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """An invitation to join an organization, sent by email.

    The link carries a random 256-bit token; only its SHA-256 is stored, so a database leak does not
    hand out working links. The link expires (``expires_at``), works once (``accepted_at``, set by a
    conditional update), and stops working when revoked or resent (resending replaces the token).
    ``status`` is derived from those timestamps (one source of truth, expiry needs no job); query
    with ``.open()`` / ``.pending()``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations_sent"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "email"]), models.Index(fields=["email"])]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.org_id} as {self.role}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    def set_token(self, token: str) -> None:
        self.token_hash = hash_token(token)

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    @property
    def status_label(self) -> str:
        return self.Status(self.status).label

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role.values else self.role
