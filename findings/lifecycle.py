"""Evaluate a connection's inventory against the organization's rules and upsert its findings.

    evaluate_connection(connection)     after every sync (inventory.hooks), after a rule change
                                        (findings.tasks), and from tests or a command alike

One finding per (connection, rule, resource native id):

* matched, no row            → open (event "opened")
* matched, resolved          → open again, reopened_count + 1 (event "reopened": a regression)
* matched, open/suppressed   → last_seen, title, cost and detail refreshed
* suppressed past its expiry → open (event "unsuppressed")
* not matched where the rule WAS evaluated (its resource type, and every type it reads through a
  relationship, collected in the connection's last sync) → resolved (event "resolved")
* not matched where the rule was NOT evaluated (denied, throttled, error, never collected) → untouched:
  data nobody saw never resolves anything
* the rule is gone (custom rule disabled or deleted, policy removed) → resolved

Everything is written in one transaction per connection, serialized per connection by a row lock, so a
crash leaves the previous findings and two evaluations never interleave. Running it twice in a row
changes nothing the second time.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from findings import tallies
from findings.exposure_findings import apply_exposure, severity_for, severity_note
from findings.models import Category, DailyFindingCount, Finding, FindingEvent, RuleSource, RuleStatus, Severity
from findings.rules import ResourceIndex, Scope, evaluate
from findings.rules.language import RECORD_FIELDS
from findings.sources import BASELINE_RULE_ID, BASELINE_TITLE, OrgRule, baseline_drift, org_rules
from inventory.coverage import last_coverage, last_run, scope_region
from inventory.models import Relationship, Resource
from inventory.sync import analyze_after_large_write
from inventory.sync import insert_rows as write_rows

logger = logging.getLogger(__name__)
F = Finding.Status
E = FindingEvent.Kind
MAX_NOT_EVALUATED_LISTED = 20
ID_CHUNK = 900  # ids per "pk IN (...)" (under SQLite's historical 999-variable limit)


def as_record(row: tuple) -> dict[str, Any]:
    """A Resource's ``values_list(*RECORD_FIELDS)`` row as a rule-engine record (the language's record
    fields are Resource columns of the same names)."""
    return dict(zip(RECORD_FIELDS, row, strict=True))


@dataclass
class EvaluationSummary:
    connection_id: int
    rules: int = 0
    resources: int = 0
    opened: int = 0
    reopened: int = 0
    resolved: int = 0
    unsuppressed: int = 0
    open_total: int = 0
    not_evaluated_rules: int = 0
    rule_errors: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class _Meta:
    """What a finding row copies from its rule."""

    title: str
    severity: str
    category: str
    source: str
    types: frozenset[str] | None = None  # the rule's resource types (None: any, e.g. baseline drift)


def load_index(connection) -> ResourceIndex:
    """The connection's inventory as rule-engine records, each with its coverage ``scope``
    (``inventory.coverage.scope_region``) so the engine's scopes line up with the sync's coverage."""
    records = []
    rows = Resource.objects.for_org(connection.org_id).filter(connection=connection).values_list(*RECORD_FIELDS)
    for row in rows.iterator(chunk_size=5000):
        rec = as_record(row)
        rec["scope"] = scope_region(rec["resource_type"], rec["region"], rec["native_id"])
        records.append(rec)
    rels = (
        Relationship.objects.for_org(connection.org_id)
        .filter(connection=connection)
        .values_list("source_id", "target_id", "kind")
    )
    return ResourceIndex(records, rels.iterator(chunk_size=5000))


def evaluate_connection(connection, *, now: datetime | None = None, delta=None) -> EvaluationSummary:
    """Evaluate the connection's rules and write its findings. ``delta`` (``inventory.hooks.InventoryDelta``)
    is what the sync that just wrote changed: then only the resources it can concern are evaluated again
    (findings/incremental.py), when that is sound; without it, everything is."""
    from findings import incremental

    started = time.perf_counter()
    now = now or timezone.now()
    summary = EvaluationSummary(connection.pk)
    run = last_run(connection)  # the inventory this evaluation judges (see _mark_if_overtaken)
    coverage = last_coverage(connection)
    if not coverage:
        # No sync ever wrote this connection's inventory: there is nothing to judge yet.
        summary.seconds = time.perf_counter() - started
        return summary
    rules, summary.problems = org_rules(connection.org, providers=[connection.provider])
    applicable = [r for r in rules if r.connection_ids is None or connection.pk in r.connection_ids]
    targets = _plan_increment(connection, applicable, coverage, delta, now)
    if targets is not None and targets.nothing:
        _confirm_unchanged(connection, now, run)
        summary.rules = len(applicable) + 1
        summary.seconds = time.perf_counter() - started
        logger.info("connection %s: nothing changed since its last evaluation", connection.pk)
        return summary
    if targets is None:
        index = load_index(connection)
        evaluation = evaluate([r.rule for r in applicable], index, coverage={connection.pk: coverage}, now=now)
    else:
        index = targets.index
        evaluation = incremental.evaluate_targets(applicable, targets, {connection.pk: coverage}, now)
    if targets is not None and not incremental.counts_stay_exact(connection, applicable, evaluation, targets):
        targets, index = None, load_index(connection)
        evaluation = evaluate([r.rule for r in applicable], index, coverage={connection.pk: coverage}, now=now)
    drift = baseline_drift(connection, index.by_id if targets is None else {i: index.by_id[i] for i in targets.ids})
    summary.rules = len(applicable) + 1
    summary.resources = len(index)
    summary.rule_errors = evaluation.errors

    # (rule id) → {resource id: (monthly usd, detail)}
    matches: dict[str, dict[Any, tuple[float | None, dict]]] = {}
    metas: dict[str, _Meta] = {}
    for org_rule in applicable:
        rule = org_rule.rule
        result = evaluation.results[rule.id]
        metas[rule.id] = _Meta(
            rule.title, rule.severity, rule.category, org_rule.source, frozenset(rule.resource_types)
        )
        matches[rule.id] = {rid: (result.costs.get(rid), {}) for rid in result.matched}
    metas[BASELINE_RULE_ID] = _Meta(BASELINE_TITLE, Severity.MEDIUM, Category.DRIFT, RuleSource.BASELINE)
    matches[BASELINE_RULE_ID] = {rid: (None, detail) for rid, detail in drift.items()}
    if targets is not None:
        targets.restrict(matches)
    apply_exposure(index, matches)  # severity by real reachability; combined findings keep whole chains only

    # A resource whose collector could not read a setting the rule reads was not judged by it.
    unread = {(r.rule_id, index.by_id[rid]["native_id"]) for r in evaluation.results.values() for rid in r.unreadable}

    def evaluated(rule_id: str, resource_type: str, region: str, native_id: str) -> bool:
        scope = Scope(connection.pk, resource_type, scope_region(resource_type, region, native_id))
        if rule_id == BASELINE_RULE_ID:
            return coverage.get((scope.resource_type, scope.region)) == "collected"
        result = evaluation.results.get(rule_id)
        return result is not None and scope in result.evaluated and (rule_id, native_id) not in unread

    with transaction.atomic():
        # Serialize evaluations of one connection (a sync's and a rule change's may overlap).
        type(connection).objects.for_org(connection.org_id).select_for_update().filter(pk=connection.pk).first()
        _apply(connection, now, index, matches, metas, evaluated, summary, targets)
        from findings.bulk import apply_scope_suppressions  # accepted by rule and scope: new findings too

        apply_scope_suppressions(connection, now=now)
        if targets is None:
            _write_rule_status(connection, now, applicable, evaluation, drift, coverage, index)
        else:
            _update_rule_status(connection, now, applicable, evaluation, targets)
        _write_daily_counts(connection, now)
        _mark_if_overtaken(connection, run)
    # A first evaluation of a large account writes hundreds of thousands of findings: until the planner
    # knows, the pages' queries over them are planned for an empty table.
    analyze_after_large_write(summary.opened + summary.reopened + summary.resolved, ANALYZED_COLUMNS)
    summary.not_evaluated_rules = sum(1 for r in evaluation.results.values() if r.not_evaluated and not r.matched)
    summary.seconds = time.perf_counter() - started
    logger.info(
        "evaluated connection %s: %d rules over %d resources, %d opened, %d reopened, %d resolved in %.2fs",
        connection.pk,
        summary.rules,
        summary.resources,
        summary.opened,
        summary.reopened,
        summary.resolved,
        summary.seconds,
    )
    return summary


def _plan_increment(connection, applicable, coverage, delta, now):
    """What to evaluate again after the sync ``delta`` describes (findings/incremental.py); None for
    everything, also when planning fails: a full evaluation is always right."""
    from findings import incremental
    from findings.rules.evaluate import Interrupt

    if delta is None:
        return None
    try:
        return incremental.plan(connection, applicable, coverage, delta, now)
    except Interrupt:
        raise
    except Exception:
        logger.exception("connection %s: planning an incremental evaluation failed; evaluating all", connection.pk)
        return None


def _usd(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 2)))


# The columns the pages filter, join and sort findings and their events by.
ANALYZED_COLUMNS = {
    Finding: ("org_id", "status", "connection_id", "resource_id", "rule_id", "severity", "severity_rank"),
    FindingEvent: ("org_id", "finding_id", "at"),
}


def _apply(connection, now, index, matches, metas, evaluated, summary, targets=None) -> None:
    """Write what changed: new findings, state changes (reopened, resolved, suppression expired, title,
    severity, cost, detail...) with their events. A finding that still matches unchanged is not written:
    its ``last_seen`` is when the evaluation last changed it (an open finding is, by being open, seen by
    the connection's last evaluation: ``RuleStatus.evaluated_at``)."""
    org_id = connection.org_id
    existing: dict[tuple[str, str], _Row] = {(f.rule_id, f.native_id): f for f in _candidates(connection, targets)}
    # New findings as value rows (a first evaluation creates thousands: no model instance for each).
    to_create: list[tuple] = []
    to_update: list[Finding] = []  # rows whose state changed
    events: list[tuple[Finding | int, str, str]] = []  # (finding, or its position in to_create; kind, note)
    seen: set[tuple[str, str]] = set()

    for rule_id, matched in matches.items():
        meta = metas[rule_id]
        for rid, (usd, detail) in matched.items():
            rec = index.by_id[rid]
            key = (rule_id, rec["native_id"])
            seen.add(key)
            row = existing.get(key)
            if row is None:
                events.append((len(to_create), E.OPENED, ""))
                identity = (org_id, connection.pk, rule_id, rec["native_id"], now, now)
                to_create.append((*identity, *_NEW_STATE, *_copied(rec, meta, usd, detail)))
                summary.opened += 1
                continue
            expired = row.status == F.SUPPRESSED and row.suppressed_until and row.suppressed_until <= now
            if row.status != F.RESOLVED and not expired:
                if _copied(rec, meta, usd, detail) == tuple(getattr(row, name) for name in _COPIED):
                    continue  # still matches, unchanged: nothing to write
            finding = row.finding(connection)
            before = _state(finding)
            if finding.status == F.RESOLVED:
                finding.status = F.OPEN
                finding.resolved_at = None
                finding.reopened_count += 1
                events.append((finding, E.REOPENED, ""))
                summary.reopened += 1
            elif finding.status == F.SUPPRESSED and finding.suppressed_until and finding.suppressed_until <= now:
                _lift_suppression(finding)
                events.append((finding, E.UNSUPPRESSED, "The suppression expired."))
                summary.unsuppressed += 1
            severity = finding.severity
            _copy(finding, rec, meta, usd, detail, now)
            if finding.severity != severity and finding.status == F.OPEN:  # e.g. it became exposed
                events.append((finding, E.SEVERITY, severity_note(severity, finding)))
            if _state(finding) != before:
                to_update.append(finding)

    for key, row in existing.items():
        if key in seen or row.status == F.RESOLVED:
            continue
        finding = row
        if key[0] not in matches:
            note = "The rule was turned off or removed."
        elif metas[key[0]].types is not None and finding.resource_type not in metas[key[0]].types:
            note = "The rule no longer covers this resource type."
        elif finding.resource_id is not None and finding.resource_id not in index.by_id:
            continue  # the row exists but is not this connection's any more: leave it be
        elif evaluated(key[0], finding.resource_type, finding.region, finding.native_id):
            note = "" if finding.resource_id is not None else "The resource no longer exists."
        else:
            continue  # not evaluated: nobody saw the data, so nothing is resolved
        finding = row.finding(connection)
        finding.status = F.RESOLVED
        finding.resolved_at = now
        if finding.suppressed_at:
            _lift_suppression(finding)
        to_update.append(finding)
        events.append((finding, E.RESOLVED, note))
        summary.resolved += 1

    created = insert_rows(Finding, _NEW_FIELDS, to_create, returning=True)
    _update_findings(org_id, to_update)
    insert_rows(
        FindingEvent,
        ("org", "finding", "kind", "at", "note"),
        [(org_id, created[f] if type(f) is int else f.pk, kind, now, note) for f, kind, note in events],
    )
    summary.open_total = Finding.objects.for_org(org_id).filter(connection=connection, status=F.OPEN).count()


UPDATE_CHUNK = 2000
_EMPTY_DICT = object()
# Field types whose Python value is already what the database driver takes (no preparation).
_AS_IS = frozenset(
    {"CharField", "TextField", "ForeignKey", "IntegerField", "PositiveIntegerField", "BigIntegerField", "BooleanField"}
)


def insert_rows(model, names: Sequence[str], rows: list[tuple], *, returning: bool = False) -> list[Any]:
    """INSERT ``rows`` (value tuples in ``names`` order, as the model's attributes would hold them) without
    a model instance per row: the values are prepared column by column as bulk_create prepares them, then
    written by the one bulk writer, ``inventory.sync.insert_rows`` (COPY on PostgreSQL). Returns the new
    primary keys in row order when ``returning``."""
    if not rows:
        return []
    fields = [model._meta.get_field(name) for name in names]
    columns = [_prepared(field, values) for field, values in zip(fields, zip(*rows, strict=True), strict=True)]
    keys = (model._meta.pk.column,) if returning else ()
    written = write_rows(model, tuple(f.column for f in fields), zip(*columns, strict=True), returning=keys)
    return [row[0] for row in written]


def _prepared(field, values: tuple) -> tuple:
    """A column's values as bulk_create hands them to the driver (``get_db_prep_save``), prepared once per
    distinct date (an evaluation's rows share its clock) and once for all the empty ones (most findings
    have no cost and no detail)."""
    kind = field.get_internal_type()
    if kind in _AS_IS:
        return values
    prep = field.get_db_prep_save
    cache: dict[Any, Any] = {}
    out = []
    for value in values:
        if value is None or kind == "DateTimeField":
            key = value
        elif type(value) is dict and not value:
            key = _EMPTY_DICT
        else:
            out.append(prep(value, db_connection))
            continue
        if key not in cache:
            cache[key] = prep(value, db_connection)
        out.append(cache[key])
    return tuple(out)


def _update_findings(org_id: int, findings: list[Finding]) -> None:
    """Write the changed findings' state. PostgreSQL: one UPDATE joining unnested arrays per chunk (one
    parameter per column); elsewhere Django's bulk_update, whose CASE per field and row is quadratic in
    its batch, hence small batches."""
    if not findings:
        return
    names = [*(name.removesuffix("_id") for name in _STATE_FIELDS), "last_seen"]
    if db_connection.vendor != "postgresql":
        Finding.objects.for_org(org_id).bulk_update(findings, names, batch_size=100)
        return
    fields = [Finding._meta.get_field(name) for name in names]
    columns = [f.column for f in fields]
    casts = ", ".join(f"%s::{f.db_type(db_connection)}[]" for f in fields)
    table = Finding._meta.db_table
    sql = (
        f"UPDATE {table} AS f SET {', '.join(f'{c} = v.{c}' for c in columns)} "  # noqa: S608 (model names)
        f"FROM unnest(%s::bigint[], {casts}) AS v(id, {', '.join(columns)}) WHERE f.id = v.id AND f.org_id = %s"
    )
    with db_connection.cursor() as cursor:
        for start in range(0, len(findings), UPDATE_CHUNK):
            chunk = findings[start : start + UPDATE_CHUNK]
            arrays = [[f.pk for f in chunk]]
            for field in fields:
                values = [getattr(f, field.attname) for f in chunk]
                arrays.append([json.dumps(v) for v in values] if field.get_internal_type() == "JSONField" else values)
            cursor.execute(sql, [*arrays, org_id])


_STATE_FIELDS = (
    "status",
    "resolved_at",
    "reopened_count",
    "resource_id",
    "title",
    "severity",
    "category",
    "rule_source",
    "resource_type",
    "resource_name",
    "region",
    "monthly_usd",
    "detail",
    "suppressed_reason",
    "suppressed_until",
    "suppressed_by_id",
    "suppressed_at",
    "suppression_rule_id",
)


class _Row:
    """A stored finding as read for an evaluation: its state only. Most findings still match unchanged
    and are never written, so a model instance is built only for the ones that change."""

    __slots__ = ("pk", "rule_id", "native_id", *_STATE_FIELDS)

    def __init__(self, values: tuple) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)

    def finding(self, connection) -> Finding:
        state = {name: getattr(self, name) for name in _STATE_FIELDS}
        return Finding(
            pk=self.pk, org_id=connection.org_id, connection=connection, rule_id=self.rule_id,
            native_id=self.native_id, **state,
        )  # fmt: skip


_COPIED = (
    "resource_id",
    "title",
    "severity",
    "category",
    "rule_source",
    "resource_type",
    "resource_name",
    "region",
    "monthly_usd",
    "detail",
)


def _copied(rec, meta: _Meta, usd, detail) -> tuple:
    """What ``_copy`` would set, in _COPIED order (to tell an unchanged finding without building it)."""
    return (
        rec["id"],
        meta.title[:300],
        severity_for(meta.severity, detail),
        meta.category,
        meta.source,
        rec["resource_type"],
        (rec.get("name") or "")[:512],
        rec.get("region") or "",
        _usd(usd),
        detail,
    )


# A new finding's row (lifecycle._apply): its identity, its clock, the model's defaults for its state, then
# what it copies from its rule and resource.
_NEW_STATE_FIELDS = (
    "status",
    "resolved_at",
    "reopened_count",
    "suppressed_reason",
    "suppressed_until",
    "suppressed_by",
    "suppressed_at",
    "suppression_rule",
)
_NEW_STATE = tuple(Finding._meta.get_field(name).get_default() for name in _NEW_STATE_FIELDS)
_NEW_FIELDS = (
    "org",
    "connection",
    "rule_id",
    "native_id",
    "first_seen",
    "last_seen",
    *_NEW_STATE_FIELDS,
    *(name.removesuffix("_id") for name in _COPIED),
)


def _candidates(connection, targets) -> Iterable[_Row]:
    """The findings an evaluation decides again: all of the connection's, or (incremental) those of the
    target resources and of the resources deleted by the sync."""
    findings = Finding.objects.for_org(connection.org_id).filter(connection=connection)
    fields = _Row.__slots__
    if targets is None:
        yield from map(_Row, findings.values_list(*fields).iterator(chunk_size=5000))
        return
    if targets.wide:
        for row in map(_Row, findings.values_list(*fields).iterator(chunk_size=5000)):
            if row.resource_id in targets.clock_only:
                if row.rule_id in targets.clock_rules:
                    yield row
            elif row.resource_id in targets.ids or (row.resource_id is None and row.native_id in targets.deleted):
                yield row
        return
    ids = sorted(targets.ids - targets.clock_only)
    for start in range(0, len(ids), ID_CHUNK):
        yield from map(_Row, findings.filter(resource_id__in=ids[start : start + ID_CHUNK]).values_list(*fields))
    ids = sorted(targets.clock_only)
    clock_rules = sorted(targets.clock_rules)
    for start in range(0, len(ids), ID_CHUNK):
        chunk = findings.filter(resource_id__in=ids[start : start + ID_CHUNK], rule_id__in=clock_rules)
        yield from map(_Row, chunk.values_list(*fields))
    gone = sorted(targets.deleted)
    for start in range(0, len(gone), ID_CHUNK):
        chunk = findings.filter(resource__isnull=True, native_id__in=gone[start : start + ID_CHUNK])
        yield from map(_Row, chunk.values_list(*fields))


def _state(finding: Finding) -> tuple:
    """Everything an evaluation may change on a finding, except last_seen (also the fields it saves)."""
    return tuple(getattr(finding, name) for name in _STATE_FIELDS)


def _copy(finding: Finding, rec, meta: _Meta, usd, detail, now) -> None:
    finding.resource_id = rec["id"]
    finding.resource_type = rec["resource_type"]
    finding.native_id = rec["native_id"]
    finding.resource_name = (rec.get("name") or "")[:512]
    finding.region = rec.get("region") or ""
    finding.title = meta.title[:300]
    finding.severity = severity_for(meta.severity, detail)
    finding.category = meta.category
    finding.rule_source = meta.source
    finding.monthly_usd = _usd(usd)
    finding.detail = detail
    finding.last_seen = now


def _lift_suppression(finding: Finding) -> None:
    if finding.status == F.SUPPRESSED:
        finding.status = F.OPEN
    finding.suppressed_reason = ""
    finding.suppressed_until = None
    finding.suppressed_by = None
    finding.suppressed_at = None
    finding.suppression_rule = None


def _unreadable_entries(result, index: ResourceIndex) -> list[dict[str, str]]:
    """The resources a rule could not judge because a setting it reads was unreadable."""
    entries = []
    for rid, keys in sorted(result.unreadable.items(), key=lambda item: str(item[0]))[:MAX_NOT_EVALUATED_LISTED]:
        rec = index.by_id[rid]
        entries.append(
            {
                "type": rec["resource_type"],
                "region": rec.get("scope") or rec.get("region") or "",
                "resource": rec["native_id"],
                "reason": "could not read " + ", ".join(keys),
            }
        )
    return entries


def _write_rule_status(connection, now, applicable: list[OrgRule], evaluation, drift, coverage, index) -> None:
    """One verdict per (connection, rule): fail when open findings exist, else "not evaluated" when
    any scope was not seen (honest coverage), else pass."""
    org_id = connection.org_id
    open_by_rule = Counter(
        Finding.objects.for_org(org_id).filter(connection=connection, status=F.OPEN).values_list("rule_id", flat=True)
    )
    V = RuleStatus.Verdict
    rows = []
    for org_rule in applicable:
        result = evaluation.results[org_rule.id]
        listed = [
            {"type": s.resource_type, "region": s.region, "reason": why}
            for s, why in sorted(result.not_evaluated.items())[:MAX_NOT_EVALUATED_LISTED]
        ]
        listed += _unreadable_entries(result, index)[: MAX_NOT_EVALUATED_LISTED - len(listed)]
        if open_by_rule[org_rule.id]:
            verdict = V.FAIL
        elif result.not_evaluated or result.unreadable or not result.evaluated:
            verdict = V.NOT_EVALUATED
        else:
            verdict = V.PASS
        if not result.evaluated and not result.not_evaluated:
            listed = [
                {"type": t, "region": "", "reason": "not collected by any sync"} for t in org_rule.rule.resource_types
            ]
        rows.append(
            RuleStatus(
                org_id=org_id,
                connection=connection,
                rule_id=org_rule.id,
                verdict=verdict,
                checked=result.checked,
                matched=open_by_rule[org_rule.id],
                not_evaluated=listed,
                not_evaluated_count=len(result.not_evaluated) + len(result.unreadable) or len(listed),
                errors=result.errors,
                evaluated_at=now,
            )
        )
    baselined = open_by_rule[BASELINE_RULE_ID]
    rows.append(
        RuleStatus(
            org_id=org_id,
            connection=connection,
            rule_id=BASELINE_RULE_ID,
            verdict=V.FAIL if baselined else V.PASS,
            matched=baselined,
            checked=len(drift),
            evaluated_at=now,
        )
    )
    RuleStatus.objects.for_org(org_id).filter(connection=connection).delete()
    RuleStatus.objects.bulk_create(rows, batch_size=1000)


def _confirm_unchanged(connection, now, run) -> None:
    """After a sync that changed nothing any rule reads: the verdicts stand as of now."""
    with transaction.atomic():
        RuleStatus.objects.for_org(connection.org_id).filter(connection=connection).update(evaluated_at=now)
        today = now.astimezone(UTC).date()
        if not DailyFindingCount.objects.for_org(connection.org_id).filter(connection=connection, date=today).exists():
            _write_daily_counts(connection, now)
        _mark_if_overtaken(connection, run)


def _mark_if_overtaken(connection, run) -> None:
    """A sync that committed while this evaluation ran: this evaluation may have read the inventory from
    before it, so its verdicts must not count as judging that sync's result (findings/incremental.py
    trusts a verdict evaluated after the previous sync finished). Dated just before that sync."""
    latest = last_run(connection)
    if latest is None or (run is not None and latest.pk == run.pk) or latest.finished_at is None:
        return
    before = latest.finished_at - timedelta(microseconds=1)
    statuses = RuleStatus.objects.for_org(connection.org_id).filter(connection=connection)
    statuses.filter(evaluated_at__gt=before).update(evaluated_at=before)


def _update_rule_status(connection, now, applicable: list[OrgRule], evaluation, targets) -> None:
    """The verdicts after an incremental evaluation: the coverage did not change, so neither did what
    was not evaluated; what may have moved is the open findings (fail / pass) and, when resources were
    created or deleted, how many each rule checked."""
    from findings import incremental

    org_id = connection.org_id
    findings = Finding.objects.for_org(org_id).filter(connection=connection)
    open_by_rule = Counter(findings.filter(status=F.OPEN).values_list("rule_id", flat=True))
    checked = None
    if targets.created_or_deleted:
        checked = incremental.checked_counts(connection, {r.id: evaluation.results[r.id].evaluated for r in applicable})
        checked[BASELINE_RULE_ID] = findings.filter(rule_id=BASELINE_RULE_ID).exclude(status=F.RESOLVED).count()
    V = RuleStatus.Verdict
    changed = []
    for status in RuleStatus.objects.for_org(org_id).filter(connection=connection):
        matched = open_by_rule[status.rule_id]
        if matched:
            verdict = V.FAIL
        elif status.rule_id == BASELINE_RULE_ID:
            verdict = V.PASS
        else:
            verdict = V.NOT_EVALUATED if status.not_evaluated_count else V.PASS
        count = checked.get(status.rule_id, status.checked) if checked is not None else status.checked
        if (verdict, matched, count) != (status.verdict, status.matched, status.checked):
            status.verdict, status.matched, status.checked = verdict, matched, count
            changed.append(status)
    RuleStatus.objects.for_org(org_id).bulk_update(changed, ["verdict", "matched", "checked"], batch_size=500)
    RuleStatus.objects.for_org(org_id).filter(connection=connection).update(evaluated_at=now)


def _write_daily_counts(connection, now, rule_ids=None) -> None:
    """Recount the connection's open findings (of ``rule_ids`` only, when given: the others did not
    move) and write today's point of its trend from those counts."""
    org_id = connection.org_id
    today = now.astimezone(UTC).date()  # UTC days, as the sync engine's DailyCount
    tallies.recount(org_id, connection.pk, rule_ids)
    counts = tallies.by_severity_category(org_id, connection.pk)
    DailyFindingCount.objects.for_org(org_id).filter(connection=connection, date=today).delete()
    DailyFindingCount.objects.bulk_create(
        [
            DailyFindingCount(org_id=org_id, connection=connection, date=today, severity=s, category=c, count=n)
            for (s, c), n in sorted(counts.items())
        ]
    )


def expire_suppressions(*, now: datetime | None = None) -> int:
    """Suppressions past their expiry become open again (a periodic task; evaluation does it too)."""
    now = now or timezone.now()
    expired = list(
        Finding.objects.unscoped().filter(status=F.SUPPRESSED, suppressed_until__lte=now).select_related("org")
    )
    with transaction.atomic():
        touched: dict[int, set[tuple[int, str]]] = {}  # org id → its (connection, rule) pairs
        for finding in expired:
            touched.setdefault(finding.org_id, set()).add((finding.connection_id, finding.rule_id))
            _lift_suppression(finding)
            finding.save(
                update_fields=[
                    "status",
                    "suppressed_reason",
                    "suppressed_until",
                    "suppressed_by",
                    "suppressed_at",
                    "suppression_rule",
                ]
            )
            FindingEvent.objects.create(
                org_id=finding.org_id, finding=finding, kind=E.UNSUPPRESSED, at=now, note="The suppression expired."
            )
        from findings.bulk import recount  # what every lifted suppression recounts (bulk imports this module)

        for org_id, pairs in touched.items():
            recount(org_id, pairs, now=now)
    return len(expired)
