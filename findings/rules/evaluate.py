"""Evaluate compiled rules over resource records (plain dicts) and their relationships.

The data the engine sees (the inventory models map onto it 1:1)::

    record       = {"id": 7, "connection_id": 1, "provider": "aws", "resource_type": "aws.ec2.volume",
                    "native_id": "arn:...", "region": "eu-west-1", "name": "...", "tags": {...}, "config": {...}}
    relationship = (source_id, target_id, kind)           # or {"source_id":, "target_id":, "kind":}
    coverage     = {connection_id: {(resource_type, region): "collected" | "denied" | "throttled" | ...}}

A record may carry ``scope``: the coverage region of the unit that collected it ("global" for a global
collector's types, "/subscriptions/<id>" for Azure). Scopes group by it, while conditions and cost
estimates still read the record's own ``region``.

``ResourceIndex`` groups records by type and by (connection, scope or region) and precomputes the relationship
adjacency once; ``evaluate`` runs rules over it. A rule is evaluated only in the scopes
(connection, resource type, region) whose type, and every type its related conditions read, was
collected in the connection's last run; every other scope is reported "not evaluated", never a pass.
Inside an evaluated scope, a record whose collector could not read a setting the rule reads (listed in
``config["unreadable"]``, see ``unread_keys``) is "not evaluated" for that rule too: never a pass, never a
finding. An error on one record (comparing a string with a number, a malformed date) is counted for the rule
and the run goes on.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from findings.rules.language import All, AnyOf, Not, Related, Rule, compile_rule

try:  # Celery's soft time limit: it must stop the evaluation, not count as one record's error.
    from billiard.exceptions import SoftTimeLimitExceeded as Interrupt
except ImportError:  # pragma: no cover - Celery is a dependency; the engine also runs without it
    Interrupt = ()  # type: ignore[assignment, misc]

COLLECTED = "collected"
MAX_ERROR_SAMPLES = 5
MAX_ERROR_CHARS = 300  # an error quotes the record's value (a malformed date...): bounded

Record = Mapping[str, Any]
Coverage = Mapping[int | None, Mapping[tuple[str, str], str]]


class Scope(NamedTuple):
    connection_id: int | None
    resource_type: str
    region: str


def _unreadable(rec: Record) -> tuple[str, ...]:
    """The settings the record's collector could not read (``config["unreadable"]``)."""
    config = rec.get("config")
    listed = config.get("unreadable") if isinstance(config, Mapping) else None
    if not listed or not isinstance(listed, list):
        return ()
    return tuple(str(name) for name in listed)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a while. Indexing and evaluating a million records makes
    millions of lists and tuples, none of them garbage: the collector's repeated passes over them were
    most of the index build's time and a quarter of the evaluation's."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class ResourceIndex:
    """Records by id, by type and by (connection, region); relationship adjacency by kind; the few
    records with unreadable settings."""

    def __init__(self, records: Iterable[Record], relationships: Iterable[Any] = ()) -> None:
        with gc_paused():
            self._index_records(records)
            self._index_relationships(relationships)

    def _index_records(self, records: Iterable[Record]) -> None:
        by_id: dict[Any, Record] = {}
        by_type: dict[str, list[Record]] = {}
        groups: dict[str, dict[tuple[Any, str], list[Record]]] = {}
        unreadable: dict[Any, tuple[str, ...]] = {}  # record id → names, only where some
        unreadable_types: set[str] = set()
        for rec in records:
            rid = rec["id"]
            by_id[rid] = rec
            rtype = rec["resource_type"]
            config = rec.get("config")
            if isinstance(config, Mapping) and config.get("unreadable"):
                unread = _unreadable(rec)
                if unread:
                    unreadable[rid] = unread
                    unreadable_types.add(rtype)
            key = (rec.get("connection_id"), rec.get("scope") or rec.get("region") or "")
            of_type = groups.get(rtype)
            if of_type is None:
                of_type = groups[rtype] = {}
                by_type[rtype] = []
            by_type[rtype].append(rec)
            group = of_type.get(key)
            if group is None:
                of_type[key] = [rec]
            else:
                group.append(rec)
        self.by_id, self.by_type, self.groups = by_id, by_type, groups
        self.unreadable, self.unreadable_types = unreadable, unreadable_types

    def _index_relationships(self, relationships: Iterable[Any]) -> None:
        self.out_adj: dict[str, dict[Any, list[Any]]] = {}
        self.in_adj: dict[str, dict[Any, list[Any]]] = {}
        count = 0
        for rel in relationships:
            if isinstance(rel, Mapping):
                source, target, kind = rel["source_id"], rel["target_id"], rel["kind"]
            else:
                source, target, kind = rel
            self.out_adj.setdefault(kind, {}).setdefault(source, []).append(target)
            self.in_adj.setdefault(kind, {}).setdefault(target, []).append(source)
            count += 1
        self.relationship_count = count

    def __len__(self) -> int:
        return len(self.by_id)

    def of_types(self, types: Iterable[str]) -> int:
        return sum(len(self.by_type.get(t, ())) for t in types)

    def related(
        self, record_id: Any, kind: str, direction: str = "out", types: Iterable[str] | None = None
    ) -> list[Record]:
        """The records linked to ``record_id`` by ``kind``: out = it points at them, in = they point at it."""
        ids: list[Any] = []
        if direction in ("out", "both"):
            ids.extend(self.out_adj.get(kind, {}).get(record_id, ()))
        if direction in ("in", "both"):
            ids.extend(self.in_adj.get(kind, {}).get(record_id, ()))
        wanted = set(types) if types is not None else None
        out = []
        for nid in ids:
            rec = self.by_id.get(nid)
            if rec is not None and (wanted is None or rec["resource_type"] in wanted):
                out.append(rec)
        return out


class Env:
    """What compiled conditions read while evaluating: the clock and the index adjacency."""

    __slots__ = ("now", "index", "by_id", "out_adj", "in_adj")

    def __init__(self, index: ResourceIndex, now: datetime | None = None) -> None:
        self.now = _aware(now) if now is not None else datetime.now(UTC)
        self.index = index
        self.by_id = index.by_id
        self.out_adj = index.out_adj
        self.in_adj = index.in_adj


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@dataclass
class RuleResult:
    rule_id: str
    matched: list[Any] = field(default_factory=list)  # resource ids, scope by scope
    evaluated: set[Scope] = field(default_factory=set)  # scopes where the rule ran (no match there = pass)
    not_evaluated: dict[Scope, str] = field(default_factory=dict)  # scope → why (denied, throttled, ...)
    checked: int = 0  # records the condition ran on
    errors: int = 0  # records the condition (or the cost estimate) failed on
    error_samples: list[tuple[Any, str]] = field(default_factory=list)  # (resource id, message), a few
    costs: dict[Any, float] = field(default_factory=dict)  # resource id → estimated monthly USD (cost rules)
    # Records of evaluated scopes the rule could not judge: resource id → the unreadable settings it reads
    # (on the record, or "<name>: <key>" on a related one). Neither matched nor passed.
    unreadable: dict[Any, tuple[str, ...]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def monthly_usd(self) -> float:
        return round(sum(self.costs.values()), 2)

    def _error(self, resource_id: Any, exc: BaseException, what: str = "") -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            message = f"{what}{type(exc).__name__}: {exc}"
            if len(message) > MAX_ERROR_CHARS:
                message = message[: MAX_ERROR_CHARS - 1] + "…"
            self.error_samples.append((resource_id, message))


@dataclass
class Evaluation:
    results: dict[str, RuleResult]
    records: int
    seconds: float

    @property
    def matches(self) -> int:
        return sum(len(r.matched) for r in self.results.values())

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.results.values())


def _related_status(cov: Mapping[tuple[str, str], str], rtype: str, region: str) -> str | None:
    """How ``rtype`` was collected where a scope in ``region`` can see it (its region, else global).
    For a global scope reading a regional type, every region must be collected."""
    status = cov.get((rtype, region))
    if status is None:
        status = cov.get((rtype, "global"))
    if status is None and region == "global":
        statuses = {s for (t, _), s in cov.items() if t == rtype}
        if statuses:
            return COLLECTED if statuses == {COLLECTED} else next(s for s in sorted(statuses) if s != COLLECTED)
    return status


def _scope_reason(rule: Rule, scope: Scope, coverage: Coverage | None) -> str | None:
    """None when the rule can be evaluated in ``scope``, else why not."""
    if coverage is None:
        return None
    cov = coverage.get(scope.connection_id)
    if cov is None:
        return "no completed sync for this connection"
    status = cov.get((scope.resource_type, scope.region))
    if status is None:
        return "not collected in the last sync"
    if status != COLLECTED:
        return status
    for rtype in sorted(rule.related_types):
        related = _related_status(cov, rtype, scope.region)
        if related != COLLECTED:
            return f"{rtype}: {related or 'not collected'}"
    return None


# --- Settings a collector could not read ------------------------------------------------------------
# A collector that cannot read a setting (AccessDenied on a detail call...) leaves it null and lists it
# in config["unreadable"], by its config key ("tags" for the record's tags), or by the name of the call
# that fills several keys ("attributes", "status"). A rule reading such a setting sees null, which may
# look like "off" or "absent": its verdict on that record would be a guess either way.

ANY_KEY = "*"  # the rule reads the whole configuration


def _top_key(path: str) -> str | None:
    """The top-level record key a rule path reads: the config key, "tags" for tags, None otherwise."""
    if path == "config":
        return ANY_KEY
    if path.startswith("config."):
        return path.split(".", 2)[1].split("[", 1)[0]
    if path == "tags" or path.startswith("tags."):
        return "tags"
    return None


class ReadKeys:
    """What one rule reads per resource type ("*" for a related condition without types), and the
    related conditions it reads through, nested: enough to tell which unreadable settings concern it."""

    __slots__ = ("by_type", "related")

    def __init__(self, rule: Rule) -> None:
        by_type: dict[str, set[str]] = {}
        for rtype, path in rule.fields_read:
            key = _top_key(path)
            if key is not None:
                by_type.setdefault(rtype, set()).add(key)
        anywhere = by_type.pop("*", set())
        self.by_type = {t: frozenset(keys | anywhere) for t, keys in by_type.items()}
        self.by_type["*"] = frozenset(anywhere)
        self.related = _related_tree(rule.condition)

    def of(self, rtype: str) -> frozenset[str]:
        return self.by_type.get(rtype) or self.by_type["*"]


def _related_tree(node: Any) -> tuple[tuple[Related, tuple], ...]:
    """The related conditions of a condition tree, each with the ones nested in its ``where``."""
    if isinstance(node, Related):
        return ((node, _related_tree(node.where) if node.where is not None else ()),)
    if isinstance(node, (All, AnyOf)):
        return tuple(r for child in node.children for r in _related_tree(child))
    if isinstance(node, Not):
        return _related_tree(node.child)
    return ()  # leaves and list quantifiers: related conditions cannot appear inside them


def unread_keys(rec: Record, keys: frozenset[str], listed: Sequence[str] | None = None) -> tuple[str, ...]:
    """The settings among ``keys`` (config keys, "tags", "*") that ``rec``'s collector could not read.
    A listed name that is a config key (or "tags") concerns the rules reading it; a name that is not
    (a call filling several keys) makes every read key left null on the record unknown."""
    listed = _unreadable(rec) if listed is None else listed
    if not listed or not keys:
        return ()
    config = rec.get("config") if isinstance(rec.get("config"), Mapping) else {}
    everything = ANY_KEY in keys
    found: set[str] = set()
    grouped = False
    for name in listed:
        if name == "tags" or name in config:
            if everything or name in keys:
                found.add(name)
        else:
            grouped = True
    if grouped:
        found.update(k for k in keys if k not in (ANY_KEY, "tags", "unreadable") and config.get(k) is None)
        if everything:
            found.update(n for n in listed if n != "tags" and n not in config)
    return tuple(sorted(found))


def _unread_through(
    related: tuple[tuple[Related, tuple], ...], rec: Record, env: Env, reads: ReadKeys, index: ResourceIndex
) -> tuple[str, ...]:
    """Unreadable settings the rule reads on the records its related conditions reach from ``rec``."""
    found: list[str] = []
    for node, nested in related:
        for other in node.neighbours(rec, env):
            listed = index.unreadable.get(other.get("id"))
            if listed and node.where is not None:
                name = other.get("name") or other.get("native_id") or other.get("id")
                found.extend(f"{name}: {k}" for k in unread_keys(other, reads.of(other["resource_type"]), listed))
            if nested:
                found.extend(_unread_through(nested, other, env, reads, index))
    return tuple(dict.fromkeys(found))


def evaluate_rule(
    rule: Rule,
    index: ResourceIndex,
    *,
    coverage: Coverage | None = None,
    now: datetime | None = None,
    env: Env | None = None,
    connection_ids: Collection[Any] | None = None,
) -> RuleResult:
    """Run one rule over the index. ``coverage=None`` evaluates every record (previews, tests);
    ``connection_ids`` limits the rule to those connections (a custom rule scoped to connections)."""
    started = time.perf_counter()
    env = env or Env(index, now)
    result = RuleResult(rule.id)
    matched = result.matched
    test = rule.condition.test
    # Only an index with unreadable settings pays for the checks below (a dict lookup per record).
    reads = ReadKeys(rule) if index.unreadable else None
    through = (
        reads.related
        if reads is not None
        and reads.related
        and (index.unreadable_types & rule.related_types or any(n.types is None for n, _ in reads.related))
        else ()
    )
    for rtype in rule.resource_types:
        own = reads.of(rtype) if reads is not None and rtype in index.unreadable_types else None
        groups = index.groups.get(rtype, {})
        scopes = {(conn, region) for conn, region in groups}
        if coverage is not None:
            for conn, cov in coverage.items():
                scopes.update((conn, region) for (t, region) in cov if t == rtype)
        if connection_ids is not None:
            scopes = {s for s in scopes if s[0] in connection_ids}
        for conn, region in sorted(scopes, key=lambda s: (str(s[0]), s[1])):
            scope = Scope(conn, rtype, region)
            reason = _scope_reason(rule, scope, coverage)
            if reason is not None:
                result.not_evaluated[scope] = reason
                continue
            result.evaluated.add(scope)
            records = groups.get((conn, region), ())
            result.checked += len(records)
            for rec in records:
                try:
                    if own or through:
                        listed = index.unreadable.get(rec["id"]) if own else None
                        unread = unread_keys(rec, own, listed) if listed else ()
                        if through:
                            unread += _unread_through(through, rec, env, reads, index)  # type: ignore[arg-type]
                        if unread:
                            result.unreadable[rec["id"]] = unread
                            result.checked -= 1
                            continue
                    if test(rec, env):
                        matched.append(rec["id"])
                except Interrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - one bad record never stops the run
                    result._error(rec.get("id"), exc)
    if rule.cost is not None and matched:
        for rid in matched:
            try:
                usd = rule.cost.estimate(index.by_id[rid], index)
            except Interrupt:
                raise
            except Exception as exc:  # noqa: BLE001
                result._error(rid, exc, "cost: ")
                continue
            if usd is not None:
                result.costs[rid] = round(float(usd), 2)
    result.seconds = time.perf_counter() - started
    return result


def evaluate(
    rules: Iterable[Rule],
    index: ResourceIndex,
    *,
    coverage: Coverage | None = None,
    now: datetime | None = None,
    rule_connections: Mapping[str, Collection[Any]] | None = None,
) -> Evaluation:
    """Run every rule; one rule failing unexpectedly is recorded as errors, never stops the others.
    ``rule_connections``: rule id → the connections it is scoped to (rules not listed: all)."""
    started = time.perf_counter()
    env = Env(index, now)
    results: dict[str, RuleResult] = {}
    scoped = rule_connections or {}
    with gc_paused():
        for rule in rules:
            try:
                results[rule.id] = evaluate_rule(
                    rule, index, coverage=coverage, env=env, connection_ids=scoped.get(rule.id)
                )
            except Interrupt as exc:
                exc.add_note(f"while evaluating rule {rule.id}")  # which rule ran out the clock, for the log
                raise
            except Exception as exc:  # noqa: BLE001 - defensive: the loop above already isolates records
                failed = RuleResult(rule.id)
                failed._error(None, exc, "rule: ")
                results[rule.id] = failed
    return Evaluation(results, len(index), time.perf_counter() - started)


@dataclass
class Preview:
    """What the custom-rule editor shows before saving: "matches 12 of 3,400 resources"."""

    matched: int
    candidates: int  # records of the rule's resource types
    total: int  # every record in the index
    errors: int
    sample_ids: list[Any]
    error_samples: list[tuple[Any, str]]


def preview(
    rule: Rule | Mapping[str, Any],
    index: ResourceIndex,
    *,
    now: datetime | None = None,
    sample: int = 20,
    schema: Any = None,
) -> Preview:
    """Count a rule's matches over the index (a document is compiled first; RuleError if broken)."""
    if not isinstance(rule, Rule):
        rule = compile_rule(rule, schema=schema)
    result = evaluate_rule(rule, index, now=now)
    return Preview(
        matched=len(result.matched),
        candidates=index.of_types(rule.resource_types),
        total=len(index),
        errors=result.errors,
        sample_ids=result.matched[:sample],
        error_samples=result.error_samples,
    )


def explain(rule: Rule, record: Record, index: ResourceIndex | None = None, *, now: datetime | None = None) -> dict:
    """Why ``record`` matches (or not): the condition tree with each leaf's actual value and result."""
    index = index if index is not None else ResourceIndex([record])
    return rule.condition.explain(record, Env(index, now))


# --- Inline examples (``tests:`` in a rule document) ----------------------------------------------
# An example is a partial record; relations build the resources around it:
#   {config: {...}, tags: {...}, region: ...,
#    relations: [{kind: attached_to, direction: in, resource: {resource_type: ..., config: ..., relations: [...]}}]}
# Examples run at a fixed clock so dates in them can be absolute.

EXAMPLE_NOW = datetime(2025, 6, 1, tzinfo=UTC)
EXAMPLE_REGIONS = {"aws": "us-east-1", "azure": "eastus"}
EXAMPLE_KEYS = ("id", "connection_id", "resource_type", "native_id", "region", "name", "tags", "config", "relations")


def example_index(rule: Rule, example: Mapping[str, Any]) -> tuple[ResourceIndex, Record]:
    """The index an example describes, and its main record (of the rule's first type by default)."""
    records: list[dict[str, Any]] = []
    relationships: list[tuple[int, int, str]] = []

    def build(spec: Mapping[str, Any], default_type: str) -> dict[str, Any]:
        unknown = set(spec) - set(EXAMPLE_KEYS)
        if unknown:
            raise ValueError(f"unknown example keys {sorted(unknown)} (allowed: {', '.join(EXAMPLE_KEYS)})")
        rtype = spec.get("resource_type", default_type)
        provider = rtype.split(".", 1)[0]
        rid = spec.get("id", len(records) + 1)
        rec = {
            "id": rid,
            "connection_id": spec.get("connection_id", 1),
            "provider": provider,
            "resource_type": rtype,
            "native_id": spec.get("native_id", f"example:{rtype}:{rid}"),
            "region": spec.get("region", EXAMPLE_REGIONS.get(provider, "global")),
            "name": spec.get("name", f"example-{rid}"),
            "tags": dict(spec.get("tags") or {}),
            "config": dict(spec.get("config") or {}),
        }
        records.append(rec)
        for rel in spec.get("relations") or ():
            other = build(rel["resource"], rel["resource"].get("resource_type", default_type))
            if rel.get("direction", "out") == "out":
                relationships.append((rec["id"], other["id"], rel["kind"]))
            else:
                relationships.append((other["id"], rec["id"], rel["kind"]))
        return rec

    main = build(example, rule.resource_types[0])
    return ResourceIndex(records, relationships), main


def run_examples(rule: Rule, *, now: datetime = EXAMPLE_NOW) -> list[str]:
    """Check a rule against its inline examples; the list of failures (empty when all pass)."""
    failures: list[str] = []
    for expected, key in ((True, "match"), (False, "no_match")):
        for i, example in enumerate(rule.examples.get(key, ())):
            try:
                index, main = example_index(rule, example)
                got = rule.test(main, Env(index, now))
            except Exception as exc:  # noqa: BLE001
                failures.append(f"{rule.id} tests.{key}[{i}]: error {type(exc).__name__}: {exc}")
                continue
            if got is not expected:
                verb = "does not match" if expected else "matches"
                failures.append(f"{rule.id} tests.{key}[{i}]: the rule {verb} this example")
    return failures


def summarize(results: Sequence[RuleResult]) -> dict[str, int]:
    """Totals for logs and the bench."""
    return {
        "rules": len(results),
        "matches": sum(len(r.matched) for r in results),
        "errors": sum(r.errors for r in results),
        "not_evaluated_scopes": sum(len(r.not_evaluated) for r in results),
        "unreadable_records": sum(len(r.unreadable) for r in results),
    }
