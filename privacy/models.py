"""What the privacy app keeps: consent choices, first-party analytics events, data exports, account
deletions in their grace period, the tombstones left after a purge, and contact requests.

What each row may hold is part of the privacy policy (templates/privacy/policy.html); docs/privacy.md
maps each promise to the code that keeps it.
"""

from __future__ import annotations

import secrets
from typing import Self

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.scoping import OrgScopedManager, OrgScopedQuerySet, OrgScopeError


class ConsentRecord(models.Model):
    """One choice made in the cookie banner. The choice itself lives in the browser (localStorage);
    this row is the proof of what was chosen, when, under which version of the policy."""

    browser_id = models.UUIDField(db_index=True, help_text="A random id the browser keeps next to its choice.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="consent_records"
    )
    analytics = models.BooleanField(help_text="True: analytics accepted; False: essential cookies only.")
    policy_version = models.CharField(max_length=20)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{'accepted' if self.analytics else 'declined'} analytics ({self.policy_version})"


class AnalyticsEvent(models.Model):
    """A page view or product event, sent by a browser whose owner accepted analytics. ``page`` is the
    name of the URL pattern (``dashboard:resource``), never the URL itself: URLs carry filters and ids."""

    name = models.CharField(max_length=40, db_index=True)
    page = models.CharField(max_length=120, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="analytics_events"
    )
    browser_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} {self.page}".strip()


class ExportJobQuerySet(OrgScopedQuerySet):
    # A person's exports are asked for by user, an organization's by org: either scopes the query.
    scope_fields = ("org", "user")

    def for_user(self, user) -> Self:
        if user is None or getattr(user, "pk", None) is None:
            raise OrgScopeError(f"ExportJob.objects.for_user() needs a saved user, got {user!r}.")
        return self._scoped_to("user", user)


class ExportJobManager(OrgScopedManager.from_queryset(ExportJobQuerySet)):
    pass


class ExportJob(models.Model):
    """An archive of a person's data or of an organization's, built in the background and delivered by
    an emailed link that works for the person who asked, until ``expires_at``."""

    class Kind(models.TextChoices):
        PERSON = "person", "Personal data"
        ORG = "org", "Organization data"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Being prepared"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=8, choices=Kind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs")
    org = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="export_jobs"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0, help_text="Tables written.")
    progress_total = models.PositiveIntegerField(default=0, help_text="Tables to write.")
    rows_written = models.PositiveBigIntegerField(default=0)
    current_table = models.CharField(max_length=100, blank=True)
    file_name = models.CharField(max_length=100, blank=True, help_text="The archive's name in EXPORT_DIR.")
    file_size = models.PositiveBigIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)

    objects = ExportJobManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} export {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        return int(100 * self.progress_done / self.progress_total) if self.progress_total else 0


def new_nonce() -> str:
    return secrets.token_hex(16)


class DeletionRequest(models.Model):
    """An account that asked to be deleted: deactivated now, purged after the grace period unless the
    person cancels. ``nonce`` is part of the cancel link, so a link from an earlier request is dead."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deletion_request")
    requested_at = models.DateTimeField(default=timezone.now)
    purge_after = models.DateTimeField(db_index=True)
    nonce = models.CharField(max_length=32, default=new_nonce, editable=False)

    class Meta:
        ordering = ["purge_after"]

    def __str__(self) -> str:
        return f"Deletion of user {self.user_id} after {self.purge_after:%Y-%m-%d}"


class Tombstone(models.Model):
    """All that remains of a purged account, as the privacy policy says: the email address, the Google
    account id (if any) and the deletion time. Used against abuse; a later sign-up with the same
    address or Google account is allowed and recorded in ``signed_up_again_at``."""

    email = models.EmailField(db_index=True)
    google_id = models.CharField(max_length=255, blank=True, db_index=True)
    deleted_at = models.DateTimeField(default=timezone.now)
    signed_up_again_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-deleted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} (deleted {self.deleted_at:%Y-%m-%d})"


class ContactRequest(models.Model):
    """A message sent from the contact page, kept for support staff; emailed to SUPPORT_EMAIL."""

    class Topic(models.TextChoices):
        SUPPORT = "support", "Support"
        PRIVACY = "privacy", "Privacy request"
        SECURITY = "security", "Security report"
        BILLING = "billing", "Billing"

    name = models.CharField(max_length=120)
    email = models.EmailField()
    topic = models.CharField(max_length=16, choices=Topic.choices)
    message = models.TextField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="contact_requests"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="When it reached SUPPORT_EMAIL.")
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True, help_text="When the sender's copy went out.")
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_topic_display()} from {self.email}"

    @property
    def reference(self) -> str:
        return f"C-{self.pk:06d}"
