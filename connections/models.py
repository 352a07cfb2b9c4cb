from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from cloustral import crypto
from orgs.scoping import OrgScopedManager


def new_external_id() -> str:
    """Per-connection External ID for the customer's role trust policy: random and unguessable,
    never chosen by the user (it defends against the confused-deputy problem)."""
    return f"cloustral-{secrets.token_urlsafe(24)}"


class CloudConnection(models.Model):
    class Provider(models.TextChoices):
        AWS = "aws", "AWS"
        AZURE = "azure", "Azure"

    class AuthMethod(models.TextChoices):
        AWS_ROLE = "aws_role", "IAM role (recommended)"
        AWS_KEYS = "aws_keys", "Access keys"
        AZURE_SP = "azure_sp", "Service principal"

    class Status(models.TextChoices):
        PENDING = "pending", "Not verified yet"
        VERIFIED = "verified", "Verified"
        FAILED = "failed", "Check failed"

    class ScanFrequency(models.TextChoices):
        MANUAL = "manual", "Manual only"
        HOURLY = "hourly", "Every hour"
        EVERY_6H = "6h", "Every 6 hours"
        DAILY = "daily", "Daily"

    class AwsScope(models.TextChoices):
        SINGLE = "single", "Single account"
        ORGANIZATION = "organization", "AWS Organization"
        MEMBER = "member", "Member account of an organization"

    class AzureCloud(models.TextChoices):
        PUBLIC = "public", "Azure (global)"
        CHINA = "china", "Azure China (21Vianet)"
        USGOV = "usgov", "Azure US Government"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="connections")
    uid = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, help_text="Stable identity, bound into the ciphertext."
    )
    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices)
    enabled = models.BooleanField(default=True)

    # AWS
    role_arn = models.CharField(max_length=600, blank=True)
    external_id = models.CharField(max_length=64, blank=True, default="")
    aws_account_id = models.CharField(max_length=12, blank=True)
    aws_account_alias = models.CharField(max_length=100, blank=True)
    enabled_regions = models.JSONField(
        default=list, blank=True, help_text="Regions enabled in the account, as discovered."
    )
    selected_regions = models.JSONField(default=list, blank=True, help_text="Regions to scan; empty means all enabled.")
    # An AWS Organization is one connection (its management or delegated administrator account) whose
    # scans discover the member accounts; each member is a connection of its own, managed by it
    # (connections/organization.py), so it has its own scans, coverage, inventory and findings.
    aws_scope = models.CharField(max_length=16, choices=AwsScope.choices, default=AwsScope.SINGLE)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="members",
        help_text="The organization connection a member account belongs to.",
    )
    left_organization_at = models.DateTimeField(
        null=True, blank=True, help_text="When the member account was last seen leaving the organization."
    )

    # Azure
    azure_cloud = models.CharField(max_length=16, choices=AzureCloud.choices, blank=True)
    tenant_id = models.CharField(max_length=100, blank=True)
    client_id = models.CharField(max_length=64, blank=True)
    subscriptions = models.JSONField(default=list, blank=True, help_text='[{"id", "name", "state"}]')

    # The secret: AWS access key pair, or the Azure client secret; AES-GCM bound to (org, uid).
    encrypted_secret = models.TextField(blank=True, default="")
    secret_changed_at = models.DateTimeField(null=True, blank=True)

    scan_frequency = models.CharField(
        max_length=8,
        choices=ScanFrequency.choices,
        default=ScanFrequency.DAILY,
        help_text="How often the inventory is scanned automatically.",
    )

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_code = models.CharField(max_length=64, blank=True)
    last_check_message = models.TextField(blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="connection_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("connections:detail", kwargs={"org_slug": self.org.slug, "connection_id": self.pk})

    # -- the secret ---------------------------------------------------------------------------
    def secret_aad(self) -> str:
        return f"connections.cloudconnection:{self.org_id}:{self.uid}"

    @property
    def has_secret(self) -> bool:
        return bool(self.encrypted_secret)

    @property
    def account_label(self) -> str:
        if self.provider == self.Provider.AWS:
            if self.aws_account_id:
                return f"{self.aws_account_id}" + (f" ({self.aws_account_alias})" if self.aws_account_alias else "")
            return ""
        return ", ".join(s.get("name") or s.get("id", "") for s in self.subscriptions)

    @property
    def is_organization(self) -> bool:
        return self.aws_scope == self.AwsScope.ORGANIZATION

    @property
    def is_member(self) -> bool:
        return self.aws_scope == self.AwsScope.MEMBER

    @property
    def scan_interval(self) -> timedelta | None:
        """Time between scheduled scans; None for manual-only connections."""
        return SCAN_INTERVALS.get(self.scan_frequency)

    @property
    def scan_regions(self) -> list[str]:
        return list(self.selected_regions or self.enabled_regions)


SCAN_INTERVALS: dict[str, timedelta] = {
    CloudConnection.ScanFrequency.HOURLY: timedelta(hours=1),
    CloudConnection.ScanFrequency.EVERY_6H: timedelta(hours=6),
    CloudConnection.ScanFrequency.DAILY: timedelta(days=1),
}

crypto.register_encrypted_field(CloudConnection, "encrypted_secret", CloudConnection.secret_aad)
