"""Evaluation after a sync, proportional to what the sync changed.

``lifecycle.evaluate_connection(connection, delta=...)`` asks ``plan(...)`` which resources need their
findings decided again. A rule's verdict on a resource reads the resource and, through related
conditions (nested ``where``s), resources up to a few relationship hops away; cost estimates read one hop.
So after a sync whose write changed the resources C (created, modified, refreshed volatile values, both
ends of every relationship added or removed, the neighbours of deleted ones), only the resources within
``reach`` hops of C can have a different verdict, and only resources within ``2 × reach`` hops are read.

Everything else stays as the last evaluation left it, which is only sound when that evaluation judged
the inventory this sync started from, with the same rules and the same coverage. ``plan`` answers None
("evaluate everything") whenever that is not certain:

* no delta (a rule, policy, baseline or suppression change, a command: ``findings.tasks``), the first
  sync, or a delta that is not this connection's last run;
* the coverage changed since the previous run (a scope newly collected or lost changes what is evaluated);
* the rules changed (the set of rule ids differs from the stored verdicts), or the last evaluation is
  older than the previous run (it was skipped: paused processing, a failure);
* a rule whose condition the planner cannot bound (an unknown node);
* the exposure pass would look at a target (its paths cross whole networks: findings/exposure.py);
* a rule's per-record counts (errors, unreadable settings) that a partial evaluation cannot keep exact.

Rules that read the clock (``older_than_days``, ``newer_than_days``, ``within_next_days``) change verdicts
with no change in the data, when the clock passes a date (± the operand). The resources whose date at
such a condition passed its threshold since the last evaluation are targets too, for those rules only
(``clock_targets``: one column read per condition); a condition whose date cannot be located (inside a
list quantifier) makes every resource of its rule's types a target.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Min
from django.db.models.fields.json import KT
from django.utils import timezone

from findings.exposure import ASSESSED_TYPES, GROUP_TYPES, NETWORK_TYPES
from findings.exposure_findings import COMBINED, SEVERITY_BY_EXPOSURE
from findings.models import RuleStatus
from findings.rules import Evaluation, ResourceIndex, evaluate
from findings.rules.language import RECORD_FIELDS, All, AnyOf, Leaf, Not, Related, _Quantifier, to_datetime
from findings.sources import BASELINE_RULE_ID, OrgRule
from inventory.coverage import scope_region
from inventory.models import Relationship, Resource, SyncRun

ID_CHUNK = 900
WIDE_SHARE = 0.25  # past this share of the connection's resources, one streamed read beats id chunks
CLOCK_OPS = frozenset({"older_than_days", "newer_than_days", "within_next_days"})
# Combined findings follow an instance's profile to its role and policies, and a bucket to the trails.
EXPOSURE_CHAIN_TYPES = frozenset(
    {"aws.iam.role", "aws.iam.policy", "aws.iam.instance_profile", "aws.cloudtrail.trail", "aws.s3.bucket"}
)


@dataclass
class Targets:
    """What an incremental evaluation decides again: the resources ``ids`` (loaded in ``index`` with
    everything their rules read) and the findings of the ``deleted`` native ids."""

    ids: set[int] = field(default_factory=set)
    deleted: frozenset[str] = frozenset()
    index: ResourceIndex | None = None
    created_or_deleted: bool = False
    wide: bool = False  # most of the connection: read whole, filtered in memory, rather than by id chunks
    # Targets only because a rule reads the clock: only those rules' findings are decided again for them.
    clock_only: set[int] = field(default_factory=set)
    clock_rules: frozenset[str] = frozenset()

    def restrict(self, matches: dict[str, dict]) -> None:
        """Drop the clock-only targets from the matches of the rules that do not read the clock."""
        if not self.clock_only:
            return
        for rule_id, matched in matches.items():
            if rule_id not in self.clock_rules:
                for rid in self.clock_only & matched.keys():
                    del matched[rid]

    @property
    def nothing(self) -> bool:
        return not self.ids and not self.deleted


def _reach(node: Any) -> tuple[int, bool] | None:
    """(relationship hops the condition reads, whether it reads the clock); None for a node it does not know."""
    if isinstance(node, Leaf):
        return 0, node.op in CLOCK_OPS
    if isinstance(node, All | AnyOf):
        parts = [_reach(child) for child in node.children]
    elif isinstance(node, Not):
        parts = [_reach(node.child)]
    elif isinstance(node, _Quantifier):
        parts = [_reach(node.where)] if node.where is not None else []
    elif isinstance(node, Related):
        inner = _reach(node.where) if node.where is not None else (0, False)
        return None if inner is None else (inner[0] + 1, inner[1])
    else:
        return None
    if any(part is None for part in parts):
        return None
    return max((p[0] for p in parts), default=0), any(p[1] for p in parts)  # type: ignore[index]


@dataclass(frozen=True)
class ClockLeaf:
    """A condition on a date compared with the clock: its verdict flips when the clock passes the date
    (± the operand), whatever else happens."""

    types: frozenset[str] | None  # the types of the records it reads (None: any)
    parts: tuple  # the path below the record
    op: str
    operand: timedelta
    hops: int  # relationship hops from the rule's record to the record it reads

    def window(self, since: datetime, until: datetime) -> tuple[datetime, datetime]:
        """The dates whose verdict may have flipped between ``since`` and ``until`` (a second wider)."""
        margin = timedelta(seconds=1)
        if self.op == "within_next_days":  # dt - now < v flips as now passes dt - v
            return since + self.operand - margin, until + self.operand + margin
        return since - self.operand - margin, until - self.operand + margin  # now - dt vs v


def clock_leaves(node: Any, types: frozenset[str] | None, hops: int = 0) -> list[ClockLeaf] | None:
    """The clock conditions of a condition tree, or None when one cannot be located (inside a list
    quantifier: its path is relative to an item)."""
    if isinstance(node, Leaf):
        if node.op not in CLOCK_OPS:
            return []
        if not isinstance(node.operand, timedelta) or any("__" in str(p) for p in node.parts):
            return None
        return [ClockLeaf(types, tuple(node.parts), node.op, node.operand, hops)]
    children: list[Any]
    if isinstance(node, All | AnyOf):
        children = list(node.children)
    elif isinstance(node, Not):
        children = [node.child]
    elif isinstance(node, Related):
        if node.where is None:
            return []
        return clock_leaves(node.where, node.types, hops + 1)
    elif isinstance(node, _Quantifier):
        inner = clock_leaves(node.where, types, hops) if node.where is not None else []
        return None if inner else inner
    else:
        return None
    out: list[ClockLeaf] = []
    for child in children:
        leaves = clock_leaves(child, types, hops)
        if leaves is None:
            return None
        out.extend(leaves)
    return out


def _flipped(resources, leaf: ClockLeaf, since: datetime, until: datetime) -> set[int] | None:
    """The resources whose date at ``leaf`` lies in its flip window: read as text, one value a row."""
    if not leaf.parts or leaf.parts[0] not in RECORD_FIELDS:
        return None
    rows = resources.filter(resource_type__in=sorted(leaf.types)) if leaf.types is not None else resources
    path = "__".join(str(p) for p in leaf.parts)
    low, high = leaf.window(since, until)
    found = set()
    values = rows.values_list("id", KT(path) if len(leaf.parts) > 1 else leaf.parts[0])
    for rid, value in values.iterator(chunk_size=10_000):
        if value is None or value == "null":
            continue  # no date: the condition is false whatever the clock says
        try:
            when = to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            found.add(rid)  # the rule errs or not on it: judged again, as the rule engine would
            continue
        if when is not None and low <= (when if when.tzinfo else when.replace(tzinfo=UTC)) <= high:
            found.add(rid)
    return found


def clock_targets(connection, clock: list[OrgRule], since: datetime, until: datetime) -> tuple[set[int], int]:
    """(the resources a clock rule may judge differently at ``until`` than at ``since``, hops to expand
    them by): those whose date crossed a threshold, and every resource of a rule whose dates cannot be
    located."""
    resources = Resource.objects.for_org(connection.org_id).filter(connection=connection)
    found: set[int] = set()
    hops = 0
    for org_rule in clock:
        rule = org_rule.rule
        leaves = clock_leaves(rule.condition, frozenset(rule.resource_types))
        flipped = [] if leaves is None else [_flipped(resources, leaf, since, until) for leaf in leaves]
        if leaves is None or any(ids is None for ids in flipped):
            found |= set(resources.filter(resource_type__in=list(rule.resource_types)).values_list("id", flat=True))
            continue
        for leaf, ids in zip(leaves, flipped, strict=True):
            if ids:
                found |= ids
                hops = max(hops, leaf.hops)
    return found, hops


def rule_reach(rules: Iterable[OrgRule]) -> tuple[int, set[str], set[str]] | None:
    """(the most hops any rule reads, the resource types and the ids of the rules that read the clock),
    or None when a rule cannot be bounded."""
    hops, clock_types, clock_rules = 0, set(), set()
    for org_rule in rules:
        rule = org_rule.rule
        reach = _reach(rule.condition)
        if reach is None:
            return None
        hops = max(hops, reach[0], 1 if rule.cost is not None else 0)  # an estimate may read one hop
        if reach[1]:
            clock_types.update(rule.resource_types)
            clock_rules.add(rule.id)
    return hops, clock_types, clock_rules


def _previous_run(connection, run_id: int) -> SyncRun | None:
    return (
        SyncRun.objects.for_org(connection.org_id)
        .filter(connection=connection, status__in=SyncRun.WROTE_INVENTORY)
        .exclude(pk=run_id)
        .order_by("-finished_at", "-id")
        .first()
    )


def _coverage_of(run: SyncRun) -> dict[tuple[str, str], str]:
    return {(t, r): s for t, by_region in (run.coverage or {}).items() for r, s in by_region.items()}


def _last_evaluation(connection, applicable: list[OrgRule], delta, coverage):
    """When the last evaluation ran, if it judged the inventory this sync started from with the same
    rules and the same coverage; else None."""
    runs = SyncRun.objects.for_org(connection.org_id).filter(connection=connection, status__in=SyncRun.WROTE_INVENTORY)
    latest = runs.order_by("-finished_at", "-id").first()
    if latest is None or latest.pk != delta.run_id:
        return None
    previous = _previous_run(connection, delta.run_id)
    if previous is None or previous.finished_at is None or _coverage_of(previous) != coverage:
        return None
    statuses = RuleStatus.objects.for_org(connection.org_id).filter(connection=connection)
    stored = set(statuses.values_list("rule_id", flat=True))
    if stored != {r.id for r in applicable} | {BASELINE_RULE_ID}:
        return None
    oldest = statuses.aggregate(oldest=Min("evaluated_at"))["oldest"]
    return oldest if oldest is not None and oldest >= previous.finished_at else None


def _adjacency(connection) -> tuple[dict[int, set[int]], list[tuple[int, int, str]]]:
    rels = list(
        Relationship.objects.for_org(connection.org_id)
        .filter(connection=connection)
        .values_list("source_id", "target_id", "kind")
        .iterator(chunk_size=10_000)
    )
    adjacency: dict[int, set[int]] = defaultdict(set)
    for source, target, _kind in rels:
        adjacency[source].add(target)
        adjacency[target].add(source)
    return adjacency, rels


def _expand(ids: set[int], adjacency: dict[int, set[int]], hops: int) -> set[int]:
    seen, frontier = set(ids), set(ids)
    for _ in range(hops):
        frontier = {n for node in frontier for n in adjacency.get(node, ())} - seen
        if not frontier:
            break
        seen |= frontier
    return seen


def _load_records(connection, ids: set[int], wide: bool) -> list[dict[str, Any]]:
    from findings.lifecycle import as_record

    resources = Resource.objects.for_org(connection.org_id).filter(connection=connection)
    if wide:
        rows: Iterable[tuple] = (
            row for row in resources.values_list(*RECORD_FIELDS).iterator(chunk_size=5000) if row[0] in ids
        )
    else:
        ordered = sorted(ids)
        rows = (
            row
            for start in range(0, len(ordered), ID_CHUNK)
            for row in resources.filter(pk__in=ordered[start : start + ID_CHUNK]).values_list(*RECORD_FIELDS)
        )
    records = []
    for row in rows:
        rec = as_record(row)
        rec["scope"] = scope_region(rec["resource_type"], rec["region"], rec["native_id"])
        records.append(rec)
    return records


def _exposure_types(applicable: list[OrgRule]) -> frozenset[str]:
    """Every type the exposure pass may read or judge, when one of its rules applies."""
    ids = set(SEVERITY_BY_EXPOSURE) | set(COMBINED)
    rules = [r.rule for r in applicable if r.id in ids]
    if not rules:
        return frozenset()
    types = set(ASSESSED_TYPES | GROUP_TYPES | NETWORK_TYPES | EXPOSURE_CHAIN_TYPES)
    for rule in rules:
        types.update(rule.resource_types)
        types.update(rule.related_types)
    return frozenset(types)


def plan(connection, applicable: list[OrgRule], coverage: dict, delta, now: datetime | None = None) -> Targets | None:
    """The targets of an incremental evaluation after the sync ``delta`` describes, or None to evaluate
    everything (see the module's docstring)."""
    since = _last_evaluation(connection, applicable, delta, coverage) if delta is not None else None
    if since is None:
        return None
    bounds = rule_reach(applicable)
    if bounds is None:
        return None
    hops, _clock_types, clock_rules = bounds
    resources = Resource.objects.for_org(connection.org_id).filter(connection=connection)
    seeds = set(delta.changed_ids) | set(delta.relinked_ids)
    clock = [r for r in applicable if r.id in clock_rules]
    flipped, clock_hops = clock_targets(connection, clock, since, now or timezone.now())
    targets = Targets(deleted=frozenset(delta.deleted_native_ids), created_or_deleted=bool(delta.deleted_native_ids))
    if not seeds and not flipped:
        # Nothing changed and no clock passed a threshold: only the deleted resources' findings (if any)
        # are decided again, over an empty index (deleted resources with neighbours make seeds).
        targets.index = ResourceIndex([])
        return targets
    adjacency, rels = _adjacency(connection) if hops else ({}, [])
    changed = _expand(seeds, adjacency, hops)
    clock_ids = _expand(flipped, adjacency, clock_hops)
    targets.ids = changed | clock_ids
    targets.clock_only, targets.clock_rules = clock_ids - changed, frozenset(clock_rules)
    loaded = _expand(targets.ids, adjacency, hops)
    targets.wide = len(loaded) > WIDE_SHARE * resources.count()
    records = _load_records(connection, loaded, targets.wide)
    by_id = {rec["id"]: rec for rec in records}
    targets.ids &= set(by_id)  # a relinked id deleted since: gone
    targets.clock_only &= targets.ids
    exposure = _exposure_types(applicable)
    exposure_rules = set(SEVERITY_BY_EXPOSURE) | set(COMBINED)
    if any(by_id[rid]["resource_type"] in exposure for rid in targets.ids - targets.clock_only):
        return None
    if targets.clock_only and clock_rules & exposure_rules:
        return None
    targets.index = ResourceIndex(records, ((s, t, k) for s, t, k in rels if s in by_id and t in by_id))
    targets.created_or_deleted = bool(delta.deleted_native_ids or delta.created_ids)
    return targets


def _groups(index: ResourceIndex, ids: Iterable[int]) -> dict[str, dict[tuple[Any, str], list]]:
    groups: dict[str, dict[tuple[Any, str], list]] = {}
    for rid in sorted(ids):
        rec = index.by_id[rid]
        key = (rec.get("connection_id"), rec.get("scope") or rec.get("region") or "")
        groups.setdefault(rec["resource_type"], {}).setdefault(key, []).append(rec)
    return groups


def evaluate_targets(applicable: list[OrgRule], targets: Targets, coverage: dict, now) -> Evaluation:
    """Every rule over the targets a change reached, the clock's rules only over the clock-only targets;
    the rest of the index is what the rules read. One result per rule, as a full evaluation gives."""
    index = targets.index
    index.groups = _groups(index, targets.ids - targets.clock_only)
    evaluation = evaluate([r.rule for r in applicable], index, coverage=coverage, now=now)
    if targets.clock_only:
        index.groups = _groups(index, targets.clock_only)
        clock = [r.rule for r in applicable if r.id in targets.clock_rules]
        for rule_id, extra in evaluate(clock, index, coverage=coverage, now=now).results.items():
            merged = evaluation.results[rule_id]
            merged.matched.extend(extra.matched)
            merged.evaluated |= extra.evaluated
            merged.not_evaluated.update(extra.not_evaluated)
            merged.checked += extra.checked
            merged.errors += extra.errors
            merged.error_samples.extend(extra.error_samples)
            merged.costs.update(extra.costs)
            if hasattr(merged, "unreadable"):
                merged.unreadable.update(extra.unreadable)
    index.groups = _groups(index, targets.ids)
    return evaluation


def counts_stay_exact(connection, applicable: list[OrgRule], evaluation, targets: Targets) -> bool:
    """Whether the stored verdicts' per-record counts (errors, unreadable settings) stay exact when only
    the targets were evaluated: true when no rule that looked at a target, or at a deleted resource,
    counts any, before or now."""
    index = targets.index
    target_types = {index.by_id[rid]["resource_type"] for rid in targets.ids} if index is not None else set()
    looked = {r.id for r in applicable if set(r.rule.resource_types) & target_types}
    for rule_id in looked:
        result = evaluation.results.get(rule_id) if evaluation is not None else None
        if result is not None and (result.errors or getattr(result, "unreadable", None)):
            return False
    statuses = RuleStatus.objects.for_org(connection.org_id).filter(connection=connection)
    if not targets.deleted:  # a deleted resource's type is not known here: every verdict must be clean
        statuses = statuses.filter(rule_id__in=sorted(looked))
    for errors, listed, count in statuses.values_list("errors", "not_evaluated", "not_evaluated_count"):
        listed = listed or []
        if errors or count > len(listed) or any(isinstance(e, dict) and "resource" in e for e in listed):
            return False
    return True


def checked_counts(connection, evaluated_scopes: dict[str, set]) -> dict[str, int]:
    """Records each rule ran on: those of its types in the scopes it evaluated (rule id → scopes)."""
    per_scope: Counter[tuple[str, str]] = Counter()
    rows = (
        Resource.objects.for_org(connection.org_id)
        .filter(connection=connection)
        .values_list("resource_type", "region", "native_id")
    )
    for rtype, region, native_id in rows.iterator(chunk_size=10_000):
        per_scope[(rtype, scope_region(rtype, region, native_id))] += 1
    return {
        rule_id: sum(per_scope[(s.resource_type, s.region)] for s in scopes)
        for rule_id, scopes in evaluated_scopes.items()
    }
