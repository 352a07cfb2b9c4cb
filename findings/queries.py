"""Read-side queries of the findings pages (and of the dashboard): plain functions over an organization.

- ``filter_findings(org, params)``: the findings list's filters, validated from GET parameters (a bad
  value is ignored and reported, never a 500), as a queryset and the cleaned filters.
- ``counts_by_severity_category(org)``: the open findings' headline numbers (by severity, category
  and connection, and the monthly waste) in one query, for the findings list and the dashboard.
- ``coverage_gaps(org, ...)``: honest coverage: per connection, the rules that could not be evaluated
  in its last evaluation (denied, throttled, never collected ...).
- ``finding_explanation(finding)``: why a finding matched: its rule (built-in, custom or policy)
  explained over the resource's current record and its related neighbours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from connections.models import CloudConnection
from findings import tallies
from findings.lifecycle import RECORD_FIELDS, as_record
from findings.models import (
    SEVERITY_ORDER,
    Category,
    CustomRule,
    Finding,
    OrgPolicy,
    RuleSource,
    RuleStatus,
    Severity,
)
from findings.rules import ResourceIndex, Rule, RuleError, explain
from findings.rules.catalog import builtin_catalog
from findings.rules.language import All as AllOf
from findings.rules.language import AllItems, AnyItem, AnyOf, CountItems, Not, Related
from findings.sources import BASELINE_RULE_ID, POLICY_PREFIX, compile_custom, compile_policy

PAGE_SIZE = 50
STATUS_ANY = "any"
STATUS_CHOICES = [*Finding.Status.choices, (STATUS_ANY, "Any status")]
SORTS: dict[str, tuple[str, ...]] = {
    "severity": ("severity_rank", "-last_seen", "-id"),
    "-severity": ("-severity_rank", "-last_seen", "-id"),
    "-last_seen": ("-last_seen", "-id"),
    "last_seen": ("last_seen", "id"),
}
SORT_CHOICES = [
    ("severity", "Most severe first"),
    ("-severity", "Least severe first"),
    ("-last_seen", "Last seen, newest first"),
    ("last_seen", "Last seen, oldest first"),
]
RULE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,199}$")
MAX_RULE_FILTERS = 50


# --- the list's filters -------------------------------------------------------------------------------


class RuleIdsField(forms.MultipleChoiceField):
    """One or more rule ids (``?rule=a&rule=b``): any well-formed id, known or not (an unknown one
    simply matches nothing)."""

    def to_python(self, value: Any) -> list[str]:
        return [v.strip() for v in super().to_python(value) if v and v.strip()]

    def valid_value(self, value: str) -> bool:
        return bool(RULE_ID_RE.match(value))

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > MAX_RULE_FILTERS:
            raise forms.ValidationError(f"At most {MAX_RULE_FILTERS} rules at a time.")


class FindingFilterForm(forms.Form):
    q = forms.CharField(
        label="Search", required=False, max_length=200, help_text="Resource name or id, or finding title."
    )
    severity = forms.MultipleChoiceField(
        label="Severity", required=False, choices=Severity.choices, widget=forms.CheckboxSelectMultiple
    )
    category = forms.MultipleChoiceField(
        label="Category", required=False, choices=Category.choices, widget=forms.CheckboxSelectMultiple
    )
    status = forms.ChoiceField(label="Status", required=False, choices=STATUS_CHOICES)
    connection = forms.TypedChoiceField(label="Connection", required=False, coerce=int, empty_value=None)
    provider = forms.ChoiceField(
        label="Provider", required=False, choices=[("", "Any provider"), *CloudConnection.Provider.choices]
    )
    rule = RuleIdsField(label="Rule", required=False)
    sort = forms.ChoiceField(label="Sort", required=False, choices=SORT_CHOICES)

    def __init__(self, *args: Any, connections: Iterable[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connection"].choices = [("", "Any connection"), *connections]


@dataclass
class FindingFilters:
    """The cleaned filters of a findings list. Invalid parameters are left out and listed in ``errors``."""

    form: FindingFilterForm
    values: dict[str, Any]
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.values["status"]

    @property
    def sort(self) -> str:
        return self.values["sort"]

    @property
    def connection_id(self) -> int | None:
        return self.values.get("connection")

    @property
    def rule_ids(self) -> list[str]:
        return self.values.get("rule") or []

    def params(self, **overrides: Any) -> list[tuple[str, str]]:
        """The valid filters as URL parameters (defaults left out), for shareable links."""
        values = {**self.values, **overrides}
        out: list[tuple[str, str]] = []
        if values.get("q"):
            out.append(("q", values["q"]))
        for name in ("severity", "category", "rule"):
            out.extend((name, v) for v in values.get(name) or [])
        if values.get("status") and values["status"] != Finding.Status.OPEN:
            out.append(("status", values["status"]))
        for name in ("connection", "provider"):
            if values.get(name):
                out.append((name, str(values[name])))
        if values.get("sort") and values["sort"] != "severity":
            out.append(("sort", values["sort"]))
        return out

    def querystring(self, **overrides: Any) -> str:
        return urlencode(self.params(**overrides))

    @property
    def export_querystring(self) -> str:
        return self.querystring(sort="severity")

    @property
    def is_filtered(self) -> bool:
        return any(k not in ("sort",) for k, _ in self.params())


def filter_findings(org, params: Mapping[str, Any]) -> tuple[QuerySet[Finding], FindingFilters]:
    """The organization's findings filtered by GET ``params`` (a QueryDict or a dict of lists/strings):
    severity, category, rule (each repeatable), status (default open; "any" for all), connection,
    provider, q (text in the resource name, native id or title) and sort. One query for the
    connection choices; the returned queryset is not evaluated."""
    connections = list(CloudConnection.objects.for_org(org).order_by("name", "id").values_list("pk", "name"))
    form = FindingFilterForm(params, connections=connections)
    form.is_valid()
    cleaned = dict(getattr(form, "cleaned_data", {}))
    errors = [
        f"{form.fields[name].label if name in form.fields else name}: {' '.join(msgs)} This filter was ignored."
        for name, msgs in form.errors.items()
    ]
    values: dict[str, Any] = {
        "q": (cleaned.get("q") or "").strip(),
        "severity": cleaned.get("severity") or [],
        "category": cleaned.get("category") or [],
        "status": cleaned.get("status") or Finding.Status.OPEN,
        "connection": cleaned.get("connection"),
        "provider": cleaned.get("provider") or "",
        "rule": cleaned.get("rule") or [],
        "sort": cleaned.get("sort") or "severity",
    }
    qs = Finding.objects.for_org(org)
    if values["status"] != STATUS_ANY:
        qs = qs.filter(status=values["status"])
    if values["severity"]:
        qs = qs.filter(severity__in=values["severity"])
    if values["category"]:
        qs = qs.filter(category__in=values["category"])
    if values["rule"]:
        qs = qs.filter(rule_id__in=values["rule"])
    if values["connection"]:
        qs = qs.filter(connection_id=values["connection"])
    if values["provider"]:
        qs = qs.filter(connection__provider=values["provider"])
    if values["q"]:
        q = values["q"]
        qs = qs.filter(Q(resource_name__icontains=q) | Q(native_id__icontains=q) | Q(title__icontains=q))
    qs = qs.order_by(*SORTS[values["sort"]])  # severity_rank: a generated, indexed column
    return qs, FindingFilters(form=form, values=values, errors=errors)


def severity_rank() -> Case:
    """0 for critical … 4 for info: severities sort by weight, not alphabetically. (Findings carry it as
    the stored column ``Finding.severity_rank``; this expression is for rows that do not.)"""
    return Case(
        *(When(severity=s, then=Value(rank)) for s, rank in SEVERITY_ORDER.items()),
        default=Value(len(SEVERITY_ORDER)),
        output_field=IntegerField(),
    )


# --- headline numbers (the findings list and the dashboard) ------------------------------------------


@dataclass(frozen=True)
class FindingCounts:
    """Open findings by severity (critical first) and by category (every key present, 0 when none), per
    connection, and the estimated monthly waste (``monthly_usd`` summed over open cost findings)."""

    by_severity: dict[str, int]
    by_category: dict[str, int]
    total: int
    per_connection: dict[int, int] = field(default_factory=dict)
    monthly_waste: Decimal = Decimal("0.00")
    cost_findings: int = 0


def counts_by_severity_category(org) -> FindingCounts:
    """The open findings' headline numbers (one grouped query over the open tallies, findings/tallies.py,
    never over the findings); resolved and suppressed ones excluded."""
    by_severity = dict.fromkeys(Severity.values, 0)
    by_category = dict.fromkeys(Category.values, 0)
    per_connection: dict[int, int] = {}
    waste = Decimal("0")
    cost_findings = 0
    rows = (
        tallies.rows(org)
        .values_list("connection_id", "severity", "category")
        .annotate(n=Sum("count"), usd=Sum("monthly_usd"))
        .order_by()
    )
    for connection_id, severity, category, n, usd in rows:
        by_severity[severity] = by_severity.get(severity, 0) + n
        by_category[category] = by_category.get(category, 0) + n
        per_connection[connection_id] = per_connection.get(connection_id, 0) + n
        if category == Category.COST:
            cost_findings += n
            waste += usd or Decimal("0")
    return FindingCounts(
        by_severity=by_severity,
        by_category=by_category,
        total=sum(by_severity.values()),
        per_connection=per_connection,
        monthly_waste=waste.quantize(Decimal("0.01")),
        cost_findings=cost_findings,
    )


COUNT_CAP = 10_000  # past this a list says "10,000+" rather than count every row


def matching_tallies(org, filters: FindingFilters) -> QuerySet | None:
    """The open tallies (findings/tallies.py) of the findings ``filters`` select, when tallies can answer:
    open findings filtered by anything but text. None otherwise (the findings themselves must be read)."""
    v = filters.values
    if v["status"] != Finding.Status.OPEN or v["q"]:
        return None
    rows = tallies.rows(org)
    for name in ("severity", "category", "rule"):
        if v[name]:
            rows = rows.filter(**{f"{'rule_id' if name == 'rule' else name}__in": v[name]})
    if v["connection"]:
        rows = rows.filter(connection_id=v["connection"])
    if v["provider"]:
        rows = rows.filter(connection__provider=v["provider"])
    return rows


def count_matching(org, findings: QuerySet[Finding], filters: FindingFilters) -> tuple[int, bool]:
    """(how many findings the filtered list holds, whether there are more than that). Open findings are
    counted from the tallies (a few rows); any other list up to COUNT_CAP by a query that stops there."""
    rows = matching_tallies(org, filters)
    if rows is not None:
        return rows.aggregate(n=Sum("count"))["n"] or 0, False
    n = findings.order_by()[: COUNT_CAP + 1].count()
    return min(n, COUNT_CAP), n > COUNT_CAP


def org_monthly_waste(org) -> Decimal:
    """Estimated monthly waste of ``org`` in USD (``Decimal("0.00")`` when none)."""
    return counts_by_severity_category(org).monthly_waste


# --- honest coverage ------------------------------------------------------------------------------------


@dataclass
class CoverageGap:
    """Rules of one connection that could not be evaluated (fully) in its last evaluation."""

    connection_id: int
    connection_name: str
    rules: int = 0
    reasons: list[str] = field(default_factory=list)


def coverage_gaps(org, *, connection_id: int | None = None, rule_ids: Iterable[str] | None = None) -> list[CoverageGap]:
    """Per connection (by name), how many rules were not evaluated somewhere and why (one query)."""
    qs = RuleStatus.objects.for_org(org).filter(not_evaluated_count__gt=0)
    if connection_id is not None:
        qs = qs.filter(connection_id=connection_id)
    rule_ids = list(rule_ids or [])
    if rule_ids:
        qs = qs.filter(rule_id__in=rule_ids)
    gaps: dict[int, CoverageGap] = {}
    reasons: dict[int, set[str]] = {}
    for conn_id, name, listed in qs.values_list("connection_id", "connection__name", "not_evaluated"):
        gap = gaps.setdefault(conn_id, CoverageGap(conn_id, name))
        gap.rules += 1
        reasons.setdefault(conn_id, set()).update(str(e.get("reason") or "unknown") for e in listed or [])
    for conn_id, gap in gaps.items():
        gap.reasons = sorted(reasons[conn_id])
    return sorted(gaps.values(), key=lambda g: (g.connection_name.lower(), g.connection_id))


def rule_status(finding: Finding) -> RuleStatus | None:
    """The last verdict of the finding's rule on its connection (not evaluated scopes included)."""
    return (
        RuleStatus.objects.for_org(finding.org_id)
        .filter(connection_id=finding.connection_id, rule_id=finding.rule_id)
        .first()
    )


# --- why a finding matched ------------------------------------------------------------------------------

MAX_NEIGHBOURS = 500  # per hop: an explanation shows a few related resources, never a whole VPC
MAX_HOPS = 3


@dataclass
class ExplainNode:
    """One line of the explanation tree, uniform for the template."""

    kind: str  # all | any | not | leaf | items | related
    label: str
    result: bool | None
    children: list[ExplainNode] = field(default_factory=list)
    op: str = ""
    expected: str | None = None
    actual: str | None = None
    missing: bool = False
    note: str = ""
    error: str = ""


@dataclass
class Explanation:
    rule: Rule | None = None
    tree: ExplainNode | None = None
    problem: str = ""  # why there is no tree (resource gone, rule deleted, rule broken)
    neighbours: int = 0


def find_rule(finding: Finding) -> tuple[Rule | None, str]:
    """(compiled rule, problem): the finding's rule from wherever it comes, or why it is unavailable."""
    rule_id = finding.rule_id
    org = finding.org_id
    if finding.rule_source == RuleSource.BASELINE or rule_id == BASELINE_RULE_ID:
        return None, ""
    if finding.rule_source == RuleSource.POLICY or rule_id.startswith(POLICY_PREFIX):
        pk = rule_id.removeprefix(POLICY_PREFIX)
        policy = OrgPolicy.objects.for_org(org).filter(pk=int(pk)).first() if pk.isdigit() else None
        if policy is None:
            return None, "The policy behind this finding was deleted."
        try:
            return compile_policy(policy), ""
        except RuleError as exc:
            return None, f"The policy no longer compiles: {exc}"
    if finding.rule_source == RuleSource.CUSTOM:
        custom = CustomRule.objects.for_org(org).filter(rule_id=rule_id).first()
        if custom is None:
            return None, "The custom rule behind this finding was deleted."
        try:
            return compile_custom(custom.document), ""
        except RuleError as exc:
            return None, f"The custom rule no longer compiles: {exc}"
    rule = builtin_catalog().get(rule_id)
    if rule is None:
        return None, "This rule is no longer in the catalog."
    return rule, ""


def _related_kinds(node: Any, depth: int = 0) -> tuple[set[str], int]:
    """The relationship kinds a condition follows and how many hops deep."""
    kinds: set[str] = set()
    hops = depth
    children: list[Any] = []
    if isinstance(node, (AllOf, AnyOf)):
        children = list(node.children)
    elif isinstance(node, Not):
        children = [node.child]
    elif isinstance(node, (AnyItem, AllItems, CountItems)):
        children = [node.where] if node.where is not None else []
    elif isinstance(node, Related):
        kinds.add(node.kind)
        hops = depth + 1
        if node.where is not None:
            sub, sub_hops = _related_kinds(node.where, depth + 1)
            kinds |= sub
            hops = max(hops, sub_hops)
    for child in children:
        sub, sub_hops = _related_kinds(child, depth)
        kinds |= sub
        hops = max(hops, sub_hops)
    return kinds, hops


def neighbourhood_index(resource, rule: Rule) -> ResourceIndex:
    """The resource and the neighbours the rule's related conditions read (kinds it follows, as many
    hops as it nests): two queries per hop, bounded rows."""
    from inventory.models import Relationship, Resource

    org = resource.org_id
    row = Resource.objects.for_org(org).filter(pk=resource.pk).values_list(*RECORD_FIELDS).first()
    records = {resource.pk: as_record(row)} if row else {}
    kinds, hops = _related_kinds(rule.condition)
    edges: set[tuple[int, int, str]] = set()
    frontier = set(records)
    for _ in range(min(hops, MAX_HOPS)):
        if not frontier or not kinds:
            break
        hop = (
            Relationship.objects.for_org(org)
            .filter(Q(source_id__in=frontier) | Q(target_id__in=frontier), kind__in=kinds)
            .values_list("source_id", "target_id", "kind")[:MAX_NEIGHBOURS]
        )
        new: set[int] = set()
        for source, target, kind in hop:
            edges.add((source, target, kind))
            new.update((source, target))
        new -= records.keys()
        for values in Resource.objects.for_org(org).filter(pk__in=new).values_list(*RECORD_FIELDS):
            records[values[0]] = as_record(values)
        frontier = new
    return ResourceIndex(records.values(), sorted(edges))


def finding_explanation(finding: Finding) -> Explanation:
    """Why the finding matched, over the resource's current record (baseline drift is explained by its
    diff instead, so it has no tree)."""
    rule, problem = find_rule(finding)
    if rule is None:
        return Explanation(problem=problem)
    if finding.resource_id is None:
        return Explanation(rule=rule, problem="The resource no longer exists: there is no current record to explain.")
    index = neighbourhood_index(finding.resource, rule)
    record = index.by_id.get(finding.resource_id)
    if record is None:
        return Explanation(rule=rule, problem="The resource no longer exists: there is no current record to explain.")
    raw = explain(rule, record, index, now=timezone.now())
    return Explanation(rule=rule, tree=explain_tree(raw, index), neighbours=len(index) - 1)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


_COUNT_SIGNS = {"eq": "=", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}


def _count(spec: Mapping[str, Any] | None) -> str:
    if not spec:
        return ""
    op, n = next(iter(spec.items()))
    return f"{_COUNT_SIGNS.get(op, op)} {n}"


def _name_of(index: ResourceIndex, resource_id: Any) -> str:
    rec = index.by_id.get(resource_id)
    if rec is None:
        return f"resource {resource_id}"
    return f"{rec.get('name') or rec.get('native_id')} ({rec.get('resource_type')})"


def explain_tree(raw: Mapping[str, Any], index: ResourceIndex) -> ExplainNode:
    """``findings.rules.explain``'s dict, as uniform nodes: combinators, leaves (path, operator,
    expected, actual), list quantifiers and related resources."""
    result = raw.get("result")
    if "all" in raw:
        return ExplainNode("all", "All of", result, [explain_tree(c, index) for c in raw["all"]])
    if "any" in raw:
        return ExplainNode("any", "Any of", result, [explain_tree(c, index) for c in raw["any"]])
    if "not" in raw:
        return ExplainNode("not", "Not", result, [explain_tree(raw["not"], index)])
    for key in ("any_item", "all_items", "count_items"):
        if key in raw:
            words = {"any_item": "Any item of", "all_items": "All items of", "count_items": "Number of items of"}[key]
            node = ExplainNode("items", f"{words} {raw[key]}", result)
            if "items" in raw:
                matching = raw.get("matching_items") or []
                node.note = f"{raw['items']} item{'s' if raw['items'] != 1 else ''}, {len(matching)} matching"
            elif raw.get("missing"):
                node.missing = True
                node.note = "not present"
            else:
                node.actual = _show(raw.get("actual"))
                node.note = "not a list"
            if raw.get("count"):
                node.note += f"; needs {_count(raw['count'])}"
            if "where" in raw:
                where = dict(raw["where"])
                item = where.pop("item", 0)
                child = explain_tree(where, index)
                child.label = f"item #{item}: {child.label}" if child.kind != "leaf" else child.label
                child.note = (child.note + "; " if child.note else "") + f"shown for item #{item}"
                node.children.append(child)
            return node
    if "related" in raw:
        types = ", ".join(raw.get("types") or []) or "any type"
        arrow = {"out": "→", "in": "←", "both": "↔"}.get(raw.get("direction", "out"), "→")
        node = ExplainNode("related", f"Related {arrow} {raw['related']} ({types})", result)
        matching = raw.get("matching") or []
        node.note = f"{raw.get('candidates', 0)} related, {len(matching)} matching; needs {_count(raw.get('count'))}"
        if matching:
            shown = ", ".join(_name_of(index, rid) for rid in matching[:5])
            node.note += f"; matching: {shown}{' …' if len(matching) > 5 else ''}"
        if "where" in raw:
            where = dict(raw["where"])
            resource_id = where.pop("resource", None)
            child = explain_tree(where, index)
            child.note = (child.note + "; " if child.note else "") + f"shown for {_name_of(index, resource_id)}"
            node.children.append(child)
        return node
    node = ExplainNode("leaf", str(raw.get("path", "")), result, op=str(raw.get("op", "")).replace("_", " "))
    if "value" in raw:
        node.expected = _show(raw["value"])
    if raw.get("missing"):
        node.missing = True
    elif "actual" in raw:
        node.actual = _show(raw["actual"])
    node.error = raw.get("error", "")
    return node


def own_scope_gap(status: RuleStatus | None, finding: Finding) -> str | None:
    """Why the finding's own (type, region) was not evaluated by the last evaluation, if it was not:
    the finding then reflects the last data seen, not the current state."""
    if status is None or not status.not_evaluated:
        return None
    from inventory.coverage import scope_region

    region = scope_region(finding.resource_type, finding.region, finding.native_id)
    for entry in status.not_evaluated:
        if entry.get("resource") not in (None, finding.native_id):
            continue  # another resource's unreadable setting
        if entry.get("type") == finding.resource_type and entry.get("region") in (region, ""):
            return str(entry.get("reason") or "not evaluated")
    return None


@dataclass(frozen=True)
class DriftRow:
    path: str
    old: str | None  # None: the field was absent
    new: str | None


def drift_rows(finding: Finding) -> list[DriftRow]:
    """A baseline drift finding's field-level differences, approved (old) → current (new)."""
    diff = (finding.detail or {}).get("diff") or {}
    if not isinstance(diff, Mapping):
        return []
    rows = []
    for path_, change in sorted(diff.items()):
        change = change if isinstance(change, Mapping) else {}
        old, new = change.get("old"), change.get("new")
        rows.append(DriftRow(str(path_), None if old is None else _show(old), None if new is None else _show(new)))
    return rows


# --- triage at scale: findings grouped by rule, and the one count every page reads ----------------------


@dataclass
class RuleGroup:
    """The filtered findings of one rule: how many, on how many connections, and their waste."""

    rule_id: str
    title: str
    severity: str
    category: str
    count: int
    connections: int
    waste: Decimal | None
    querystring: str = ""  # the list's filters narrowed to this rule (the group's flat view)

    @property
    def severity_label(self) -> str:
        return Severity(self.severity).label if self.severity in Severity.values else self.severity


def group_by_rule(
    org, findings: QuerySet[Finding], filters: FindingFilters, *, tallied: bool = True
) -> list[RuleGroup]:
    """A row per rule of the filtered findings, most severe first, then the largest groups: one grouped
    query over the open tallies when they can answer (findings/tallies.py), else over the findings. Titles
    are taken from the rule's newest finding (all of a rule's findings share one)."""
    from django.db.models import Max, Min

    source = matching_tallies(org, filters) if tallied else None
    if source is not None:
        rank = Case(*(When(severity=s, then=Value(r)) for s, r in SEVERITY_ORDER.items()), default=Value(99))
        rows = source.values("rule_id").annotate(
            title=Max("title"),
            rank=Min(rank),
            category=Max("category"),
            n=Sum("count"),
            conns=Count("connection_id", distinct=True),
            usd=Sum("monthly_usd"),
        )
    else:
        rows = (
            findings.order_by()
            .values("rule_id")
            .annotate(
                title=Max("title"),
                rank=Min("severity_rank"),
                category=Max("category"),
                n=Count("id"),
                conns=Count("connection_id", distinct=True),
                usd=Sum("monthly_usd"),
            )
        )
    rows = rows.order_by("rank", "-n", "rule_id")
    severities = list(SEVERITY_ORDER)
    return [
        RuleGroup(
            rule_id=row["rule_id"],
            title=row["title"],
            severity=severities[row["rank"]] if row["rank"] < len(severities) else "",
            category=row["category"],
            count=row["n"],
            connections=row["conns"],
            waste=row["usd"],
            querystring=filters.querystring(rule=[row["rule_id"]]),
        )
        for row in rows
    ]


def open_counts(org, pairs: Iterable[tuple[int, str]] | None = None) -> dict[tuple[int, str], int]:
    """Open findings per (connection, rule): the one count behind the compliance cells, rule pages and the
    dashboard, recomputed from the findings themselves (suppressed and resolved ones excluded)."""
    qs = Finding.objects.for_org(org).filter(status=Finding.Status.OPEN)
    pairs = list(pairs) if pairs is not None else None
    if pairs is not None:
        if not pairs:
            return {}
        qs = qs.filter(connection_id__in={c for c, _ in pairs}, rule_id__in={r for _, r in pairs})
    rows = qs.values_list("connection_id", "rule_id").annotate(n=Count("id")).order_by()
    counts = {(c, r): n for c, r, n in rows}
    if pairs is not None:
        return {pair: counts.get(pair, 0) for pair in pairs}
    return counts


def refresh_rule_statuses(org, pairs: Iterable[tuple[int, str]]) -> int:
    """After a suppression or its lifting: each (connection, rule)'s ``RuleStatus`` takes its open count
    from ``open_counts`` and its verdict follows (fail while findings are open; else pass, or not
    evaluated when part of the scope was not seen), as the last evaluation would have written it.
    Returns how many statuses changed."""
    pairs = set(pairs)
    if not pairs:
        return 0
    counts = open_counts(org, pairs)
    V = RuleStatus.Verdict
    statuses = RuleStatus.objects.for_org(org).filter(
        connection_id__in={c for c, _ in pairs}, rule_id__in={r for _, r in pairs}
    )
    changed = []
    for status in statuses:
        key = (status.connection_id, status.rule_id)
        if key not in pairs:
            continue
        matched = counts.get(key, 0)
        if matched:
            verdict = V.FAIL
        elif status.not_evaluated_count:
            verdict = V.NOT_EVALUATED
        else:
            verdict = V.PASS
        if (status.matched, status.verdict) != (matched, verdict):
            status.matched, status.verdict = matched, verdict
            changed.append(status)
    RuleStatus.objects.for_org(org).bulk_update(changed, ["matched", "verdict"], batch_size=500)
    return len(changed)
