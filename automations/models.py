"""Automations: what an organization asks Cloustral to do on its own, where it sends the result, and a
record of every delivery.

- ``Automation``: a trigger (a schedule, or "after each scan" of chosen connections), an action (scan then
  summarize, or only summarize), the summary's filters and the channels it goes to.
- ``Channel``: where summaries go: members' email (chosen members or roles), a Slack incoming webhook or a
  signed HTTPS webhook. URLs and the signing secret are encrypted at rest (``cloustral.crypto``).
- ``AutomationRun``: one firing for one period, unique per (automation, key): the database's half of
  "a period is covered exactly once". It keeps the digest it sent (a snapshot), so a retry resends the
  same content.
- ``Delivery``: one message to one recipient of one channel (unique per run), with its status, tries,
  provider message id and error. Every email the product sends is recorded here too
  (``automations.mail.TrackingBackend``), with no run.
- ``EmailEvent`` and ``Suppression``: what the email provider reported (bounces, complaints ...), and the
  addresses nothing is sent to until an admin clears them.
- ``EmailPreference`` and ``Unsubscription``: a person's choices (profile page, one-click unsubscribe).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone as dj_tz

from accounts.models import validate_timezone
from cloustral import crypto
from orgs.scoping import OrgScopedManager, OrgScopedQuerySet


class Automation(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "On a schedule"
        AFTER_SCAN = "after_scan", "After each scan"

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    class Action(models.TextChoices):
        SCAN_AND_SUMMARIZE = "scan_and_summarize", "Scan the connections, then send a summary"
        SUMMARIZE = "summarize", "Send a summary of what changed"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="automations")
    name = models.CharField(max_length=120)
    enabled = models.BooleanField(default=True, help_text="A paused automation never fires.")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    hour = models.PositiveSmallIntegerField(default=8, help_text="Local hour of the day (0-23).")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    action = models.CharField(max_length=24, choices=Action.choices, default=Action.SUMMARIZE)
    # Empty: every connection of the organization (scanned, watched, and summarized).
    connections = models.ManyToManyField("connections.CloudConnection", blank=True, related_name="+")
    min_severity = models.CharField(max_length=16, default="info", help_text="Findings at least this severe.")
    categories = models.JSONField(default=list, blank=True, help_text="Finding categories; empty: all.")
    rule_ids = models.JSONField(default=list, blank=True, help_text="Rule ids; empty: all.")
    send_when_empty = models.BooleanField(default=False, help_text="Send even when nothing changed.")
    channels = models.ManyToManyField("Channel", blank=True, related_name="automations")

    next_run_at = models.DateTimeField(null=True, blank=True, help_text="The next scheduled slot (UTC).")
    scans_since = models.DateTimeField(
        null=True, blank=True, help_text="After-scan: scans finished since this (its creation or resumption) fire it."
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_tz.now)
    updated_at = models.DateTimeField(default=dj_tz.now)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["trigger", "enabled", "next_run_at"], name="automation_due"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("automations:detail", kwargs={"org_slug": self.org.slug, "automation_id": self.pk})

    @property
    def scans(self) -> bool:
        return self.action == self.Action.SCAN_AND_SUMMARIZE

    @property
    def trigger_summary(self) -> str:
        """ "Daily at 09:00 (Europe/Paris)", "Mondays at 08:00 (UTC)", "After each scan"."""
        if self.trigger == self.Trigger.AFTER_SCAN:
            return "After each scan"
        when = f"{self.hour:02d}:00 ({self.timezone})"
        if self.frequency == self.Frequency.WEEKLY:
            return f"{self.Weekday(self.weekday).label}s at {when}"
        return f"Daily at {when}"


class Channel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        WEBHOOK = "webhook", "Webhook"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="automation_channels")
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Bound into the ciphertexts.")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # Email: members in these roles, and these members (user ids); resolved at send time among the
    # organization's current members, so an address outside the organization is never used.
    roles = models.JSONField(default=list, blank=True)
    member_ids = models.JSONField(default=list, blank=True)
    # Slack / webhook: the URL (a Slack webhook URL is itself a credential) and, for webhooks, the HMAC key.
    encrypted_url = models.TextField(blank=True, default="")
    url_hint = models.CharField(max_length=200, blank=True, help_text="Scheme and host, for display.")
    encrypted_secret = models.TextField(blank=True, default="")
    secret_created_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_tz.now)
    updated_at = models.DateTimeField(default=dj_tz.now)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="channel_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name

    def url_aad(self) -> str:
        return f"automations.channel:{self.uid}:url"

    def secret_aad(self) -> str:
        return f"automations.channel:{self.uid}:secret"

    @property
    def has_secret(self) -> bool:
        return bool(self.encrypted_secret)


crypto.register_encrypted_field(Channel, "encrypted_url", Channel.url_aad)
crypto.register_encrypted_field(Channel, "encrypted_secret", Channel.secret_aad)


class AutomationRun(models.Model):
    class Status(models.TextChoices):
        SCANNING = "scanning", "Scanning"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        PARTIAL = "partial", "Partly sent"
        FAILED = "failed", "Failed"
        EMPTY = "empty", "Nothing new (not sent)"
        SKIPPED = "skipped", "Skipped"

    FINAL = (Status.SENT, Status.PARTIAL, Status.FAILED, Status.EMPTY, Status.SKIPPED)

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs")
    # "schedule:<slot UTC>", "scan:<sync run id>", "manual:<uuid>": unique per automation.
    key = models.CharField(max_length=100)
    reason = models.CharField(max_length=200, blank=True, help_text="Why it fired, for people.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    note = models.TextField(blank=True, help_text="Why it was skipped, or what went wrong.")
    sync_run_ids = models.JSONField(default=list, blank=True, help_text="Scans it started (scan action).")
    scans_deadline = models.DateTimeField(null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    digest = models.JSONField(null=True, blank=True, help_text="The summary as built once for this period.")
    created_at = models.DateTimeField(default=dj_tz.now)
    updated_at = models.DateTimeField(default=dj_tz.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["automation", "key"], name="automationrun_once_per_key")]
        indexes = [
            models.Index(fields=["automation", "-created_at"], name="automationrun_automation"),
            models.Index(fields=["status", "updated_at"], name="automationrun_status"),
        ]

    def __str__(self) -> str:
        return f"Run {self.key} of automation {self.automation_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("automations:run", kwargs={"org_slug": self.org.slug, "automation_run_id": self.pk})

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class Delivery(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        WEBHOOK = "webhook", "Webhook"

    class Category(models.TextChoices):
        DIGEST = "digest", "Summary"
        TEST = "test", "Test"
        SYSTEM = "system", "Account email"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Will retry"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Not sent: address suppressed"
        SKIPPED = "skipped", "Not sent"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Marked as spam"
        REJECTED = "rejected", "Rejected by the provider"

    UNSENT = (Status.PENDING, Status.SENDING, Status.RETRYING)
    FAILURES = (Status.FAILED, Status.BOUNCED, Status.COMPLAINED, Status.REJECTED, Status.SUPPRESSED)

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Sent to receivers to dedupe.")
    org = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="Empty for account emails (sign-up, password reset ...).",
    )  # fmt: skip
    automation = models.ForeignKey(Automation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    automation_name = models.CharField(max_length=120, blank=True)
    run = models.ForeignKey(AutomationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    channel_name = models.CharField(max_length=120, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.SYSTEM)
    recipient = models.CharField(max_length=254, help_text="The email address, or the webhook's host.")
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker started sending it.")
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=dj_tz.now)
    updated_at = models.DateTimeField(default=dj_tz.now)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            # A retried run creates no second delivery: it resends only what was not sent.
            models.UniqueConstraint(
                fields=["run", "channel", "recipient"], condition=Q(run__isnull=False), name="delivery_once_per_run"
            ),
        ]
        indexes = [
            models.Index(fields=["org", "-created_at"], name="delivery_org_created"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_next"),
            models.Index(fields=["recipient", "-created_at"], name="delivery_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"

    @property
    def is_failure(self) -> bool:
        return self.status in self.FAILURES


class EmailEvent(models.Model):
    """What the email provider reported about a message, from its signed tracking webhook."""

    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    org = models.ForeignKey("orgs.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    address = models.EmailField(max_length=254)
    event_type = models.CharField(max_length=32)
    esp_name = models.CharField(max_length=64, blank=True)
    event_id = models.CharField(max_length=255, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    mta_response = models.TextField(blank=True)
    occurred_at = models.DateTimeField(default=dj_tz.now)
    received_at = models.DateTimeField(default=dj_tz.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # A provider retrying its webhook is stored once.
            models.UniqueConstraint(
                fields=["esp_name", "event_id", "address"], condition=~Q(event_id=""), name="emailevent_once"
            )
        ]
        indexes = [models.Index(fields=["address", "-received_at"], name="emailevent_address")]

    def __str__(self) -> str:
        return f"{self.event_type} for {self.address}"


class SuppressionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(cleared_at__isnull=True)


class Suppression(models.Model):
    """An address nothing is sent to (a hard bounce or a complaint) until an admin clears it."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", "Hard bounce"
        COMPLAINED = "complained", "Spam complaint"

    address = models.EmailField(max_length=254)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    event = models.ForeignKey(EmailEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_tz.now)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = SuppressionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["address"], condition=Q(cleared_at__isnull=True), name="suppression_one_active_per_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"

    @property
    def is_active(self) -> bool:
        return self.cleared_at is None


class EmailPreference(models.Model):
    """A person's notification settings (profile → Notifications)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preference")
    digests = models.BooleanField(default=True, help_text="Emailed summaries from automations.")
    updated_at = models.DateTimeField(default=dj_tz.now)

    def __str__(self) -> str:
        return f"Email preferences of {self.user_id}"


class UnsubscriptionQuerySet(OrgScopedQuerySet):
    scope_fields = ("org", "user")

    def for_user(self, user):
        return self._scoped_to("user", user)


class Unsubscription(models.Model):
    """One person no longer receives one automation's emails (one-click link or profile)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="unsubscriptions")
    created_at = models.DateTimeField(default=dj_tz.now)

    objects = OrgScopedManager.from_queryset(UnsubscriptionQuerySet)()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "automation"], name="unsubscription_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} unsubscribed from {self.automation_id}"
