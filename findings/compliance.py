"""The compliance view: each framework's controls, judged per connection from the rules' last verdicts.

A control maps to built-in rules (``builtin_catalog().controls(framework)``). On one connection it
**fails** if any of its rules failed, **passes** only if every one of its rules passed, and is **not
evaluated** otherwise (a rule not evaluated somewhere, or no verdict at all: a connection never
evaluated is never a pass). Across the organization a control fails if it fails on any connection,
passes if it passes on every connection of the framework's provider (and there is at least one),
and is not evaluated otherwise.

A framework with a full control list (``findings.benchmarks``: CIS AWS 3.0) shows every control of the
benchmark, in its order, with its title. An automatable control no rule judges is **not evaluated**
(Cloustral has no data for it); a **manual** control is never a pass: it shows as "manual", or fails when
a rule mapped to it found a deviation (evidence against it is still evidence).

Verdicts come from ``RuleStatus`` (written by ``findings.lifecycle``), loaded once per page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from connections.models import CloudConnection
from findings.benchmarks import BENCHMARKS, Benchmark
from findings.models import RuleStatus
from findings.rules.catalog import builtin_catalog
from findings.rules.language import FRAMEWORKS

PASS = RuleStatus.Verdict.PASS.value
FAIL = RuleStatus.Verdict.FAIL.value
NOT_EVALUATED = RuleStatus.Verdict.NOT_EVALUATED.value
MANUAL = "manual"  # a control the benchmark audits by hand: never a pass
VERDICT_LABELS = {PASS: "Pass", FAIL: "Fail", NOT_EVALUATED: "Not evaluated", MANUAL: "Manual"}
NO_RULE = "no Cloustral rule judges this control yet"


def control_verdict(verdicts: Iterable[str | None]) -> str:
    """Fail if any verdict fails; pass if there is at least one and all pass; else not evaluated
    (``None`` stands for a rule with no verdict on the connection)."""
    verdicts = list(verdicts)
    if FAIL in verdicts:
        return FAIL
    if verdicts and all(v == PASS for v in verdicts):
        return PASS
    return NOT_EVALUATED


def manual_verdict(verdicts: Iterable[str | None]) -> str:
    """A manual control: fail if a rule mapped to it failed, else manual (whatever passed)."""
    return FAIL if FAIL in verdicts else MANUAL


def org_verdict(cell_verdicts: Iterable[str], automated: bool = True) -> str:
    """A control across connections: the same rule (no connection at all is not evaluated)."""
    return control_verdict(cell_verdicts) if automated else manual_verdict(cell_verdicts)


def framework_providers(framework: str) -> list[str]:
    """The providers a framework's rules are written for (CIS AWS → aws)."""
    catalog = builtin_catalog()
    benchmark = BENCHMARKS.get(framework)
    providers: set[str] = {benchmark.provider} if benchmark is not None else set()
    for rule_ids in catalog.controls(framework).values():
        for rule_id in rule_ids:
            rule = catalog.get(rule_id)
            if rule is not None:
                providers.update(rule.providers)
    return sorted(providers)


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    not_evaluated: int = 0
    manual: int = 0

    def add(self, verdict: str) -> None:
        if verdict == PASS:
            self.passed += 1
        elif verdict == FAIL:
            self.failed += 1
        elif verdict == MANUAL:
            self.manual += 1
        else:
            self.not_evaluated += 1

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.not_evaluated + self.manual


@dataclass
class RuleCell:
    rule_id: str
    verdict: str | None  # None: no verdict on this connection
    matched: int = 0
    not_evaluated: list[dict] = field(default_factory=list)


@dataclass
class Cell:
    """One control on one connection."""

    connection_id: int
    verdict: str
    rules: list[RuleCell]
    tally: Tally
    open_findings: int = 0
    findings_url: str = ""  # set by the view for failing cells

    @property
    def failing_rule_ids(self) -> list[str]:
        return [r.rule_id for r in self.rules if r.verdict == FAIL]

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def reasons(self) -> list[str]:
        """Why rules of the control were not evaluated here (denied, throttled, no verdict yet ...)."""
        if not self.rules:
            return [NO_RULE]
        found: set[str] = set()
        for r in self.rules:
            if r.verdict is None:
                found.add("no evaluation yet")
            elif r.verdict == NOT_EVALUATED:
                listed = {str(e.get("reason") or "not evaluated") for e in r.not_evaluated}
                found.update(listed or {"not evaluated"})
        return sorted(found)


@dataclass
class RuleInfo:
    id: str
    title: str
    severity: str


@dataclass
class ControlRow:
    control: str
    rules: list[RuleInfo]
    cells: list[Cell]
    verdict: str
    title: str = ""  # from the benchmark's list; "" for frameworks without one
    automated: bool = True
    section: str = ""
    in_benchmark: bool = True  # False: a rule maps to an id the benchmark's list does not have

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.verdict]


@dataclass
class FrameworkReport:
    slug: str
    name: str
    providers: list[str]
    connections: list[CloudConnection]
    controls: list[ControlRow]
    tally: Tally  # controls across the organization
    benchmark: Benchmark | None = None  # the full control list, when the framework has one

    @property
    def provider_label(self) -> str:
        labels = dict(CloudConnection.Provider.choices)
        return "/".join(labels.get(p, p) for p in self.providers)

    @property
    def evaluated_connections(self) -> int:
        return sum(1 for c in self.connections if getattr(c, "has_verdicts", False))

    @property
    def automated_controls(self) -> int:
        return sum(1 for row in self.controls if row.automated)


def _statuses(org, rule_ids: Iterable[str]) -> dict[tuple[int, str], RuleStatus]:
    rows = (
        RuleStatus.objects.for_org(org)
        .filter(rule_id__in=list(rule_ids))
        .only("connection_id", "rule_id", "verdict", "matched", "not_evaluated")
    )
    return {(s.connection_id, s.rule_id): s for s in rows}


def _connections(org, providers: list[str]) -> list[CloudConnection]:
    return list(CloudConnection.objects.for_org(org).filter(provider__in=providers).order_by("name", "id"))


@dataclass(frozen=True)
class _ControlSpec:
    id: str
    rule_ids: list[str]
    title: str = ""
    automated: bool = True
    section: str = ""
    in_benchmark: bool = True


def _control_specs(framework: str, controls: Mapping[str, list[str]]) -> list[_ControlSpec]:
    """The rows to show: the benchmark's every control in its order (with the rules mapped to each), then
    any id a rule maps to that the list lacks; without a list, the controls rules map to."""
    benchmark = BENCHMARKS.get(framework)
    if benchmark is None:
        return [_ControlSpec(control, list(rule_ids)) for control, rule_ids in controls.items()]
    specs = [
        _ControlSpec(c.id, list(controls.get(c.id, ())), c.title, c.automated, c.section) for c in benchmark.controls
    ]
    listed = {c.id for c in benchmark.controls}
    specs += [_ControlSpec(cid, list(ids), in_benchmark=False) for cid, ids in controls.items() if cid not in listed]
    return specs


def _report(
    framework: str,
    controls: Mapping[str, list[str]],
    connections: list[CloudConnection],
    statuses: Mapping[tuple[int, str], RuleStatus],
    providers: list[str],
) -> FrameworkReport:
    catalog = builtin_catalog()
    evaluated = {conn_id for conn_id, _ in statuses}
    for conn in connections:
        conn.has_verdicts = conn.pk in evaluated
    rows: list[ControlRow] = []
    tally = Tally()
    for spec in _control_specs(framework, controls):
        control, rule_ids = spec.id, spec.rule_ids
        judge = control_verdict if spec.automated else manual_verdict
        infos = []
        for rule_id in rule_ids:
            rule = catalog.get(rule_id)
            infos.append(RuleInfo(rule_id, rule.title if rule else rule_id, rule.severity if rule else ""))
        cells = []
        for conn in connections:
            rule_cells = []
            cell_tally = Tally()
            for rule_id in rule_ids:
                status = statuses.get((conn.pk, rule_id))
                verdict = status.verdict if status is not None else None
                rule_cells.append(
                    RuleCell(
                        rule_id,
                        verdict,
                        status.matched if status is not None else 0,
                        list(status.not_evaluated or []) if status is not None else [],
                    )
                )
                cell_tally.add(verdict or NOT_EVALUATED)
            cells.append(
                Cell(
                    connection_id=conn.pk,
                    verdict=judge([r.verdict for r in rule_cells]),
                    rules=rule_cells,
                    tally=cell_tally,
                    open_findings=sum(r.matched for r in rule_cells),
                )
            )
        verdict = org_verdict([c.verdict for c in cells], spec.automated)
        tally.add(verdict)
        rows.append(
            ControlRow(control, infos, cells, verdict, spec.title, spec.automated, spec.section, spec.in_benchmark)
        )
    return FrameworkReport(
        framework, FRAMEWORKS[framework], providers, connections, rows, tally, BENCHMARKS.get(framework)
    )


def framework_report(org, framework: str) -> FrameworkReport:
    """Every control of ``framework`` with its rules and a cell per connection of its provider(s).
    Two queries (connections, rule verdicts). ``KeyError`` for an unknown framework."""
    if framework not in FRAMEWORKS:
        raise KeyError(framework)
    controls = builtin_catalog().controls(framework)
    providers = framework_providers(framework)
    connections = _connections(org, providers)
    rule_ids = {r for ids in controls.values() for r in ids}
    return _report(framework, controls, connections, _statuses(org, rule_ids), providers)


def frameworks_overview(org) -> list[FrameworkReport]:
    """Every framework's report (the overview shows their control tallies). Two queries in all."""
    catalog = builtin_catalog()
    all_controls = {fw: catalog.controls(fw) for fw in FRAMEWORKS}
    providers = {fw: framework_providers(fw) for fw in FRAMEWORKS}
    connections = _connections(org, sorted({p for ps in providers.values() for p in ps}))
    rule_ids = {r for controls in all_controls.values() for ids in controls.values() for r in ids}
    statuses = _statuses(org, rule_ids)
    return [
        _report(
            fw,
            all_controls[fw],
            [c for c in connections if c.provider in providers[fw]],
            statuses,
            providers[fw],
        )
        for fw in FRAMEWORKS
    ]
