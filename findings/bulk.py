"""Triage at scale: decisions about many findings at once, shared by views, tasks and commands.

- ``select(org, params, ids, everything)``: the findings a bulk action applies to, either the checked
  ones or the whole filtered list (the same filters as the list page), always inside the organization.
- ``do_bulk_suppress`` / ``do_bulk_unsuppress``: one transaction, one event per finding, one audit entry.
- ``do_accept_scope`` / ``do_lift_scope``: accept a rule's findings within a scope (connection, region,
  tag) once: the matching findings are suppressed now, and ``apply_scope_suppressions`` (called by every
  evaluation) suppresses those found later. Lifting reopens what the acceptance suppressed.

After each change the counts every page reads are recomputed from the findings (``queries.open_counts``
into the compliance verdicts; today's trend point), so no page shows a suppressed finding as open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from findings import queries
from findings.models import Finding, FindingEvent, SuppressionRule

A = AuditEvent.Action
F = Finding.Status
E = FindingEvent.Kind
MAX_SELECTED_IDS = 1000
CHUNK = 500


class BulkError(ValueError):
    """The action cannot be taken; the message says why, for the person who asked."""


def select(org, params: Mapping[str, Any], ids: Iterable[str], everything: bool) -> QuerySet[Finding]:
    """The findings a bulk action covers: the whole filtered list, or the checked ids among it."""
    findings, filters = queries.filter_findings(org, params)
    if filters.errors:
        raise BulkError("Some filters are not valid: fix them before acting on the whole list.")
    if everything:
        return findings
    wanted = {int(i) for i in ids if str(i).isdigit()}
    if not wanted:
        raise BulkError("Select at least one finding, or choose the whole filtered list.")
    if len(wanted) > MAX_SELECTED_IDS:
        raise BulkError(f"At most {MAX_SELECTED_IDS} findings can be checked at once: act on the filtered list.")
    return Finding.objects.for_org(org).filter(pk__in=wanted)


def _validate(reason: str, until: datetime | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise BulkError("Say why these findings are suppressed: the reason is kept in the audit log.")
    if until is not None and until <= timezone.now():
        raise BulkError("The expiry must be in the future.")
    return reason[:2000]


def recount(org, findings: Iterable[tuple[int, str]], *, now: datetime | None = None) -> None:
    """Recompute what the pages count for the (connection, rule) pairs touched: compliance verdicts from
    ``queries.open_counts``, the open tallies and today's point of the trend charts."""
    from connections.models import CloudConnection
    from findings.lifecycle import _write_daily_counts

    pairs = set(findings)
    queries.refresh_rule_statuses(org, pairs)
    now = now or timezone.now()
    for connection in CloudConnection.objects.for_org(org).filter(pk__in={c for c, _ in pairs}):
        _write_daily_counts(connection, now, {r for c, r in pairs if c == connection.pk})


SUPPRESSION_FIELDS = [
    "status",
    "suppressed_reason",
    "suppressed_until",
    "suppressed_by",
    "suppressed_at",
    "suppression_rule",
]


def _write_suppression(org, rows: list[Finding], values: dict, *, kind: str, user, now, note: str) -> None:
    """Set the suppression fields of ``rows`` to ``values``, with one event of ``kind`` per finding."""
    for finding in rows:
        for name, value in values.items():
            setattr(finding, name, value)
    Finding.objects.for_org(org).bulk_update(rows, SUPPRESSION_FIELDS, batch_size=CHUNK)
    FindingEvent.objects.bulk_create(
        [FindingEvent(org=org, finding=f, kind=kind, actor=user, at=now, note=note) for f in rows],
        batch_size=2000,
    )


def _suppress_rows(org, rows: list[Finding], *, user, reason: str, until, rule=None, now) -> None:
    values = {
        "status": F.SUPPRESSED,
        "suppressed_reason": reason,
        "suppressed_until": until,
        "suppressed_by": user,
        "suppressed_at": now,
        "suppression_rule": rule,
    }
    _write_suppression(org, rows, values, kind=E.SUPPRESSED, user=user, now=now, note=reason)


def do_bulk_suppress(org, findings: QuerySet[Finding], *, user, reason: str, until=None, request=None) -> int:
    """Suppress every open finding of ``findings`` (resolved and already suppressed ones are left as they
    are). Returns how many were suppressed."""
    reason = _validate(reason, until)
    now = timezone.now()
    with transaction.atomic():
        rows = list(findings.filter(status=F.OPEN).select_for_update().order_by("pk"))
        if not rows:
            return 0
        _suppress_rows(org, rows, user=user, reason=reason, until=until, now=now)
        audit.record(
            A.FINDING_SUPPRESSED,
            request=request,
            actor=user,
            org=org,
            target=f"{len(rows)} findings",
            findings=len(rows),
            rules=sorted({f.rule_id for f in rows})[:20],
            reason=reason[:500],
            until=until.isoformat() if until else None,
        )
        recount(org, {(f.connection_id, f.rule_id) for f in rows}, now=now)
    return len(rows)


def _reopen_rows(org, rows: list[Finding], *, user, now, note: str = "") -> None:
    values = dict.fromkeys(SUPPRESSION_FIELDS[1:]) | {"status": F.OPEN, "suppressed_reason": ""}
    _write_suppression(org, rows, values, kind=E.UNSUPPRESSED, user=user, now=now, note=note)


def do_bulk_unsuppress(org, findings: QuerySet[Finding], *, user, request=None) -> int:
    """Lift the suppression of every suppressed finding of ``findings``. Returns how many reopened."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(findings.filter(status=F.SUPPRESSED).select_for_update().order_by("pk"))
        if not rows:
            return 0
        _reopen_rows(org, rows, user=user, now=now)
        audit.record(
            A.FINDING_UNSUPPRESSED,
            request=request,
            actor=user,
            org=org,
            target=f"{len(rows)} findings",
            findings=len(rows),
            rules=sorted({f.rule_id for f in rows})[:20],
        )
        recount(org, {(f.connection_id, f.rule_id) for f in rows}, now=now)
    return len(rows)


def record_export(org, *, user, fmt: str, count: int | None, request=None) -> None:
    audit.record(A.FINDINGS_EXPORTED, request=request, actor=user, org=org, target=f"findings.{fmt}", findings=count)


# --- acceptance by rule and scope -------------------------------------------------------------------------


def matches(rule: SuppressionRule, finding: Finding, tags: Mapping[str, Any] | None) -> bool:
    if finding.rule_id != rule.rule_id:
        return False
    if rule.connection_id and finding.connection_id != rule.connection_id:
        return False
    if rule.region and finding.region != rule.region:
        return False
    if rule.tag_key:
        tags = tags or {}
        if rule.tag_key not in tags:
            return False
        if rule.tag_value and str(tags[rule.tag_key]) != rule.tag_value:
            return False
    return True


def _candidates(org, rule: SuppressionRule, status: str) -> list[tuple[Finding, dict]]:
    qs = Finding.objects.for_org(org).filter(rule_id=rule.rule_id, status=status)
    if rule.connection_id:
        qs = qs.filter(connection_id=rule.connection_id)
    if rule.region:
        qs = qs.filter(region=rule.region)
    rows = list(qs.select_related("resource").only(*_FIELDS, "resource__tags").order_by("pk"))
    return [(f, (f.resource.tags if f.resource_id and f.resource else {}) or {}) for f in rows]


_FIELDS = ("id", "org", "connection", "rule_id", "region", "status", "resource", "native_id")


def do_accept_scope(
    org,
    *,
    rule_id: str,
    user,
    reason: str,
    until=None,
    connection=None,
    region: str = "",
    tag_key: str = "",
    tag_value: str = "",
    request=None,
) -> tuple[SuppressionRule, int]:
    """Accept ``rule_id``'s findings within the scope, now and later. Returns (the rule, how many open
    findings it suppressed now)."""
    reason = _validate(reason, until)
    if not (rule_id or "").strip():
        raise BulkError("Choose the rule whose findings are accepted.")
    if connection is not None and connection.org_id != org.pk:
        raise BulkError("Choose one of this organization's connections.")
    now = timezone.now()
    with transaction.atomic():
        rule = SuppressionRule.objects.for_org(org).create(
            rule_id=rule_id.strip(),
            connection=connection,
            region=(region or "").strip(),
            tag_key=(tag_key or "").strip(),
            tag_value=(tag_value or "").strip(),
            reason=reason,
            until=until,
            created_by=user,
            created_at=now,
        )
        rows = [f for f, tags in _candidates(org, rule, F.OPEN) if matches(rule, f, tags)]
        if rows:
            _suppress_rows(org, rows, user=user, reason=reason, until=until, rule=rule, now=now)
            recount(org, {(f.connection_id, f.rule_id) for f in rows}, now=now)
        audit.record(
            A.SCOPE_SUPPRESSION_CREATED,
            request=request,
            actor=user,
            org=org,
            target=f"{rule.rule_id} in {rule.scope_label}",
            findings=len(rows),
            reason=reason[:500],
            until=until.isoformat() if until else None,
        )
    return rule, len(rows)


def do_lift_scope(rule: SuppressionRule, *, user, request=None) -> int:
    """Stop accepting: the findings this acceptance suppressed open again. Returns how many."""
    org = rule.org
    now = timezone.now()
    with transaction.atomic():
        if rule.lifted_at is not None:
            raise BulkError("This acceptance was already lifted.")
        rule.lifted_at, rule.lifted_by = now, user
        rule.save(update_fields=["lifted_at", "lifted_by"])
        rows = list(
            Finding.objects.for_org(org)
            .filter(suppression_rule=rule, status=F.SUPPRESSED)
            .select_for_update()
            .order_by("pk")
        )
        if rows:
            _reopen_rows(org, rows, user=user, now=now, note="The acceptance by rule and scope was lifted.")
            recount(org, {(f.connection_id, f.rule_id) for f in rows}, now=now)
        audit.record(
            A.SCOPE_SUPPRESSION_LIFTED,
            request=request,
            actor=user,
            org=org,
            target=f"{rule.rule_id} in {rule.scope_label}",
            findings=len(rows),
        )
    return len(rows)


def active_rules(org, *, now: datetime | None = None) -> QuerySet[SuppressionRule]:
    from django.db.models import Q

    now = now or timezone.now()
    return (
        SuppressionRule.objects.for_org(org)
        .filter(lifted_at__isnull=True)
        .filter(Q(until__isnull=True) | Q(until__gt=now))
    )


def apply_scope_suppressions(connection, *, now: datetime | None = None) -> int:
    """Suppress the connection's open findings that an active acceptance covers: new ones and reopened
    ones alike (called by every evaluation, inside its transaction). Returns how many."""
    now = now or timezone.now()
    org = connection.org
    rules = [r for r in active_rules(org, now=now) if r.connection_id in (None, connection.pk)]
    if not rules:
        return 0
    by_rule: dict[str, list[SuppressionRule]] = {}
    for rule in sorted(rules, key=lambda r: r.created_at):
        by_rule.setdefault(rule.rule_id, []).append(rule)
    open_rows = (
        Finding.objects.for_org(org)
        .filter(connection=connection, status=F.OPEN, rule_id__in=list(by_rule))
        .select_related("resource")
        .only(*_FIELDS, "resource__tags")
        .order_by("pk")
    )
    grouped: dict[int, tuple[SuppressionRule, list[Finding]]] = {}
    for finding in open_rows:
        tags = (finding.resource.tags if finding.resource_id and finding.resource else {}) or {}
        for rule in by_rule[finding.rule_id]:
            if matches(rule, finding, tags):
                grouped.setdefault(rule.pk, (rule, []))[1].append(finding)
                break
    total = 0
    for rule, rows in grouped.values():
        _suppress_rows(org, rows, user=rule.created_by, reason=rule.reason, until=rule.until, rule=rule, now=now)
        total += len(rows)
    return total
