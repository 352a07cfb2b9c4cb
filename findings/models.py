"""Findings: what is wrong, what wastes money and what drifted, per resource and rule.

- ``Finding``: one row per (connection, rule, resource identity), upserted by every evaluation
  (``findings/lifecycle.py``): open → resolved → reopened, or suppressed by a member. The resource's
  identity (type, native id, name, region) is kept on the row so a finding outlives its resource.
- ``FindingEvent``: what happened to a finding and when (opened, resolved, reopened, suppressed ...):
  the source of emailed digests of new, resolved and regressed findings.
- ``RuleStatus``: per (connection, rule), the last evaluation's verdict: pass, fail or not evaluated
  (with why). The compliance view and "honest coverage" read it.
- ``CustomRule``, ``OrgPolicy``, ``Baseline``: what an organization adds to the built-in catalog. All three
  end up as rules of the one language (``findings/sources.py``).
- ``DailyFindingCount``: open findings per day, severity and category, for trend charts.
- ``OpenFindingCount``: open findings now, per connection, rule, severity and category (with their
  waste), kept by every writer of a finding's status (``findings/tallies.py``): the pages read these
  few rows instead of counting every open finding.

Every model is org-owned (``org`` + ``OrgScopedManager``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from orgs.scoping import OrgScopedManager


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFO = "info", "Info"


SEVERITY_ORDER = {s.value: i for i, s in enumerate(Severity)}  # critical first


class Category(models.TextChoices):
    SECURITY = "security", "Security"
    COST = "cost", "Cost"
    DRIFT = "drift", "Drift"
    HYGIENE = "hygiene", "Hygiene"


class RuleSource(models.TextChoices):
    BUILTIN = "builtin", "Built-in"
    CUSTOM = "custom", "Custom"
    POLICY = "policy", "Policy"
    BASELINE = "baseline", "Baseline"


class Finding(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        SUPPRESSED = "suppressed", "Suppressed"

    # No single-column indexes on these three: the composite indexes below start with each of them (every
    # index is paid for by each of the hundreds of thousands of rows an evaluation may write).
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="findings", db_index=False)
    connection = models.ForeignKey(
        "connections.CloudConnection", on_delete=models.CASCADE, related_name="findings", db_index=False
    )
    resource = models.ForeignKey(
        "inventory.Resource",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="findings",
        db_index=False,
    )
    rule_id = models.CharField(max_length=200)
    rule_source = models.CharField(max_length=16, choices=RuleSource.choices, default=RuleSource.BUILTIN)
    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    # The resource's identity, kept when the resource is gone.
    resource_type = models.CharField(max_length=100)
    native_id = models.CharField(max_length=2048)
    resource_name = models.CharField(max_length=512, blank=True)
    region = models.CharField(max_length=64, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveIntegerField(default=0)
    monthly_usd = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Estimated monthly waste (cost rules)."
    )
    detail = models.JSONField(default=dict, blank=True, help_text="Rule-specific facts, e.g. a drift's field diff.")

    suppressed_reason = models.TextField(blank=True)
    suppressed_until = models.DateTimeField(null=True, blank=True)
    suppressed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suppressed_at = models.DateTimeField(null=True, blank=True)
    # Set when the suppression came from an acceptance by rule and scope (lifting it reopens the finding).
    suppression_rule = models.ForeignKey(
        "findings.SuppressionRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    # 0 for critical … 4 for info, computed by the database from ``severity`` (no write path sets it), so
    # the list's default sort, most severe first, is served by an index instead of sorting every row.
    severity_rank = models.GeneratedField(
        expression=models.Case(
            *(models.When(severity=s, then=models.Value(rank)) for s, rank in SEVERITY_ORDER.items()),
            default=models.Value(len(SEVERITY_ORDER)),
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "rule_id", "native_id"], name="finding_unique_per_rule"),
        ]
        indexes = [
            models.Index(fields=["org", "status", "severity"], name="finding_org_status_sev"),
            models.Index(fields=["org", "status", "category"], name="finding_org_status_cat"),
            models.Index(fields=["org", "rule_id"], name="finding_org_rule"),
            models.Index(fields=["resource", "status"], name="finding_resource_status"),
            models.Index(fields=["connection", "status"], name="finding_conn_status"),
            # The findings list: open findings most severe first, newest first within a severity.
            models.Index(
                fields=["org", "status", "severity_rank", "-last_seen", "-id"], name="finding_org_status_rank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.resource_name or self.native_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("findings:detail", kwargs={"org_slug": self.org.slug, "finding_id": self.pk})

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class FindingEvent(models.Model):
    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        RESOLVED = "resolved", "Resolved"
        REOPENED = "reopened", "Reopened"
        SUPPRESSED = "suppressed", "Suppressed"
        UNSUPPRESSED = "unsuppressed", "Suppression lifted"
        # The exposure pass raised or lowered it: the resource became exposed, or latent (findings/exposure.py).
        SEVERITY = "severity", "Severity changed"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    # Served by the (finding, -at) index below.
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["org", "-at"], name="findingevent_org_at"),
            models.Index(fields=["finding", "-at"], name="findingevent_finding_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.finding_id} at {self.at:%Y-%m-%d %H:%M}"


class RuleStatus(models.Model):
    """The last verdict of one rule on one connection: the compliance view's cell."""

    class Verdict(models.TextChoices):
        PASS = "pass", "Pass"
        FAIL = "fail", "Fail"
        NOT_EVALUATED = "not_evaluated", "Not evaluated"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("connections.CloudConnection", on_delete=models.CASCADE, related_name="+")
    rule_id = models.CharField(max_length=200)
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    checked = models.PositiveIntegerField(default=0, help_text="Resources the rule ran on.")
    matched = models.PositiveIntegerField(default=0, help_text="Open findings (suppressed ones excluded).")
    # Scopes the rule could not run in: [{"type":, "region":, "reason":}] (a few; the count is exact).
    not_evaluated = models.JSONField(default=list, blank=True)
    not_evaluated_count = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    evaluated_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "rule_id"], name="rulestatus_unique"),
        ]
        indexes = [models.Index(fields=["org", "rule_id"], name="rulestatus_org_rule")]

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.connection_id}: {self.verdict}"


class CustomRule(models.Model):
    """A rule a member wrote, in the same language as the built-in catalog (docs/rules.md)."""

    class Format(models.TextChoices):
        YAML = "yaml", "YAML"
        JSON = "json", "JSON"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="custom_rules")
    rule_id = models.CharField(max_length=200, help_text='"custom." followed by the id written in the rule.')
    source = models.TextField(help_text="The rule document as the member wrote it.")
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.YAML)
    document = models.JSONField(default=dict, help_text="The parsed document (validated when saved).")
    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    enabled = models.BooleanField(default=True)
    # Empty: every connection of the organization.
    connections = models.ManyToManyField("connections.CloudConnection", blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["title", "id"]
        constraints = [models.UniqueConstraint(fields=["org", "rule_id"], name="customrule_unique_id")]

    def __str__(self) -> str:
        return self.rule_id


class OrgPolicy(models.Model):
    """An organization's rule of governance; each deviation is a drift finding."""

    class Kind(models.TextChoices):
        REQUIRED_TAGS = "required_tags", "Required tags"
        ALLOWED_REGIONS = "allowed_regions", "Allowed regions"
        ALLOWED_SIZES = "allowed_sizes", "Allowed instance / VM sizes"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # Empty: every type the kind applies to.
    resource_types = models.JSONField(default=list, blank=True)
    values = models.JSONField(default=list, help_text="Tag keys, regions or sizes.")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.MEDIUM)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def rule_id(self) -> str:
        return f"policy.{self.pk}"


class Baseline(models.Model):
    """The approved configuration of one resource; each later change to an approved field is drift."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("connections.CloudConnection", on_delete=models.CASCADE, related_name="+")
    resource = models.OneToOneField("inventory.Resource", on_delete=models.CASCADE, related_name="baseline")
    # {"config": {...}, "tags": {...}} as approved.
    approved = models.JSONField(default=dict)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedManager()

    class Meta:
        indexes = [models.Index(fields=["connection"], name="baseline_connection")]

    def __str__(self) -> str:
        return f"Baseline of {self.resource_id}"


class DailyFindingCount(models.Model):
    """Open findings of a connection on a day by severity and category (the last evaluation of the day wins)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("connections.CloudConnection", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    severity = models.CharField(max_length=16, choices=Severity.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    count = models.PositiveIntegerField(default=0)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["date", "severity", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "date", "severity", "category"], name="dailyfindingcount_unique"
            )
        ]
        indexes = [models.Index(fields=["org", "date"], name="dailyfindingcount_org_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.severity}/{self.category}: {self.count}"


class OpenFindingCount(models.Model):
    """How many findings of a (connection, rule) are open now, per severity and category, and their
    summed monthly waste. Recounted from the findings by ``findings/tallies.py`` in the transaction that
    changes them, so the dashboard and the findings list stay fast at a million findings."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("connections.CloudConnection", on_delete=models.CASCADE, related_name="+")
    rule_id = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    count = models.PositiveIntegerField(default=0)
    monthly_usd = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    objects = OrgScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "rule_id", "severity", "category"], name="openfindingcount_unique"
            )
        ]
        indexes = [models.Index(fields=["org", "rule_id"], name="openfindingcount_org_rule")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.severity}/{self.category}: {self.count}"


class SuppressionRule(models.Model):
    """Findings of one rule accepted once within a scope (a connection, a region, a tag, or all three):
    every matching finding is suppressed, now and after every later evaluation, until the rule expires or
    is lifted. Default-VPC boilerplate across 38 regions is one decision, not 38."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    rule_id = models.CharField(max_length=200)
    connection = models.ForeignKey(
        "connections.CloudConnection", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    region = models.CharField(max_length=64, blank=True, help_text="Empty: every region.")
    tag_key = models.CharField(max_length=128, blank=True, help_text="Empty: any tags.")
    tag_value = models.CharField(max_length=256, blank=True, help_text="Empty with a key: the key with any value.")
    reason = models.TextField()
    until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "rule_id"], name="suppressionrule_org_rule")]

    def __str__(self) -> str:
        return f"{self.rule_id} accepted in {self.scope_label}"

    @property
    def scope_label(self) -> str:
        parts = []
        if self.connection_id:
            parts.append(f"connection {self.connection.name}")
        if self.region:
            parts.append(f"region {self.region}")
        if self.tag_key:
            parts.append(f"tag {self.tag_key}={self.tag_value}" if self.tag_value else f"tag {self.tag_key}")
        return ", ".join(parts) or "every connection"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.lifted_at is None and (self.until is None or self.until > now)
