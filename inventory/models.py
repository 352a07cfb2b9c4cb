"""The inventory: what a connection's cloud holds (Resource, Relationship), how each scan went (SyncRun),
what changed between scans (ResourceChange) and how many of each type there were per day (DailyCount).

Every model is org-owned (``org`` + ``OrgScopedManager``) and hangs off its connection with CASCADE, so
deleting a connection deletes its inventory in the same transaction. Rows are written by the sync
engine (``inventory/sync.py``) only, in bulk.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from orgs.scoping import OrgScopedManager

# Coverage of one (resource type, region) in one run. Only "collected" means the data was seen
# (evaluated); anything else is "not evaluated", never "empty".
COLLECTED = "collected"
DENIED = "denied"
THROTTLED = "throttled"
ERROR = "error"
SKIPPED = "skipped"
COVERAGE_STATUSES = (COLLECTED, DENIED, THROTTLED, ERROR, SKIPPED)
GLOBAL_REGION = "global"  # the region of a global collector's unit (IAM, S3 listing, ...)


class Resource(models.Model):
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="resources")
    # No single-column index: the composite indexes below start with it (every index is written for each
    # of the 100,000 rows of a first sync). The org's stays: the inventory stamp's newest id per org uses it.
    connection = models.ForeignKey(
        "connections.CloudConnection", on_delete=models.CASCADE, related_name="resources", db_index=False
    )
    provider = models.CharField(max_length=16)
    resource_type = models.CharField(max_length=100, help_text='With the provider prefix, e.g. "aws.ec2.instance".')
    native_id = models.CharField(max_length=2048, help_text="ARN / Azure resource id.")
    region = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=512, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    config = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    # When a sync last wrote the row (an unchanged resource's row is not rewritten): the time to show is
    # the later of this and its scope's last collection (inventory/seen.py: fill_last_seen).
    last_seen = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, help_text="When name, tags or config last changed.")
    # sha256 of the record's canonical form without its volatile keys (inventory/diff.py: record_hashes),
    # and of its whole config for a type that declares volatile keys: a re-sync compares these instead
    # of loading and diffing every row. Empty for a row no sync has hashed yet (it is diffed in full).
    content_hash = models.CharField(max_length=64, blank=True, default="")
    volatile_hash = models.CharField(max_length=64, blank=True, default="")

    objects = OrgScopedManager()

    class Meta:
        ordering = ["resource_type", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "native_id"], name="resource_unique_per_connection")
        ]
        # The explorer filters by these and pages through them in (column, id) order (keyset): each
        # index ends with id so a page deep in the list is read from the index, never sorted.
        indexes = [
            models.Index(fields=["org", "resource_type", "id"], name="resource_org_type_id"),
            models.Index(fields=["org", "region", "id"], name="resource_org_region_id"),
            models.Index(fields=["org", "name", "id"], name="resource_org_name_id"),
            models.Index(fields=["org", "last_seen", "id"], name="resource_org_lastseen_id"),
            models.Index(fields=["connection", "resource_type"], name="resource_conn_type"),
        ]
        # PostgreSQL also gets GIN indexes on tags and config (migration 0002) and trigram indexes for
        # the explorer's text search (migration 0004); SQLite skips them.

    def __str__(self) -> str:
        return f"{self.resource_type} {self.name or self.native_id}"


class Relationship(models.Model):
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    # Served by (connection, kind) and the unique (source, target, kind) below.
    connection = models.ForeignKey(
        "connections.CloudConnection", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    source = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="outgoing", db_index=False)
    target = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="incoming")
    kind = models.CharField(max_length=64)

    objects = OrgScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="relationship_unique"),
        ]
        indexes = [models.Index(fields=["connection", "kind"], name="relationship_conn_kind")]

    def __str__(self) -> str:
        return f"{self.source_id} -{self.kind}-> {self.target_id}"


class SyncRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partly collected"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    WROTE_INVENTORY = (Status.SUCCEEDED, Status.PARTIAL)

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="sync_runs")
    connection = models.ForeignKey("connections.CloudConnection", on_delete=models.CASCADE, related_name="sync_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0, help_text="Collector units finished.")
    progress_total = models.PositiveIntegerField(default=0, help_text="Collector units planned.")
    counts = models.JSONField(default=dict, blank=True, help_text='{"by_type": {}, "by_region": {}}')
    resource_count = models.PositiveIntegerField(default=0, help_text="Resources collected by this run.")
    api_calls = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    modified_count = models.PositiveIntegerField(default=0)
    deleted_count = models.PositiveIntegerField(default=0)
    unresolved_relations = models.PositiveIntegerField(
        default=0, help_text="Relationships whose target is not in the inventory (skipped)."
    )
    warnings = models.JSONField(default=list, blank=True, help_text="[{type, region, status, code, message}]")
    errors = models.JSONField(default=list, blank=True, help_text="[{type, region, code, message}]: run-level.")
    coverage = models.JSONField(default=dict, blank=True, help_text="{type: {region: status}}")
    completeness_percent = models.FloatField(default=0.0)
    cancel_requested = models.BooleanField(default=False)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    celery_task_id = models.CharField(max_length=255, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The database's half of "one sync per connection at a time" (the cache lock is the other).
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_sync_per_connection",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "-created_at"], name="syncrun_conn_created"),
            models.Index(fields=["status", "heartbeat_at"], name="syncrun_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"Sync #{self.pk} of {self.connection_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("inventory:run_detail", kwargs={"org_slug": self.org.slug, "run_id": self.pk})

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def coverage_table(self) -> tuple[list[str], list[tuple[str, list[tuple[str, int | None]]]]]:
        """(regions, [(type, [(status or "", resources collected or None) per region])]) for a type × region
        grid."""
        regions = sorted({r for by_region in self.coverage.values() for r in by_region}, key=_region_order)
        counts = (self.counts or {}).get("by_type_region", {})
        rows = [
            (
                rtype,
                [(self.coverage[rtype].get(region, ""), counts.get(rtype, {}).get(region)) for region in regions],
            )
            for rtype in sorted(self.coverage)
        ]
        return regions, rows


def _region_order(region: str) -> tuple[int, str]:
    return (0 if region == GLOBAL_REGION else 1, region)


class ResourceChange(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        MODIFIED = "modified", "Modified"
        DELETED = "deleted", "Deleted"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    # connection and resource: served by the (…, -created_at) indexes below.
    connection = models.ForeignKey(
        "connections.CloudConnection", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="changes")
    resource = models.ForeignKey(
        Resource, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes", db_index=False
    )
    # The resource's identity, kept when the resource itself is gone.
    resource_type = models.CharField(max_length=100)
    native_id = models.CharField(max_length=2048)
    name = models.CharField(max_length=512, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    diff = models.JSONField(default=dict, blank=True, help_text='{"config.path": {"old": ..., "new": ...}}')
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # The id is part of each: a sync's changes share one timestamp, and without it "the newest 15"
        # sorted every change of the last sync (a million at a first scan) to break the tie.
        indexes = [
            models.Index(fields=["resource", "-created_at", "-id"], name="change_resource_timeline_id"),
            models.Index(fields=["connection", "-created_at", "-id"], name="change_conn_created_id"),
            models.Index(fields=["org", "-created_at", "-id"], name="change_org_created_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.resource_type} {self.native_id}"


class DailyCount(models.Model):
    """How many resources of a type a connection had in a region on a day (the last sync of the day wins)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("connections.CloudConnection", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    resource_type = models.CharField(max_length=100)
    region = models.CharField(max_length=64, blank=True)
    count = models.PositiveIntegerField(default=0)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["date", "resource_type", "region"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "date", "resource_type", "region"], name="dailycount_unique_per_day"
            )
        ]
        indexes = [models.Index(fields=["org", "date"], name="dailycount_org_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.resource_type} {self.region}: {self.count}"
