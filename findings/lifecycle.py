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

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from findings.models import Category, DailyFindingCount, Finding, FindingEvent, RuleSource, RuleStatus, Severity
from findings.rules import ResourceIndex, Scope, evaluate
from findings.rules.language import RECORD_FIELDS
from findings.sources import BASELINE_RULE_ID, BASELINE_TITLE, OrgRule, baseline_drift, org_rules
from inventory.coverage import last_coverage, scope_region
from inventory.models import Relationship, Resource

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


def evaluate_connection(connection, *, now: datetime | None = None) -> EvaluationSummary:
    started = time.perf_counter()
    now = now or timezone.now()
    summary = EvaluationSummary(connection.pk)
    coverage = last_coverage(connection)
    if not coverage:
        # No sync ever wrote this connection's inventory: there is nothing to judge yet.
        summary.seconds = time.perf_counter() - started
        return summary
    rules, summary.problems = org_rules(connection.org, providers=[connection.provider])
    applicable = [r for r in rules if r.connection_ids is None or connection.pk in r.connection_ids]
    index = load_index(connection)
    evaluation = evaluate([r.rule for r in applicable], index, coverage={connection.pk: coverage}, now=now)
    drift = baseline_drift(connection, index.by_id)
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

    def evaluated(rule_id: str, resource_type: str, region: str, native_id: str) -> bool:
        scope = Scope(connection.pk, resource_type, scope_region(resource_type, region, native_id))
        if rule_id == BASELINE_RULE_ID:
            return coverage.get((scope.resource_type, scope.region)) == "collected"
        result = evaluation.results.get(rule_id)
        return result is not None and scope in result.evaluated

    with transaction.atomic():
        # Serialize evaluations of one connection (a sync's and a rule change's may overlap).
        type(connection).objects.for_org(connection.org_id).select_for_update().filter(pk=connection.pk).first()
        _apply(connection, now, index, matches, metas, evaluated, summary)
        from findings.bulk import apply_scope_suppressions  # accepted by rule and scope: new findings too

        apply_scope_suppressions(connection, now=now)
        _write_rule_status(connection, now, applicable, evaluation, drift, coverage)
        _write_daily_counts(connection, now)
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


def _usd(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 2)))


def _apply(connection, now, index, matches, metas, evaluated, summary) -> None:
    org_id = connection.org_id
    existing: dict[tuple[str, str], Finding] = {
        (f.rule_id, f.native_id): f for f in Finding.objects.for_org(org_id).filter(connection=connection)
    }
    to_create: list[Finding] = []
    to_update: list[Finding] = []  # rows that changed beyond last_seen
    touched: list[int] = []  # rows whose only change is last_seen: one UPDATE per chunk of ids
    events: list[tuple[Finding, str, str]] = []  # (finding, kind, note)
    seen: set[tuple[str, str]] = set()

    for rule_id, matched in matches.items():
        meta = metas[rule_id]
        for rid, (usd, detail) in matched.items():
            rec = index.by_id[rid]
            key = (rule_id, rec["native_id"])
            seen.add(key)
            finding = existing.get(key)
            if finding is None:
                finding = Finding(
                    org_id=org_id,
                    connection=connection,
                    rule_id=rule_id,
                    first_seen=now,
                )
                _copy(finding, rec, meta, usd, detail, now)
                to_create.append(finding)
                events.append((finding, E.OPENED, ""))
                summary.opened += 1
                continue
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
            _copy(finding, rec, meta, usd, detail, now)
            if _state(finding) == before:
                touched.append(finding.pk)
            else:
                to_update.append(finding)

    for key, finding in existing.items():
        if key in seen or finding.status == F.RESOLVED:
            continue
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
        finding.status = F.RESOLVED
        finding.resolved_at = now
        if finding.suppressed_at:
            _lift_suppression(finding)
        to_update.append(finding)
        events.append((finding, E.RESOLVED, note))
        summary.resolved += 1

    Finding.objects.bulk_create(to_create, batch_size=1000)
    for start in range(0, len(touched), ID_CHUNK):
        Finding.objects.for_org(org_id).filter(pk__in=touched[start : start + ID_CHUNK]).update(last_seen=now)
    # bulk_update builds a CASE per field over its batch: small batches keep it linear.
    Finding.objects.for_org(org_id).bulk_update(
        to_update, [name.removesuffix("_id") for name in _STATE_FIELDS] + ["last_seen"], batch_size=100
    )
    FindingEvent.objects.bulk_create(
        [FindingEvent(org_id=org_id, finding=f, kind=kind, at=now, note=note) for f, kind, note in events],
        batch_size=2000,
    )
    summary.open_total = Finding.objects.for_org(org_id).filter(connection=connection, status=F.OPEN).count()


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
    finding.severity = meta.severity
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


def _write_rule_status(connection, now, applicable: list[OrgRule], evaluation, drift, coverage) -> None:
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
        if open_by_rule[org_rule.id]:
            verdict = V.FAIL
        elif result.not_evaluated or not result.evaluated:
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
                not_evaluated_count=len(result.not_evaluated) or len(listed),
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


def _write_daily_counts(connection, now) -> None:
    org_id = connection.org_id
    today = now.astimezone(UTC).date()  # UTC days, as the sync engine's DailyCount
    counts = Counter(
        Finding.objects.for_org(org_id).filter(connection=connection, status=F.OPEN).values_list("severity", "category")
    )
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
        for finding in expired:
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
    return len(expired)
