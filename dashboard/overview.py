"""The organization dashboard's numbers: plain functions over an organization, no HTTP.

Every function runs a fixed number of queries whatever the size of the inventory (the dashboard must
stay fast at 100,000 resources): counting happens in grouped queries, and Python only merges the few
grouped rows. Each function's docstring says which queries it runs.

- ``resource_counts(org)``: resources by provider, type (top N + other), region and connection.
- ``finding_counts(org)``: open findings by severity and category, per connection, and the estimated
  monthly waste (open cost findings).
- ``connection_status(org)``: each connection with its last scan.
- ``recent_changes(org)``: the latest resource changes, with the paths that changed.
- ``resource_trend(org)`` / ``finding_trend(org)``: one point per day over the last days, from the
  daily counts, carrying each connection's last known value over the days it was not scanned.
- ``overview(org)``: all of the above for the dashboard page, and which stage the organization is at
  (no connection yet, never scanned, or ready), skipping the queries a stage has no use for.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html_join

from connections.models import CloudConnection
from findings.models import Category, DailyFindingCount, Severity
from findings.queries import counts_by_severity_category
from inventory.models import GLOBAL_REGION, DailyCount, ResourceChange, SyncRun
from inventory.stats import grouped_counts, inventory_stamp

TOP_N = 8  # rows of a breakdown before the rest is folded into "Other"
TREND_DAYS = 30
TRENDS_CACHE_SECONDS = 6 * 3600
RECENT_CHANGES = 15
CHANGED_PATHS_SHOWN = 4

PROVIDER_LABELS = dict(CloudConnection.Provider.choices)
SEVERITY_LABELS = dict(Severity.choices)
CATEGORY_LABELS = dict(Category.choices)

# Stages of an organization, from its first day to everyday use (each has its own empty state).
STAGE_CONNECT = "connect"  # no connection yet
STAGE_SCAN = "scan"  # connections, none scanned successfully yet
STAGE_READY = "ready"


# --- shapes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """One row of a breakdown. ``key`` is the value to filter by (empty for the "Other" row);
    ``share`` is the count relative to the largest row, in steps of 5 (the bar's width class)."""

    key: str
    label: str
    count: int
    share: int = 0
    other: bool = False


@dataclass
class ResourceCounts:
    total: int = 0
    by_provider: list[Bucket] = field(default_factory=list)
    by_type: list[Bucket] = field(default_factory=list)
    by_region: list[Bucket] = field(default_factory=list)
    by_connection: list[Bucket] = field(default_factory=list)
    per_connection: dict[int, int] = field(default_factory=dict)
    type_count: int = 0
    region_count: int = 0


@dataclass
class FindingCounts:
    total: int = 0
    by_severity: list[Bucket] = field(default_factory=list)  # every severity, most severe first
    by_category: list[Bucket] = field(default_factory=list)  # every category
    per_connection: dict[int, int] = field(default_factory=dict)
    critical_high: int = 0
    monthly_waste: Decimal = Decimal("0")
    cost_findings: int = 0


@dataclass
class ConnectionStatus:
    connection: CloudConnection
    last_run: SyncRun | None
    scanned: bool  # a scan has written its inventory at least once
    warnings: int = 0
    resources: int = 0
    open_findings: int = 0

    @property
    def running(self) -> bool:
        return self.last_run is not None and self.last_run.is_active


@dataclass(frozen=True)
class Change:
    change: ResourceChange
    paths: list[str]  # the first few changed field paths
    more_paths: int  # how many more were not listed

    @property
    def resource_id(self) -> int | None:
        return self.change.resource_id


@dataclass
class Trend:
    """One value per day and series: ``series`` maps a key ("total", or a severity) to its values."""

    days: list[dt.date]
    series: dict[str, list[int]]
    labels: dict[str, str]

    def total_at(self, index: int) -> int:
        return sum(values[index] for values in self.series.values() if values)

    @property
    def first_total(self) -> int:
        return self.total_at(0) if self.days else 0

    @property
    def last_total(self) -> int:
        return self.total_at(-1) if self.days else 0

    @property
    def delta(self) -> int:
        """How much the total moved over the window (last day minus first day)."""
        return self.last_total - self.first_total

    def rows(self) -> list[tuple[dt.date, list[int]]]:
        """(day, [value per series]) rows, newest first: the charts' table fallback."""
        keys = list(self.series)
        return [(day, [self.series[k][i] for k in keys]) for i, day in reversed(list(enumerate(self.days)))]

    def table(self) -> list[tuple[str, str, str]]:
        """``rows()`` formatted here once: each day as (ISO date, "Mar 4", its value cells as HTML). The
        template would otherwise resolve, localize and escape every number of the table (a few hundred
        a page)."""
        return [
            (
                day.isoformat(),
                f"{MONTHS_3[day.month].title()} {day.day}",
                format_html_join("", '<td class="num">{}</td>', ((v,) for v in values)),
            )
            for day, values in self.rows()
        ]

    @property
    def series_labels(self) -> list[str]:
        return [self.labels.get(k, k) for k in self.series]

    def set_today(self, values: Mapping[str, int]) -> None:
        """Make the last point the live numbers (the day's counts are written by the last scan, so the
        chart ends where the page's headline numbers are)."""
        for key, series in self.series.items():
            if series:
                series[-1] = int(values.get(key, 0))

    def chart_data(self) -> dict[str, Any]:
        """The JSON the chart script reads (``json_script``): ISO dates and one list per series."""
        return {
            "labels": [d.isoformat() for d in self.days],
            "series": [{"key": k, "label": self.labels.get(k, k), "values": v} for k, v in self.series.items()],
        }


@dataclass
class Overview:
    stage: str
    connections: list[ConnectionStatus]
    resources: ResourceCounts = field(default_factory=ResourceCounts)
    findings: FindingCounts = field(default_factory=FindingCounts)
    changes: list[Change] = field(default_factory=list)
    resource_trend: Trend | None = None
    finding_trend: Trend | None = None
    trends_key: str = ""  # what the trend panels show, for their rendered HTML's cache

    @property
    def first_scan_running(self) -> ConnectionStatus | None:
        return next((c for c in self.connections if c.running), None)

    @property
    def breakdowns(self) -> list[tuple[str, str, list[Bucket]]]:
        """(explorer filter parameter, title, rows) of the resource breakdowns, in page order."""
        r = self.resources
        return [
            ("provider", "Resources by provider", r.by_provider),
            ("type", "By type", r.by_type),
            ("region", "By region", r.by_region),
            ("connection", "By connection", r.by_connection),
        ]


# --- helpers --------------------------------------------------------------------------------------


def _share(count: int, largest: int) -> int:
    if count <= 0 or largest <= 0:
        return 0
    return max(5, round(20 * count / largest) * 5)


def _buckets(counter: Mapping[str, int], label=lambda key: key, *, top: int | None = TOP_N) -> list[Bucket]:
    """Rows sorted by count (then label); beyond ``top``, the rest as one "Other" row."""
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], label(kv[0])))
    shown, rest = (ordered[:top], ordered[top:]) if top is not None and len(ordered) > top + 1 else (ordered, [])
    largest = max([n for _, n in shown] + [sum(n for _, n in rest)], default=0)
    rows = [Bucket(key, label(key), n, _share(n, largest)) for key, n in shown]
    if rest:
        n = sum(n for _, n in rest)
        rows.append(Bucket("", f"{len(rest)} other{'s' if len(rest) > 1 else ''}", n, _share(n, largest), True))
    return rows


def region_label(region: str) -> str:
    if region == GLOBAL_REGION:
        return "Global"
    return region or "No region"


def _today() -> dt.date:
    # The daily counts are dated in UTC (the sync engine's ``now.date()``, the evaluation's in a worker).
    return timezone.now().astimezone(dt.UTC).date()


def _window(days: int, today: dt.date | None = None) -> list[dt.date]:
    end = today or _today()
    return [end - dt.timedelta(days=days - 1 - i) for i in range(days)]


# --- resources ------------------------------------------------------------------------------------


def resource_counts(
    org, connection_names: Mapping[int, str] | None = None, *, top: int = TOP_N, stamp: str | None = None
) -> ResourceCounts:
    """Resources of ``org`` by provider, type (``top`` + "Other"), region (``top`` + "Other") and
    connection.

    Queries: ``inventory.stats.grouped_counts`` (one small query when cached, two when not), merged in
    Python; plus one for the connections' names unless ``connection_names`` is given.
    """
    rows = grouped_counts(org, stamp)
    by_provider: dict[str, int] = defaultdict(int)
    by_type: dict[str, int] = defaultdict(int)
    by_region: dict[str, int] = defaultdict(int)
    by_connection: dict[int, int] = defaultdict(int)
    total = 0
    for connection_id, provider, resource_type, region, n in rows:
        by_provider[provider] += n
        by_type[resource_type] += n
        by_region[region] += n
        by_connection[connection_id] += n
        total += n
    if connection_names is None:
        connection_names = dict(CloudConnection.objects.for_org(org).values_list("id", "name"))
    return ResourceCounts(
        total=total,
        by_provider=_buckets(by_provider, lambda p: PROVIDER_LABELS.get(p, p), top=None),
        by_type=_buckets(by_type, top=top),
        by_region=_buckets(by_region, region_label, top=top),
        by_connection=_buckets(
            {str(c): n for c, n in by_connection.items()},
            lambda c: connection_names.get(int(c), f"Connection {c}"),
            top=top,
        ),
        per_connection=dict(by_connection),
        type_count=len(by_type),
        region_count=len(by_region),
    )


# --- findings -------------------------------------------------------------------------------------


def finding_counts(org) -> FindingCounts:
    """Open findings of ``org`` by severity, by category and per connection, and the estimated monthly
    waste, as the dashboard shows them. Resolved and suppressed findings are not counted.

    Queries: one (``findings.queries.counts_by_severity_category``).
    """
    counts = counts_by_severity_category(org)
    largest = max(counts.by_severity.values(), default=0)
    largest_category = max(counts.by_category.values(), default=0)
    return FindingCounts(
        total=counts.total,
        by_severity=[
            Bucket(s, SEVERITY_LABELS.get(s, s), n, _share(n, largest)) for s, n in counts.by_severity.items()
        ],
        by_category=[
            Bucket(c, CATEGORY_LABELS.get(c, c), n, _share(n, largest_category)) for c, n in counts.by_category.items()
        ],
        per_connection=counts.per_connection,
        critical_high=counts.by_severity.get(Severity.CRITICAL, 0) + counts.by_severity.get(Severity.HIGH, 0),
        monthly_waste=counts.monthly_waste,
        cost_findings=counts.cost_findings,
    )


# --- connections ----------------------------------------------------------------------------------


def connection_status(org) -> list[ConnectionStatus]:
    """Each connection of ``org`` (by name) with its last scan (the latest SyncRun, whatever its status:
    a running scan shows as running), whether any scan ever wrote its inventory, and the last scan's
    number of warnings.

    Queries: two: the connections annotated with their last run's id (a correlated subquery on the
    (connection, -created_at) index) and whether a scan ever succeeded; then those runs by id.
    """
    runs = SyncRun.objects.for_org(org)
    last_run = runs.filter(connection=OuterRef("pk")).order_by("-created_at", "-id").values("id")[:1]
    scanned = runs.filter(connection=OuterRef("pk"), status__in=SyncRun.WROTE_INVENTORY)
    connections = list(
        CloudConnection.objects.for_org(org)
        .annotate(last_run_id=Subquery(last_run), ever_scanned=Exists(scanned))
        .order_by("name", "id")
    )
    run_ids = [c.last_run_id for c in connections if c.last_run_id]
    by_id: dict[int, SyncRun] = {}
    if run_ids:
        fields = (
            "id",
            "org_id",
            "connection_id",
            "status",
            "trigger",
            "created_at",
            "started_at",
            "finished_at",
            "completeness_percent",
            "resource_count",
            "warnings",
        )
        by_id = {r.pk: r for r in runs.filter(pk__in=run_ids).only(*fields)}
    statuses = []
    for conn in connections:
        run = by_id.get(conn.last_run_id) if conn.last_run_id else None
        if run is not None:
            run.connection = conn  # no query when a template follows run.connection
        statuses.append(
            ConnectionStatus(
                connection=conn,
                last_run=run,
                scanned=bool(conn.ever_scanned),
                warnings=len(run.warnings or []) if run is not None else 0,
            )
        )
    return statuses


# --- changes --------------------------------------------------------------------------------------


def recent_changes(org, limit: int = RECENT_CHANGES) -> list[Change]:
    """The latest ``limit`` resource changes of ``org`` (newest first), each with its kind and the first
    few changed field paths. A change of a deleted resource keeps its identity (type, native id, name)
    and has no resource.

    Queries: one (the (org, -created_at) index; the resource and connection joined, their JSON left out).
    """
    rows = (
        ResourceChange.objects.for_org(org)
        .select_related("resource", "connection")
        .only(
            "id",
            "kind",
            "diff",
            "created_at",
            "resource_type",
            "native_id",
            "name",
            "resource_id",
            "connection_id",
            "resource__id",
            "resource__name",
            "resource__resource_type",
            "resource__region",
            "connection__id",
            "connection__name",
            "connection__provider",
        )
        .order_by("-created_at", "-id")[:limit]
    )
    changes = []
    for change in rows:
        paths = sorted((change.diff or {}).keys())
        changes.append(Change(change, paths[:CHANGED_PATHS_SHOWN], max(0, len(paths) - CHANGED_PATHS_SHOWN)))
    return changes


# --- trends ---------------------------------------------------------------------------------------


def scan_days(org, since: dt.date) -> dict[int, set[dt.date]]:
    """{connection id: UTC days since ``since`` on which a scan wrote its inventory}. On such a day a
    connection without daily rows had nothing to count (zero), rather than "not scanned".

    Queries: one (distinct (connection, day) of the successful runs).
    """
    start = dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC)
    rows = (
        SyncRun.objects.for_org(org)
        .filter(status__in=SyncRun.WROTE_INVENTORY, finished_at__gte=start)
        .annotate(day=TruncDate("finished_at", tzinfo=dt.UTC))
        .values_list("connection_id", "day")
        .distinct()
        .order_by()
    )
    days: dict[int, set[dt.date]] = defaultdict(set)
    for connection_id, day in rows:
        days[connection_id].add(day)
    return dict(days)


def _last_dates_before(org, model, start: dt.date) -> dict[int, dt.date]:
    """{connection id: its last day with rows of ``model`` before ``start``} (one query: a correlated
    subquery per connection on the (connection, date, ...) unique index)."""
    last = (
        model.objects.for_org(org)
        .filter(connection=OuterRef("pk"), date__lt=start)
        .order_by("-date")
        .values("date")[:1]
    )
    rows = CloudConnection.objects.for_org(org).annotate(last=Subquery(last)).values_list("pk", "last")
    return {pk: last for pk, last in rows if last is not None}


def _daily_rows(org, model, days: list[dt.date], key_field: str | None) -> dict[int, dict[dt.date, dict[str, int]]]:
    """{connection: {day: {key: sum}}} for the window, plus each connection's last day before it (the
    value carried into the window). Queries: two (the last days before, then one grouped query)."""
    start, end = days[0], days[-1]
    before = _last_dates_before(org, model, start)
    window = Q(date__gte=start, date__lte=end)
    for connection_id, day in before.items():
        window |= Q(connection_id=connection_id, date=day)
    group = ("connection_id", "date", key_field) if key_field else ("connection_id", "date")
    rows = model.objects.for_org(org).filter(window).values_list(*group).annotate(n=Sum("count")).order_by()
    observed: dict[int, dict[dt.date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        connection_id, day, n = row[0], row[1], row[-1]
        key = row[2] if key_field else "total"
        observed[connection_id][day][key] = observed[connection_id][day].get(key, 0) + (n or 0)
    return observed


def _carry_forward(
    days: list[dt.date],
    observed: Mapping[int, Mapping[dt.date, Mapping[str, int]]],
    scanned_on: Mapping[int, Iterable[dt.date]],
    keys: Iterable[str],
) -> dict[str, list[int]]:
    """Sum the connections day by day; a connection with no rows on a day counts its last known values
    (zero on a day a scan wrote nothing to count, nothing before its first data)."""
    totals = {k: [0] * len(days) for k in keys}
    start = days[0]
    for connection_id in set(observed) | set(scanned_on):
        by_day = observed.get(connection_id, {})
        scanned = set(scanned_on.get(connection_id, ()))
        seed = [d for d in by_day if d < start]
        current: Mapping[str, int] = by_day[max(seed)] if seed else {}
        for i, day in enumerate(days):
            if day in by_day:
                current = by_day[day]
            elif day in scanned:
                current = {}
            for key, n in current.items():
                if key in totals:
                    totals[key][i] += n
    return totals


def resource_trend(org, days: int = TREND_DAYS, *, scanned_on: Mapping[int, Iterable[dt.date]] | None = None) -> Trend:
    """Total resources of ``org`` per day over the last ``days`` days (UTC days, today last), from
    DailyCount. A connection that was not scanned on a day has no rows that day: its last known total
    is carried forward, so the line does not dip.

    Queries: three (last day before the window per connection, the window's grouped sums, and the
    scan days, unless ``scanned_on`` is given).
    """
    window = _window(days)
    if scanned_on is None:
        scanned_on = scan_days(org, window[0])
    observed = _daily_rows(org, DailyCount, window, None)
    series = _carry_forward(window, observed, scanned_on, ["total"])
    return Trend(window, series, {"total": "Resources"})


def finding_trend(org, days: int = TREND_DAYS, *, scanned_on: Mapping[int, Iterable[dt.date]] | None = None) -> Trend:
    """Open findings of ``org`` per day and severity over the last ``days`` days, from
    DailyFindingCount, with the same carry-forward per connection as ``resource_trend``.

    Queries: three (as ``resource_trend``).
    """
    window = _window(days)
    if scanned_on is None:
        scanned_on = scan_days(org, window[0])
    observed = _daily_rows(org, DailyFindingCount, window, "severity")
    series = _carry_forward(window, observed, scanned_on, Severity.values)
    return Trend(window, series, SEVERITY_LABELS)


# --- the page -------------------------------------------------------------------------------------


def overview(org, *, days: int = TREND_DAYS, changes: int = RECENT_CHANGES) -> Overview:
    """Everything the dashboard shows, and the organization's stage.

    Queries: at most two for an organization with no scanned connection (its connections and their
    last runs); five once scanned and cached (connections 2, the stamp of the cached resource counts and
    trends 1, findings 1, changes 1), and eleven with an empty cache, whatever the number of resources,
    findings or days.
    """
    statuses = connection_status(org)
    if not statuses:
        return Overview(STAGE_CONNECT, statuses)
    if not any(s.scanned for s in statuses):
        return Overview(STAGE_SCAN, statuses)
    names = {s.connection.pk: s.connection.name for s in statuses}
    stamp = trends_stamp(org)  # one read for the cached resource counts and trends
    resources = resource_counts(org, names, stamp=stamp)
    findings = finding_counts(org)
    for status in statuses:
        status.resources = resources.per_connection.get(status.connection.pk, 0)
        status.open_findings = findings.per_connection.get(status.connection.pk, 0)
    key, res_trend, find_trend = trends(org, days, stamp)
    res_trend.set_today({"total": resources.total})
    find_trend.set_today({b.key: b.count for b in findings.by_severity})
    return Overview(
        STAGE_READY,
        statuses,
        resources=resources,
        findings=findings,
        changes=recent_changes(org, changes),
        resource_trend=res_trend,
        finding_trend=find_trend,
        trends_key=f"{key}:{resources.total}:{'-'.join(str(b.count) for b in findings.by_severity)}",
    )


def trends_stamp(org) -> str:
    """What would change if the trends did (one query): the inventory's stamp and the newest daily
    counts (a sync or an evaluation writes them, a suppression rewrites today's)."""
    return inventory_stamp(org, DailyCount, DailyFindingCount)


def trends(org, days: int = TREND_DAYS, stamp: str | None = None) -> tuple[str, Trend, Trend]:
    """(cache key, resource trend, finding trend), cached until the daily counts change or the day does:
    they only move when a sync or an evaluation writes, while the dashboard is read all day. The key
    also names the rendered panels (dashboard/home.html), with today's values.

    Queries: one when cached (the stamp), six when not.
    """
    window = _window(days)
    key = f"dashboard:trends:v1:{org.pk}:{window[0]}:{days}:{stamp or trends_stamp(org)}"
    cached = cache.get(key)
    if cached is None:
        scanned_on = scan_days(org, window[0])
        cached = (resource_trend(org, days, scanned_on=scanned_on), finding_trend(org, days, scanned_on=scanned_on))
        cache.set(key, cached, TRENDS_CACHE_SECONDS)
    return (key, *cached)
