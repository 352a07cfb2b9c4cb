"""The summary (digest) of what changed in an organization over a period: plain data built by a fixed
number of queries, whatever the size of the inventory (bench/digest.py measures it at 100,000 resources).

Sections, each under the automation's filters (connections, minimum severity, categories, rules):

- findings opened, resolved and regressed (reopened) in the period, by severity, from ``FindingEvent``,
  with the most severe ones still open (and the main resolved ones) linked;
- the change in estimated monthly waste: cost findings that became open count their ``monthly_usd`` in,
  those that stopped being open (resolved, suppressed) count it out. A finding's state at the start of
  the period is read from its first event in the period (an open finding can only be resolved or
  suppressed next, a closed one only reopened), priced at its current estimate;
- scans that failed or came back partial, and connections whose coverage dropped (the last scan of the
  period collected a smaller share than the last one before it);
- resources created, modified and deleted by the period's scans.

A digest is built once per period and stored as JSON on its run (``to_dict``/``from_dict``): a retry
sends exactly what the first attempt sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from connections.models import CloudConnection
from findings.models import SEVERITY_ORDER, Category, Finding, FindingEvent, Severity
from findings.queries import severity_rank
from inventory.models import SyncRun

TOP_FINDINGS = 10
TOP_RESOLVED = 5
SCANS_LISTED = 20
COVERAGE_DROP_POINTS = 0.5  # completeness lost before a connection is listed (percentage points)
E = FindingEvent.Kind
SEVERITY_LABELS = dict(Severity.choices)
CATEGORY_LABELS = dict(Category.choices)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DigestFilters:
    """What a digest looks at. ``connection_ids`` None: every connection of the organization."""

    connection_ids: tuple[int, ...] | None = None
    min_severity: str = Severity.INFO
    categories: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, automation) -> DigestFilters:
        """The filters of a saved automation (one query for its connections)."""
        ids = tuple(automation.connections.through.objects.filter(automation_id=automation.pk).values_list(
            "cloudconnection_id", flat=True
        ))  # fmt: skip
        return cls(
            connection_ids=ids or None,
            min_severity=automation.min_severity or Severity.INFO,
            categories=tuple(automation.categories or ()),
            rule_ids=tuple(automation.rule_ids or ()),
        )

    @property
    def severities(self) -> list[str]:
        limit = SEVERITY_ORDER.get(self.min_severity, len(SEVERITY_ORDER))
        return [s for s, rank in SEVERITY_ORDER.items() if rank <= limit]

    def finding_q(self, prefix: str = "") -> Q:
        q = Q()
        if self.connection_ids is not None:
            q &= Q(**{f"{prefix}connection_id__in": self.connection_ids})
        if self.min_severity != Severity.INFO:
            q &= Q(**{f"{prefix}severity__in": self.severities})
        if self.categories:
            q &= Q(**{f"{prefix}category__in": self.categories})
        if self.rule_ids:
            q &= Q(**{f"{prefix}rule_id__in": self.rule_ids})
        return q

    def describe(self, connection_names: Mapping[int, str]) -> list[str]:
        out = []
        if self.connection_ids is not None:
            names = sorted(connection_names.get(pk, f"#{pk}") for pk in self.connection_ids)
            out.append("Connections: " + ", ".join(names))
        if self.min_severity != Severity.INFO:
            out.append(f"Severity: {SEVERITY_LABELS.get(self.min_severity, self.min_severity)} and above")
        if self.categories:
            out.append("Categories: " + ", ".join(CATEGORY_LABELS.get(c, c) for c in self.categories))
        if self.rule_ids:
            out.append("Rules: " + ", ".join(self.rule_ids))
        return out

    @property
    def includes_cost(self) -> bool:
        return not self.categories or Category.COST in self.categories


@dataclass
class FindingLine:
    id: int
    title: str
    severity: str
    rule_id: str
    resource: str
    connection: str
    region: str
    change: str  # new | regressed | resolved
    monthly_usd: str | None
    url: str

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS.get(self.severity, self.severity)


@dataclass
class ScanLine:
    id: int
    connection: str
    status: str
    status_label: str
    finished_at: str
    completeness: float
    message: str
    url: str


@dataclass
class CoverageDrop:
    connection: str
    before: float
    after: float
    url: str


def _severity_counts() -> dict[str, int]:
    return dict.fromkeys(Severity.values, 0)


@dataclass
class Digest:
    org_name: str
    org_slug: str
    period_start: datetime
    period_end: datetime
    filters: list[str] = field(default_factory=list)
    new: dict[str, int] = field(default_factory=_severity_counts)
    resolved: dict[str, int] = field(default_factory=_severity_counts)
    regressed: dict[str, int] = field(default_factory=_severity_counts)
    top: list[FindingLine] = field(default_factory=list)
    top_resolved: list[FindingLine] = field(default_factory=list)
    open_now: dict[str, int] = field(default_factory=_severity_counts)
    includes_cost: bool = True
    waste_now: Decimal = ZERO
    waste_added: Decimal = ZERO
    waste_removed: Decimal = ZERO
    scans_total: int = 0
    scans_failed_total: int = 0
    scans_failed: list[ScanLine] = field(default_factory=list)
    coverage_drops: list[CoverageDrop] = field(default_factory=list)
    resources_created: int = 0
    resources_modified: int = 0
    resources_deleted: int = 0
    findings_url: str = ""

    # -- totals ------------------------------------------------------------------------------------
    @property
    def new_total(self) -> int:
        return sum(self.new.values())

    @property
    def resolved_total(self) -> int:
        return sum(self.resolved.values())

    @property
    def regressed_total(self) -> int:
        return sum(self.regressed.values())

    @property
    def open_total(self) -> int:
        return sum(self.open_now.values())

    @property
    def waste_delta(self) -> Decimal:
        return (self.waste_added - self.waste_removed).quantize(Decimal("0.01"))

    @property
    def is_empty(self) -> bool:
        """Nothing changed: by default no summary is sent."""
        return not (
            self.new_total
            or self.resolved_total
            or self.regressed_total
            or self.waste_added
            or self.waste_removed
            or self.scans_failed_total
            or self.coverage_drops
            or self.resources_created
            or self.resources_deleted
        )

    def severity_rows(self) -> list[tuple[str, str, int, int, int]]:
        """(severity, label, new, regressed, resolved) for the severities with any change."""
        return [
            (s, SEVERITY_LABELS[s], self.new[s], self.regressed[s], self.resolved[s])
            for s in Severity.values
            if self.new[s] or self.regressed[s] or self.resolved[s]
        ]

    @property
    def headline(self) -> str:
        """ "3 new findings, 1 regressed, 2 resolved" (or why it was worth sending)."""
        parts = []
        if self.new_total:
            parts.append(f"{self.new_total} new finding{'s' if self.new_total != 1 else ''}")
        if self.regressed_total:
            parts.append(f"{self.regressed_total} regressed")
        if self.resolved_total:
            parts.append(f"{self.resolved_total} resolved")
        if self.scans_failed_total:
            parts.append(f"{self.scans_failed_total} scan{'s' if self.scans_failed_total != 1 else ''} need attention")
        if not parts and (self.resources_created or self.resources_deleted):
            parts.append(f"{self.resources_created} resources created, {self.resources_deleted} deleted")
        return ", ".join(parts) or "No changes"

    # -- JSON snapshot -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("period_start", "period_end"):
            data[key] = getattr(self, key).isoformat()
        for key in ("waste_now", "waste_added", "waste_removed"):
            data[key] = str(getattr(self, key))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Digest:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("period_start", "period_end"):
            values[key] = parse_datetime(values[key])
        for key in ("waste_now", "waste_added", "waste_removed"):
            values[key] = Decimal(values.get(key) or "0")
        values["top"] = [FindingLine(**line) for line in values.get("top", [])]
        values["top_resolved"] = [FindingLine(**line) for line in values.get("top_resolved", [])]
        values["scans_failed"] = [ScanLine(**line) for line in values.get("scans_failed", [])]
        values["coverage_drops"] = [CoverageDrop(**line) for line in values.get("coverage_drops", [])]
        return cls(**values)


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _finding_lines(org, rows: Iterable[Mapping[str, Any]], names: Mapping[int, str], start, change=None) -> list:
    lines = []
    for row in rows:
        usd = row["monthly_usd"]
        lines.append(
            FindingLine(
                id=row["id"],
                title=row["title"],
                severity=row["severity"],
                rule_id=row["rule_id"],
                resource=row["resource_name"] or row["native_id"],
                connection=names.get(row["connection_id"], ""),
                region=row["region"],
                change=change or ("new" if row["first_seen"] > start else "regressed"),
                monthly_usd=None if usd is None else str(usd),
                url=absolute(reverse("findings:detail", kwargs={"org_slug": org.slug, "finding_id": row["id"]})),
            )
        )
    return lines


LINE_FIELDS = (
    "id",
    "title",
    "severity",
    "rule_id",
    "resource_name",
    "native_id",
    "connection_id",
    "region",
    "monthly_usd",
    "first_seen",
)


def build_digest(org, filters: DigestFilters, start: datetime, end: datetime) -> Digest:
    """What changed in ``org`` in (start, end] under ``filters``. Nine queries, whatever the data size."""
    names = dict(CloudConnection.objects.for_org(org).values_list("pk", "name"))
    if filters.connection_ids is not None:
        # Connections deleted since the automation was saved drop out (their data went with them).
        filters = DigestFilters(
            tuple(pk for pk in filters.connection_ids if pk in names),
            filters.min_severity,
            filters.categories,
            filters.rule_ids,
        )
    digest = Digest(
        org_name=org.name,
        org_slug=org.slug,
        period_start=start,
        period_end=end,
        filters=filters.describe(names),
        includes_cost=filters.includes_cost,
        findings_url=absolute(reverse("findings:list", kwargs={"org_slug": org.slug})),
    )
    _findings_section(org, filters, digest, names)
    _waste_section(org, filters, digest)
    _scans_section(org, filters, digest, names)
    return digest


def _findings_section(org, filters: DigestFilters, digest: Digest, names: Mapping[int, str]) -> None:
    start, end = digest.period_start, digest.period_end
    events = FindingEvent.objects.for_org(org).filter(at__gt=start, at__lte=end).filter(filters.finding_q("finding__"))
    by_kind = {E.OPENED: digest.new, E.REOPENED: digest.regressed, E.RESOLVED: digest.resolved}
    rows = (
        events.filter(kind__in=list(by_kind))
        .values_list("kind", "finding__severity")
        .annotate(n=Count("finding_id", distinct=True))
        .order_by()
    )
    for kind, severity, n in rows:
        counts = by_kind[kind]
        counts[severity] = counts.get(severity, 0) + n

    findings = Finding.objects.for_org(org).annotate(rank=severity_rank())
    if digest.new_total or digest.regressed_total:
        changed = events.filter(kind__in=[E.OPENED, E.REOPENED]).values("finding_id")
        top = (
            findings.filter(pk__in=changed, status=Finding.Status.OPEN)
            .order_by("rank", F("monthly_usd").desc(nulls_last=True), "-last_seen", "-id")
            .values(*LINE_FIELDS)[:TOP_FINDINGS]
        )
        digest.top = _finding_lines(org, top, names, start)
    if digest.resolved_total:
        resolved = events.filter(kind=E.RESOLVED).values("finding_id")
        top = (
            findings.filter(pk__in=resolved, status=Finding.Status.RESOLVED)
            .order_by("rank", F("monthly_usd").desc(nulls_last=True), "-resolved_at", "-id")
            .values(*LINE_FIELDS)[:TOP_RESOLVED]
        )
        digest.top_resolved = _finding_lines(org, top, names, start, change="resolved")

    open_rows = (
        Finding.objects.for_org(org)
        .filter(filters.finding_q(), status=Finding.Status.OPEN)
        .values_list("severity", "category")
        .annotate(n=Count("id"), usd=Sum("monthly_usd"))
        .order_by()
    )
    waste = Decimal("0")
    for severity, category, n, usd in open_rows:
        digest.open_now[severity] = digest.open_now.get(severity, 0) + n
        if category == Category.COST:
            waste += usd or Decimal("0")
    digest.waste_now = waste.quantize(Decimal("0.01"))


def _waste_section(org, filters: DigestFilters, digest: Digest) -> None:
    if not filters.includes_cost:
        return
    start, end = digest.period_start, digest.period_end
    in_period = FindingEvent.objects.for_org(org).filter(at__gt=start, at__lte=end)
    first_kind = Subquery(in_period.filter(finding=OuterRef("pk")).order_by("at", "id").values("kind")[:1])
    was_open = Q(first_kind__in=[E.RESOLVED, E.SUPPRESSED])
    is_open = Q(status=Finding.Status.OPEN)
    totals = (
        Finding.objects.for_org(org)
        .filter(filters.finding_q(), category=Category.COST, monthly_usd__isnull=False)
        .filter(Exists(in_period.filter(finding=OuterRef("pk"))))
        .annotate(first_kind=first_kind)
        .aggregate(
            added=Sum("monthly_usd", filter=is_open & ~was_open),
            removed=Sum("monthly_usd", filter=~is_open & was_open),
        )
    )
    digest.waste_added = (totals["added"] or Decimal("0")).quantize(Decimal("0.01"))
    digest.waste_removed = (totals["removed"] or Decimal("0")).quantize(Decimal("0.01"))


def _scans_section(org, filters: DigestFilters, digest: Digest, names: Mapping[int, str]) -> None:
    start, end = digest.period_start, digest.period_end
    runs = SyncRun.objects.for_org(org).filter(finished_at__gt=start, finished_at__lte=end)
    if filters.connection_ids is not None:
        runs = runs.filter(connection_id__in=filters.connection_ids)
    bad = Q(status__in=[SyncRun.Status.FAILED, SyncRun.Status.PARTIAL])
    wrote = Q(status__in=list(SyncRun.WROTE_INVENTORY))
    totals = runs.aggregate(
        total=Count("id"),
        bad=Count("id", filter=bad),
        created=Sum("created_count", filter=wrote),
        modified=Sum("modified_count", filter=wrote),
        deleted=Sum("deleted_count", filter=wrote),
    )
    digest.scans_total = totals["total"] or 0
    digest.scans_failed_total = totals["bad"] or 0
    digest.resources_created = totals["created"] or 0
    digest.resources_modified = totals["modified"] or 0
    digest.resources_deleted = totals["deleted"] or 0
    labels = dict(SyncRun.Status.choices)
    if digest.scans_failed_total:
        listed = runs.filter(bad).order_by("-finished_at", "-id").values(
            "id", "connection_id", "status", "finished_at", "completeness_percent", "errors", "warnings"
        )[:SCANS_LISTED]  # fmt: skip
        digest.scans_failed = [
            ScanLine(
                id=row["id"],
                connection=names.get(row["connection_id"], ""),
                status=row["status"],
                status_label=labels.get(row["status"], row["status"]),
                finished_at=row["finished_at"].isoformat(),
                completeness=round(row["completeness_percent"] or 0.0, 1),
                message=_scan_message(row),
                url=absolute(reverse("inventory:run_detail", kwargs={"org_slug": org.slug, "run_id": row["id"]})),
            )
            for row in listed
        ]

    wrote_runs = SyncRun.objects.for_org(org).filter(
        connection=OuterRef("pk"), status__in=list(SyncRun.WROTE_INVENTORY)
    )
    last_in = wrote_runs.filter(finished_at__gt=start, finished_at__lte=end).order_by("-finished_at", "-id")
    last_before = wrote_runs.filter(finished_at__lte=start).order_by("-finished_at", "-id")
    connections = CloudConnection.objects.for_org(org)
    if filters.connection_ids is not None:
        connections = connections.filter(pk__in=filters.connection_ids)
    rows = (
        connections.annotate(
            after=Subquery(last_in.values("completeness_percent")[:1]),
            before=Subquery(last_before.values("completeness_percent")[:1]),
            after_run=Subquery(last_in.values("pk")[:1]),
        )
        .filter(after__isnull=False, before__isnull=False)
        .order_by("name", "id")
        .values_list("name", "before", "after", "after_run")
    )
    digest.coverage_drops = [
        CoverageDrop(
            connection=name,
            before=round(before, 1),
            after=round(after, 1),
            url=absolute(reverse("inventory:run_detail", kwargs={"org_slug": org.slug, "run_id": run_id})),
        )
        for name, before, after, run_id in rows
        if before - after >= COVERAGE_DROP_POINTS
    ]


def _scan_message(row: Mapping[str, Any]) -> str:
    errors = row.get("errors") or []
    if errors:
        return str(errors[0].get("message") or errors[0].get("code") or "")[:300]
    warnings = row.get("warnings") or []
    if warnings:
        return f"{len(warnings)} part{'s' if len(warnings) != 1 else ''} could not be collected."
    return ""
