"""The rule language: parse, validate and compile rule documents (reference: docs/rules.md).

A rule document is a mapping (YAML or JSON) with ``id``, ``title``, ``severity``, ``category``,
``resource_types`` and a ``condition`` tree. ``compile_rule`` validates the whole document up front
(every problem is a ``RuleError`` naming the rule id, the path in the document, e.g.
``condition.all[2].op``, and the problem) and turns the condition into a tree of small node objects
with paths split, operators resolved to functions and regexes compiled once. Evaluation
(``findings.rules.evaluate``) then only walks that tree.

Plain data in, plain data out: no Django, no I/O beyond parsing the text it is given.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
import reprlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import re2
import yaml

SEVERITIES = ("critical", "high", "medium", "low", "info")
CATEGORIES = ("security", "cost", "drift", "hygiene")
PROVIDERS = ("aws", "azure")

# Compliance frameworks the built-in catalog maps to; custom rules may name others (a slug).
FRAMEWORKS: dict[str, str] = {
    "cis-aws-1.5": "CIS Amazon Web Services Foundations Benchmark v1.5.0",
    "cis-aws-3.0": "CIS Amazon Web Services Foundations Benchmark v3.0.0",
    "aws-fsbp": "AWS Foundational Security Best Practices v1.0.0",  # Security Hub control ids, e.g. "S3.1"
    "cis-azure-2.0": "CIS Microsoft Azure Foundations Benchmark v2.0.0",
}

RULE_FIELDS = (
    "id",
    "title",
    "description",
    "remediation",
    "severity",
    "category",
    "resource_types",
    "condition",
    "references",
    "compliance",
    "cost",
    "tests",
)
REQUIRED_RULE_FIELDS = ("id", "title", "severity", "category", "resource_types", "condition")

RULE_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,98})[a-z0-9]$")
RESOURCE_TYPE_RE = re.compile(r"^(aws|azure)\.[a-z0-9_]+(\.[a-z0-9_]+)+$")
FRAMEWORK_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")
KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

COMBINATORS = ("all", "any", "not")
QUANTIFIERS = ("any_item", "all_items", "count_items")
CONDITION_KEYS = (*COMBINATORS, *QUANTIFIERS, "related")
LEAF_KEYS = ("path", "op", "value", "exists")
DIRECTIONS = ("out", "in", "both")
COUNT_OPS = ("eq", "gt", "gte", "lt", "lte")

# --- Size limits (docs/rules.md, "Limits") ----------------------------------------------------------
# A rule is a member's input evaluated by shared workers: every dimension that could make parsing,
# compiling, evaluating or reporting it expensive is bounded, and checked before the expensive step.
MAX_RULE_BYTES = 50_000  # the text of one custom rule (UTF-8)
MAX_FILE_BYTES = 1_000_000  # a built-in rule file (a list of rules) or fields.yaml
MAX_DEPTH = 32  # nested mappings/lists in a document (the catalog's deepest is 14)
MAX_CONDITIONS = 500  # condition nodes in one rule (leaves, all/any/not, quantifiers, related)
MAX_REGEX_CHARS = 1_000  # one matches / not_matches pattern
MAX_ERRORS = 50  # problems reported for one rule
QUOTE_CHARS = 80  # a value quoted in an error message is cut to this

_REPR = reprlib.Repr(
    maxlevel=2, maxtuple=4, maxlist=4, maxdict=4, maxset=4, maxstring=QUOTE_CHARS, maxlong=40, maxother=QUOTE_CHARS
)


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """A short repr of a user's value for a message: bounded in cost and length, whatever its size."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Missing:
    """The value of a path that does not resolve (absent key, index out of range, through a null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


# --- Errors ---------------------------------------------------------------------------------------


class RuleError(ValueError):
    """A broken rule: which rule, where in its document, what is wrong.

    ``errors`` holds every problem found in the document (this error is the first), so an editor
    can show them all at once.
    """

    def __init__(
        self,
        problem: str,
        *,
        rule_id: str | None = None,
        path: str = "",
        source: str | None = None,
        errors: Sequence[RuleError] = (),
    ) -> None:
        # Bounded whatever the caller quoted: an error is rendered back to the member who wrote the rule.
        self.problem = _clip(problem, 500)
        self.rule_id = _clip(rule_id, 120) if rule_id else rule_id
        self.path = _clip(path, 200)
        self.source = source
        self.errors: list[RuleError] = list(errors) or [self]
        super().__init__(self._message())

    def _message(self) -> str:
        who = f"rule {self.rule_id!r}" if self.rule_id else "rule"
        if self.source:
            who += f" ({self.source})"
        where = f" at {self.path}" if self.path else ""
        more = f" (and {len(self.errors) - 1} more problem(s))" if len(self.errors) > 1 else ""
        return f"{who}{where}: {self.problem}{more}"

    def as_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "path": self.path, "problem": self.problem, "source": self.source}


def _suggest(word: Any, choices: Iterable[str]) -> str:
    if not isinstance(word, (str, int, float)):
        return ""  # a list or mapping is no misspelt name, and str() of it is unbounded
    word = str(word)
    if len(word) > 100:  # no identifier is this long; difflib is quadratic
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- The field schema: the normalized keys collectors produce, per resource type --------------------

SCALAR_KINDS = ("str", "int", "number", "bool", "datetime", "any")


@dataclass(frozen=True)
class Spec:
    """The declared shape of a value: a scalar kind, an object with known fields, a list, or a free
    mapping (``dict``, e.g. tags)."""

    kind: str  # one of SCALAR_KINDS, "object", "list", "dict"
    doc: str = ""
    fields: Mapping[str, Spec] | None = None  # object
    item: Spec | None = None  # list item / dict value


ANY = Spec("any")
STR = Spec("str")
INT = Spec("int")


def record_spec(config: Spec = ANY) -> Spec:
    """The shape of a resource record; ``config`` is the per-type normalized configuration."""
    return Spec(
        "object",
        fields={
            "id": INT,
            "connection_id": INT,
            "provider": STR,
            "resource_type": STR,
            "native_id": STR,
            "region": STR,
            "name": STR,
            "tags": Spec("dict", item=STR),
            "config": config,
        },
    )


RECORD_FIELDS = tuple(record_spec().fields or ())


def parse_spec(node: Any, where: str = "") -> Spec:
    """``"str description"`` → scalar; ``[item]`` → list; ``{key: spec, _doc: "..."}`` → object."""
    if isinstance(node, str):
        kind, _, doc = node.strip().partition(" ")
        if kind == "dict":
            return Spec("dict", doc=doc.strip(), item=ANY)
        if kind not in SCALAR_KINDS:
            raise ValueError(f"{where}: unknown kind {kind!r} (one of {', '.join(SCALAR_KINDS)}, dict)")
        return Spec(kind, doc=doc.strip())
    if isinstance(node, list):
        if len(node) != 1:
            raise ValueError(f"{where}: a list spec has exactly one item spec")
        item = parse_spec(node[0], f"{where}[]")
        return Spec("list", doc=item.doc, item=item)
    if isinstance(node, dict):
        doc = str(node.get("_doc", ""))
        fields = {str(k): parse_spec(v, f"{where}.{k}" if where else str(k)) for k, v in node.items() if k != "_doc"}
        return Spec("object", doc=doc, fields=fields)
    raise ValueError(f"{where}: a spec is a string, a one-item list or a mapping")


class FieldSchema:
    """Which resource types exist, the configuration keys each has, and the relationship kinds.

    Given to ``compile_rule``, it turns a typo in a path (``config.pubilc_ip``), an operator that
    cannot apply (``gt`` on a boolean) or a value of the wrong type (``value: "true"`` for a boolean,
    ``value: 1.2`` for a string) into a ``RuleError`` at load time instead of a rule that never matches.
    """

    def __init__(self, types: Mapping[str, Spec], relationship_kinds: Iterable[str] = ()) -> None:
        self.types = dict(types)
        self.relationship_kinds = frozenset(relationship_kinds)
        self._records = {t: record_spec(spec) for t, spec in self.types.items()}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> FieldSchema:
        types = {str(t): parse_spec(spec or {}, str(t)) for t, spec in (doc.get("types") or {}).items()}
        for t, spec in types.items():
            if spec.kind != "object":
                raise ValueError(f"{t}: the configuration of a resource type is a mapping")
        return cls(types, doc.get("relationship_kinds") or ())

    def has_type(self, resource_type: str) -> bool:
        return resource_type in self.types

    def record_spec(self, resource_type: str) -> Spec:
        return self._records.get(resource_type) or record_spec(ANY)

    def unknown_keys(self, resource_type: str, config: Mapping[str, Any]) -> list[str]:
        """Keys of ``config`` (nested, list items included) the schema does not declare."""
        spec = self.types.get(resource_type)
        if spec is None:
            return [f"(unknown resource type {resource_type})"]
        found: list[str] = []
        _unknown(config, spec, "config", found)
        return found


def _unknown(value: Any, spec: Spec, where: str, found: list[str]) -> None:
    if spec.kind == "object" and isinstance(value, Mapping):
        for key, sub in value.items():
            if key not in (spec.fields or {}):
                found.append(f"{where}.{key}")
            else:
                _unknown(sub, spec.fields[key], f"{where}.{key}", found)  # type: ignore[index]
    elif spec.kind == "list" and isinstance(value, list) and spec.item is not None:
        for item in value:
            _unknown(item, spec.item, f"{where}[]", found)


def _walk(spec: Spec, parts: Sequence[str | int]) -> Spec | str:
    """The spec at ``parts`` below ``spec``, or a message saying why the path cannot exist."""
    seen: list[str] = []
    for part in parts:
        shown = ".".join(seen) or "the item"
        if spec.kind == "any":
            return ANY
        if spec.kind == "object":
            fields = spec.fields or {}
            if isinstance(part, int) or part not in fields:
                known = ", ".join(sorted(fields)) or "none"
                return f"unknown field {quote(part)} in {shown}{_suggest(part, fields)} (known: {known})"
            spec = fields[part]
        elif spec.kind == "dict":
            spec = spec.item or ANY
        elif spec.kind == "list":
            if not isinstance(part, int):
                return (
                    f"{shown} is a list: use any_item / all_items / count_items over it (or a numeric index), "
                    f"not .{part}"
                )
            spec = spec.item or ANY
        else:
            return f"{shown} is a {spec.kind}: it has no field {quote(part)}"
        seen.append(str(part))
    return spec


# --- Operators ------------------------------------------------------------------------------------
# Each op is fn(actual, operand, env) -> bool. The evaluator has already turned a path that does not
# resolve into "false" (or "true" for not_exists); null reaches the op: equality and membership treat
# it as a value, ordering / age / length / regex ops are false on it.


def to_datetime(value: Any) -> datetime | None:
    """ISO 8601 string (``Z`` allowed; naive means UTC), datetime or date → aware datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        dt = datetime.fromisoformat(value)
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        raise TypeError(f"expected an ISO 8601 datetime, got {type(value).__name__} {quote(value)}")
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


class _Members:
    """``in`` over a list of JSON values: a set for the hashable ones, a list for the rest."""

    __slots__ = ("hashable", "others")

    def __init__(self, values: Iterable[Any]) -> None:
        self.hashable: set[Any] = set()
        self.others: list[Any] = []
        for v in values:
            try:
                self.hashable.add(v)
            except TypeError:
                self.others.append(v)

    def __contains__(self, x: Any) -> bool:
        try:
            if x in self.hashable:
                return True
        except TypeError:
            pass
        return x in self.others


def _op_equals(a, v, env):
    return a == v


def _op_not_equals(a, v, env):
    return a != v


def _op_in(a, v, env):
    return a in v


def _op_not_in(a, v, env):
    return a not in v


def _op_contains(a, v, env):
    if isinstance(a, str):
        return isinstance(v, str) and v in a
    if isinstance(a, (list, tuple, dict)):
        return v in a
    return False


def _op_not_contains(a, v, env):
    return a is not None and not _op_contains(a, v, env)


def _op_exists(a, v, env):
    return a is not None


def _op_not_exists(a, v, env):
    return a is None


def _op_matches(a, v, env):
    return isinstance(a, str) and v.search(a) is not None


def _op_not_matches(a, v, env):
    return isinstance(a, str) and v.search(a) is None


def _op_starts_with(a, v, env):
    return isinstance(a, str) and a.startswith(v)


def _op_ends_with(a, v, env):
    return isinstance(a, str) and a.endswith(v)


def _op_gt(a, v, env):
    return a is not None and a > v


def _op_gte(a, v, env):
    return a is not None and a >= v


def _op_lt(a, v, env):
    return a is not None and a < v


def _op_lte(a, v, env):
    return a is not None and a <= v


def _op_older_than_days(a, v, env):
    dt = to_datetime(a)
    return dt is not None and env.now - dt > v


def _op_newer_than_days(a, v, env):
    dt = to_datetime(a)
    return dt is not None and env.now - dt < v


def _op_within_next_days(a, v, env):
    """Due within ``v`` days (an expiry date, a deadline); a date already past is due too."""
    dt = to_datetime(a)
    return dt is not None and dt - env.now < v


def _op_len_eq(a, v, env):
    return a is not None and len(a) == v


def _op_len_gt(a, v, env):
    return a is not None and len(a) > v


def _op_len_gte(a, v, env):
    return a is not None and len(a) >= v


def _op_len_lt(a, v, env):
    return a is not None and len(a) < v


def _op_len_lte(a, v, env):
    return a is not None and len(a) <= v


@dataclass(frozen=True)
class OpDef:
    fn: Callable[[Any, Any, Any], bool]
    value: str  # what the value must be: any, list, str, regex, number, days, count, none, optional_bool
    kinds: frozenset[str] | None  # the field kinds it applies to (None: any field)
    doc: str


_TEXT = frozenset({"str", "datetime", "any"})
_NUMBER = frozenset({"int", "number", "any"})
_SIZED = frozenset({"list", "str", "dict", "object", "any"})

OPS: dict[str, OpDef] = {
    "equals": OpDef(_op_equals, "any", None, "the value equals `value` (null included)"),
    "not_equals": OpDef(_op_not_equals, "any", None, "the value differs from `value` (null included)"),
    "in": OpDef(_op_in, "list", None, "the value is one of the list `value`"),
    "not_in": OpDef(_op_not_in, "list", None, "the value is none of the list `value`"),
    "contains": OpDef(
        _op_contains, "any", _SIZED, "a list holds `value` / a string has the substring / a mapping has the key"
    ),
    "not_contains": OpDef(_op_not_contains, "any", _SIZED, "the opposite of contains (false on null)"),
    "exists": OpDef(_op_exists, "optional_bool", None, "present and not null (`value: false` means not_exists)"),
    "not_exists": OpDef(_op_not_exists, "none", None, "absent or null"),
    "matches": OpDef(_op_matches, "regex", _TEXT, "a string the regex `value` finds a match in (RE2, search)"),
    "not_matches": OpDef(_op_not_matches, "regex", _TEXT, "a string the regex does not match"),
    "starts_with": OpDef(_op_starts_with, "str", _TEXT, "a string starting with `value`"),
    "ends_with": OpDef(_op_ends_with, "str", _TEXT, "a string ending with `value`"),
    "gt": OpDef(_op_gt, "number", _NUMBER, "number > `value`"),
    "gte": OpDef(_op_gte, "number", _NUMBER, "number >= `value`"),
    "lt": OpDef(_op_lt, "number", _NUMBER, "number < `value`"),
    "lte": OpDef(_op_lte, "number", _NUMBER, "number <= `value`"),
    "older_than_days": OpDef(
        _op_older_than_days, "days", frozenset({"datetime", "any"}), "an ISO datetime more than `value` days ago"
    ),
    "newer_than_days": OpDef(
        _op_newer_than_days, "days", frozenset({"datetime", "any"}), "an ISO datetime less than `value` days ago"
    ),
    "within_next_days": OpDef(
        _op_within_next_days,
        "days",
        frozenset({"datetime", "any"}),
        "an ISO datetime less than `value` days from now, or already past (expiry dates)",
    ),
    "len_eq": OpDef(_op_len_eq, "count", _SIZED, "length (list, string, mapping) == `value`"),
    "len_gt": OpDef(_op_len_gt, "count", _SIZED, "length > `value`"),
    "len_gte": OpDef(_op_len_gte, "count", _SIZED, "length >= `value`"),
    "len_lt": OpDef(_op_len_lt, "count", _SIZED, "length < `value`"),
    "len_lte": OpDef(_op_len_lte, "count", _SIZED, "length <= `value`"),
}

_COUNT_FNS: dict[str, Callable[[int, int], bool]] = {
    "eq": lambda n, k: n == k,
    "gt": lambda n, k: n > k,
    "gte": lambda n, k: n >= k,
    "lt": lambda n, k: n < k,
    "lte": lambda n, k: n <= k,
}
# Counting can stop once the count reaches this (the answer cannot change after it).
_COUNT_STOP: dict[str, Callable[[int], int]] = {
    "eq": lambda k: k + 1,
    "gt": lambda k: k + 1,
    "gte": lambda k: k,
    "lt": lambda k: k,
    "lte": lambda k: k + 1,
}


# --- Regular expressions: RE2, linear in the text whatever the pattern ----------------------------
# Python's re backtracks: ^(a+)+$ takes seconds on a 30-character name. RE2 has no backreferences,
# lookaround or possessive/atomic groups; a pattern using them is refused when the rule is compiled.

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # its C++ logger would write every refused pattern to stderr


def compile_regex(pattern: str, report: Callable[[str], None]) -> Any:
    """The RE2 pattern, or ``_INVALID`` after ``report(problem)``."""
    if len(pattern) > MAX_REGEX_CHARS:
        report(f"the regular expression is longer than {MAX_REGEX_CHARS:,} characters")
        return _INVALID
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        report(
            f"bad regex {quote(pattern)}: {_clip(str(reason), 120)} (regexes use RE2 syntax: "
            "no backreferences, lookahead/lookbehind or possessive quantifiers)"
        )
        return _INVALID


def document_shape_problem(doc: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a parsed document is too deeply nested, or None. Iterative (depth is what it checks), and a
    container shared by reference (an alias expanded by an older loader) is walked once."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    seen: dict[int, int] = {}
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping):
            children: Iterable[Any] = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth > max_depth:
            return f"the rule is nested deeper than {max_depth} levels"
        if seen.get(id(value), 0) >= depth:
            continue
        seen[id(value)] = depth
        stack.extend((child, depth + 1) for child in children if isinstance(child, (Mapping, list, tuple)))
    return None


# --- Compiled condition nodes ---------------------------------------------------------------------
# ``test(obj, env)``: obj is a record (or a list item inside a quantifier); env carries ``now`` and,
# for related conditions, the index adjacency (``by_id``, ``out_adj``, ``in_adj``; see evaluate.py).


def resolve(obj: Any, parts: Sequence[str | int]) -> Any:
    """The value at ``parts`` below ``obj``, or MISSING."""
    for part in parts:
        if isinstance(obj, dict):
            value = obj.get(part, MISSING)
            if value is MISSING and isinstance(part, int):
                value = obj.get(str(part), MISSING)
            if value is MISSING:
                return MISSING
            obj = value
        elif isinstance(obj, list) and isinstance(part, int):
            if -len(obj) <= part < len(obj):
                obj = obj[part]
            else:
                return MISSING
        elif isinstance(obj, Mapping):
            obj = obj.get(part, MISSING)
            if obj is MISSING:
                return MISSING
        else:
            return MISSING
    return obj


def _summary(value: Any, limit: int = 200) -> Any:
    """A JSON-friendly, bounded copy of a value for explanations."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, list):
        return [_summary(v, 60) for v in value[:10]] + (["…"] if len(value) > 10 else [])
    if isinstance(value, Mapping):
        items = list(value.items())
        out = {str(k): _summary(v, 60) for k, v in items[:20]}
        if len(items) > 20:
            out["…"] = f"{len(items) - 20} more"
        return out
    return _summary(str(value), limit)


class Node(ABC):
    __slots__ = ()

    @abstractmethod
    def test(self, obj: Any, env: Any) -> bool: ...

    @abstractmethod
    def explain(self, obj: Any, env: Any) -> dict[str, Any]: ...


class Leaf(Node):
    __slots__ = ("parts", "op", "operand", "raw", "fn", "label", "on_missing")

    def __init__(self, parts: tuple, op: str, operand: Any, raw: Any, label: str) -> None:
        self.parts = parts
        self.op = op
        self.operand = operand
        self.raw = raw
        self.fn = OPS[op].fn
        self.label = label
        self.on_missing = op == "not_exists"

    def test(self, obj: Any, env: Any) -> bool:
        value = resolve(obj, self.parts)
        if value is MISSING:
            return self.on_missing
        return self.fn(value, self.operand, env)

    def explain(self, obj: Any, env: Any) -> dict[str, Any]:
        value = resolve(obj, self.parts)
        out: dict[str, Any] = {"path": self.label, "op": self.op}
        if self.op not in ("exists", "not_exists"):
            out["value"] = self.raw
        if value is MISSING:
            out["missing"] = True
        else:
            out["actual"] = _summary(value)
        try:
            out["result"] = self.test(obj, env)
        except Exception as exc:  # noqa: BLE001 - an explanation reports, it does not fail
            out["result"] = None
            out["error"] = _clip(f"{type(exc).__name__}: {exc}", 300)
        return out


class All(Node):
    __slots__ = ("children",)

    def __init__(self, children: Sequence[Node]) -> None:
        self.children = tuple(children)

    def test(self, obj: Any, env: Any) -> bool:
        for child in self.children:
            if not child.test(obj, env):
                return False
        return True

    def explain(self, obj: Any, env: Any) -> dict[str, Any]:
        parts = [c.explain(obj, env) for c in self.children]
        return {"all": parts, "result": all(p.get("result") is True for p in parts)}


class AnyOf(Node):
    __slots__ = ("children",)

    def __init__(self, children: Sequence[Node]) -> None:
        self.children = tuple(children)

    def test(self, obj: Any, env: Any) -> bool:
        for child in self.children:
            if child.test(obj, env):
                return True
        return False

    def explain(self, obj: Any, env: Any) -> dict[str, Any]:
        parts = [c.explain(obj, env) for c in self.children]
        return {"any": parts, "result": any(p.get("result") is True for p in parts)}


class Not(Node):
    __slots__ = ("child",)

    def __init__(self, child: Node) -> None:
        self.child = child

    def test(self, obj: Any, env: Any) -> bool:
        return not self.child.test(obj, env)

    def explain(self, obj: Any, env: Any) -> dict[str, Any]:
        inner = self.child.explain(obj, env)
        result = inner.get("result")
        return {"not": inner, "result": None if result is None else not result}


class _Quantifier(Node):
    __slots__ = ("parts", "where", "label")
    key = ""

    def __init__(self, parts: tuple, where: Node | None, label: str) -> None:
        self.parts = parts
        self.where = where
        self.label = label

    def _explain_items(self, obj: Any, env: Any) -> dict[str, Any]:
        items = resolve(obj, self.parts)
        out: dict[str, Any] = {self.key: self.label}
        if not isinstance(items, list):
            out["missing" if items is MISSING else "actual"] = True if items is MISSING else _summary(items)
            out["result"] = self.test(obj, env)
            return out
        matching = [i for i, item in enumerate(items) if self.where is None or self.where.test(item, env)]
        out["items"] = len(items)
        out["matching_items"] = matching[:20]
        if self.where is not None and items:
            shown = matching[0] if matching else 0
            out["where"] = {"item": shown, **self.where.explain(items[shown], env)}
        out["result"] = self.test(obj, env)
        return out

    def explain(self, obj: Any, env: Any) -> dict[str, Any]:
        return self._explain_items(obj, env)


class AnyItem(_Quantifier):
    __slots__ = ()
    key = "any_item"

    def test(self, obj: Any, env: Any) -> bool:
        items = resolve(obj, self.parts)
        if not isinstance(items, list):
            return False
        where = self.where.test  # type: ignore[union-attr]
        for item in items:
            if where(item, env):
                return True
        return False


class AllItems(_Quantifier):
    __slots__ = ()
    key = "all_items"

    def test(self, obj: Any, env: Any) -> bool:
        items = resolve(obj, self.parts)
        if not isinstance(items, list):
            return False
        where = self.where.test  # type: ignore[union-attr]
        for item in items:
            if not where(item, env):
                return False
        return True


class CountItems(_Quantifier):
    __slots__ = ("count_op", "count")
    key = "count_items"

    def __init__(self, parts: tuple, where: Node | None, label: str, count_op: str, count: int) -> None:
        super().__init__(parts, where, label)
        self.count_op = count_op
        self.count = count

    def test(self, obj: Any, env: Any) -> bool:
        items = resolve(obj, self.parts)
        if not isinstance(items, list):
            return False
        if self.where is None:
            n = len(items)
        else:
            where = self.where.test
            n = 0
            for item in items:
                if where(item, env):
                    n += 1
        return _COUNT_FNS[self.count_op](n, self.count)

    def explain(self, obj: Any, env: Any) -> dict[str, Any]:
        out = self._explain_items(obj, env)
        out["count"] = {self.count_op: self.count}
        return out


class Related(Node):
    __slots__ = ("kind", "direction", "types", "where", "count_op", "count", "stop_at")

    def __init__(
        self, kind: str, direction: str, types: frozenset[str] | None, where: Node | None, count_op: str, count: int
    ) -> None:
        self.kind = kind
        self.direction = direction
        self.types = types
        self.where = where
        self.count_op = count_op
        self.count = count
        self.stop_at = _COUNT_STOP[count_op](count)

    def neighbours(self, obj: Any, env: Any) -> list[Any]:
        rid = obj.get("id")
        if self.direction == "out":
            ids = env.out_adj.get(self.kind, {}).get(rid, ())
        elif self.direction == "in":
            ids = env.in_adj.get(self.kind, {}).get(rid, ())
        else:
            ids = (*env.out_adj.get(self.kind, {}).get(rid, ()), *env.in_adj.get(self.kind, {}).get(rid, ()))
        by_id = env.by_id
        types = self.types
        out = []
        for nid in ids:
            rec = by_id.get(nid)
            if rec is not None and (types is None or rec.get("resource_type") in types):
                out.append(rec)
        return out

    def test(self, obj: Any, env: Any) -> bool:
        where = self.where
        stop_at = self.stop_at
        n = 0
        if stop_at > 0:
            for rec in self.neighbours(obj, env):
                if where is None or where.test(rec, env):
                    n += 1
                    if n >= stop_at:
                        break
        return _COUNT_FNS[self.count_op](n, self.count)

    def explain(self, obj: Any, env: Any) -> dict[str, Any]:
        candidates = self.neighbours(obj, env)
        matching = [r for r in candidates if self.where is None or self.where.test(r, env)]
        out: dict[str, Any] = {
            "related": self.kind,
            "direction": self.direction,
            "types": sorted(self.types) if self.types else None,
            "count": {self.count_op: self.count},
            "candidates": len(candidates),
            "matching": [r.get("id") for r in matching[:20]],
            "result": self.test(obj, env),
        }
        if self.where is not None and candidates:
            shown = (matching or candidates)[0]
            out["where"] = {"resource": shown.get("id"), **self.where.explain(shown, env)}
        return out


# --- Compiled rule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostSpec:
    """``cost: {estimator: name, **params}``: a function from the price table, record → monthly USD."""

    estimator: str
    params: Mapping[str, Any]
    fn: Callable[..., float | None]

    def estimate(self, record: Mapping[str, Any], index: Any) -> float | None:
        return self.fn(record, index, **self.params)


@dataclass(frozen=True, eq=False)
class Rule:
    id: str
    title: str
    severity: str
    category: str
    resource_types: tuple[str, ...]
    condition: Node
    description: str = ""
    remediation: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    compliance: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cost: CostSpec | None = None
    examples: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    # Types read through related conditions: they must be collected too for the rule to be evaluated.
    related_types: frozenset[str] = frozenset()
    # (resource type, path) of every field the rule reads, e.g. ("aws.ec2.security_group", "config.rules[].source").
    fields_read: frozenset[tuple[str, str]] = frozenset()
    document: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(sorted({t.split(".", 1)[0] for t in self.resource_types}))

    def test(self, record: Mapping[str, Any], env: Any) -> bool:
        return self.condition.test(record, env)

    def __repr__(self) -> str:
        return f"<Rule {self.id}>"


# --- The compiler ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    """What paths resolve against: resource records of some types, or the items of a list."""

    item: bool
    specs: tuple[tuple[str, Spec], ...]  # (label, spec) per possible shape
    types: tuple[str, ...]  # the resource types behind it ("*" when unknown)
    prefix: str = ""  # the list path an item context lives under, for fields_read


class _Compiler:
    def __init__(
        self,
        doc: Any,
        schema: FieldSchema | None,
        estimators: Mapping[str, Callable[..., Any]] | None,
        source: str | None,
    ) -> None:
        self.doc = doc
        self.schema = schema
        self.estimators = estimators
        self.source = source
        self.rule_id: str | None = None
        self.errors: list[RuleError] = []
        self.related_types: set[str] = set()
        self.fields_read: set[tuple[str, str]] = set()
        self.conditions = 0

    def err(self, path: str, problem: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RuleError(problem, rule_id=self.rule_id, path=path, source=self.source))

    # -- top level --

    def compile(self) -> Rule:
        doc = self.doc
        if not isinstance(doc, Mapping):
            raise RuleError(
                f"a rule is a mapping of fields, got {type(doc).__name__}", source=self.source, path="(document)"
            )
        raw_id = doc.get("id")
        if isinstance(raw_id, str) and raw_id:
            self.rule_id = raw_id
        # Before anything walks it: a document from JSON or the database never went through load_yaml.
        shape = document_shape_problem(doc)
        if shape is not None:
            raise RuleError(shape, rule_id=self.rule_id, path="(document)", source=self.source)
        for key in doc:
            if key not in RULE_FIELDS:
                self.err(str(key), f"unknown field {quote(key)}{_suggest(key, RULE_FIELDS)}")
        for key in REQUIRED_RULE_FIELDS:
            if key not in doc or doc[key] is None:
                self.err(key, f"missing required field {quote(key)}")

        rule_id = self._id(doc.get("id"))
        title = self._text(doc, "title", required=True, max_len=200)
        description = self._text(doc, "description")
        remediation = self._remediation(doc.get("remediation"))
        severity = self._choice(doc, "severity", SEVERITIES)
        category = self._choice(doc, "category", CATEGORIES)
        types = self._types(doc.get("resource_types"))
        condition = None
        if doc.get("condition") is not None and types is not None:
            specs = self._record_specs(types, "resource_types")
            condition = self.cond(doc["condition"], "condition", _Ctx(False, specs, types))
        references = self._references(doc.get("references"))
        compliance = self._compliance(doc.get("compliance"))
        cost = self._cost(doc.get("cost"))
        examples = self._examples(doc.get("tests"))

        if self.errors:
            first = self.errors[0]
            raise RuleError(
                first.problem, rule_id=self.rule_id, path=first.path, source=self.source, errors=self.errors
            )
        assert condition is not None and types is not None  # noqa: S101 - guaranteed when no errors
        return Rule(
            id=rule_id or "",
            title=title,
            severity=severity,
            category=category,
            resource_types=types,
            condition=condition,
            description=description,
            remediation=remediation,
            references=references,
            compliance=compliance,
            cost=cost,
            examples=examples,
            related_types=frozenset(self.related_types),
            fields_read=frozenset(self.fields_read),
            document=dict(doc),
            source=self.source,
        )

    def _id(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not RULE_ID_RE.match(value):
            self.err(
                "id",
                f"an id is 3-100 characters of a-z, 0-9 and '-' (e.g. aws-ec2-sg-ssh-open-world), got {quote(value)}",
            )
            return None
        return value

    def _text(self, doc: Mapping, key: str, required: bool = False, max_len: int = 20_000) -> str:
        value = doc.get(key)
        if value is None:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.err(key, f"{key} must be a non-empty string, got {type(value).__name__}")
            return ""
        if len(value) > max_len:
            self.err(key, f"{key} is longer than {max_len} characters")
        return value.strip()

    def _choice(self, doc: Mapping, key: str, choices: Sequence[str]) -> str:
        value = doc.get(key)
        if value is None:
            return ""
        if value not in choices:
            self.err(key, f"{key} must be one of {', '.join(choices)}, got {quote(value)}{_suggest(value, choices)}")
            return ""
        return value

    def _remediation(self, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value.strip(),)
        if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
            return tuple(v.strip() for v in value)
        self.err("remediation", "remediation is a string or a list of steps (strings)")
        return ()

    def _types(self, value: Any) -> tuple[str, ...] | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.err("resource_types", "resource_types is a non-empty list of types such as aws.ec2.instance")
            return None
        ok = True
        for i, t in enumerate(value):
            path = f"resource_types[{i}]"
            if not isinstance(t, str) or not RESOURCE_TYPE_RE.match(t):
                self.err(path, f"not a resource type (provider.service.kind, e.g. aws.ec2.volume): {quote(t)}")
                ok = False
            elif self.schema is not None and not self.schema.has_type(t):
                self.err(path, f"unknown resource type {quote(t)}{_suggest(t, self.schema.types)}")
                ok = False
        if len(set(value)) != len(value):
            self.err("resource_types", "resource_types lists a type twice")
        return tuple(value) if ok else None

    def _record_specs(self, types: Sequence[str], path: str) -> tuple[tuple[str, Spec], ...]:
        if self.schema is None:
            return (("resource", record_spec(ANY)),)
        return tuple((t, self.schema.record_spec(t)) for t in types)

    def _references(self, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.err("references", "references is a list of URLs")
            return ()
        for i, ref in enumerate(value):
            if not isinstance(ref, str) or not re.match(r"^https?://\S+$", ref):
                self.err(f"references[{i}]", f"not an http(s) URL: {quote(ref)}")
        return tuple(str(r) for r in value)

    def _compliance(self, value: Any) -> dict[str, tuple[str, ...]]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.err("compliance", 'compliance maps a framework to control ids, e.g. {"cis-aws-1.5": ["5.2"]}')
            return {}
        out: dict[str, tuple[str, ...]] = {}
        for fw, controls in value.items():
            path = f"compliance.{fw}"
            if not isinstance(fw, str) or not FRAMEWORK_RE.match(fw):
                self.err(
                    path, f"a framework id is a slug such as cis-aws-1.5, got {quote(fw)}{_suggest(fw, FRAMEWORKS)}"
                )
                continue
            if isinstance(controls, str):
                controls = [controls]
            if not isinstance(controls, list) or not controls:
                self.err(path, "a framework maps to a non-empty list of control ids")
                continue
            for i, c in enumerate(controls):
                if not isinstance(c, str):
                    self.err(
                        f"{path}[{i}]",
                        f"control ids are strings: quote them ('{c}'), YAML reads 1.10 as the number 1.1",
                    )
            out[fw] = tuple(str(c) for c in controls)
        return out

    def _cost(self, value: Any) -> CostSpec | None:
        if value is None:
            return None
        if not isinstance(value, Mapping) or not isinstance(value.get("estimator"), str):
            self.err("cost", "cost is {estimator: <name from the price table>, ...parameters}")
            return None
        estimators = self.estimators
        if estimators is None:
            from findings.pricing import ESTIMATORS

            estimators = ESTIMATORS
        name = value["estimator"]
        fn = estimators.get(name)
        if fn is None:
            self.err(
                "cost.estimator",
                f"unknown estimator {quote(name)}{_suggest(name, estimators)} (known: {', '.join(sorted(estimators))})",
            )
            return None
        params = {k: v for k, v in value.items() if k != "estimator"}
        try:
            inspect.signature(fn).bind(None, None, **params)
        except TypeError as exc:
            self.err("cost", f"bad parameters for estimator {quote(name)}: {exc}")
            return None
        return CostSpec(name, params, fn)

    def _examples(self, value: Any) -> dict[str, tuple[Mapping[str, Any], ...]]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.err("tests", "tests is {match: [records], no_match: [records]}")
            return {}
        out: dict[str, tuple[Mapping[str, Any], ...]] = {}
        for key, records in value.items():
            if key not in ("match", "no_match"):
                self.err(f"tests.{key}", f"unknown field {quote(key)} (match, no_match)")
                continue
            if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
                self.err(f"tests.{key}", "a list of example records (mappings)")
                continue
            out[key] = tuple(records)
        return out

    # -- conditions --

    def cond(self, node: Any, path: str, ctx: _Ctx) -> Node | None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            if self.conditions == MAX_CONDITIONS + 1:
                self.err(path, f"a rule has at most {MAX_CONDITIONS} conditions: split it into several rules")
            return None
        if not isinstance(node, Mapping) or not node:
            self.err(
                path,
                "a condition is a mapping: all / any / not, any_item / all_items / count_items, related, "
                "or a leaf {path, op, value}",
            )
            return None
        if "path" in node:
            return self.leaf(node, path, ctx)
        if len(node) != 1:
            self.err(
                path,
                f"a condition has exactly one of {', '.join(CONDITION_KEYS)} (or a path), got {sorted(map(str, node))}",
            )
            return None
        key, body = next(iter(node.items()))
        sub = f"{path}.{key}"
        if key in ("all", "any"):
            if not isinstance(body, list) or not body:
                self.err(sub, f"{key} takes a non-empty list of conditions")
                return None
            children = [self.cond(c, f"{sub}[{i}]", ctx) for i, c in enumerate(body)]
            if any(c is None for c in children):
                return None
            return All(children) if key == "all" else AnyOf(children)  # type: ignore[arg-type]
        if key == "not":
            child = self.cond(body, sub, ctx)
            return Not(child) if child is not None else None
        if key in QUANTIFIERS:
            return self.quantifier(key, body, sub, ctx)
        if key == "related":
            return self.related(body, sub, ctx)
        hint = _suggest(key, (*CONDITION_KEYS, *LEAF_KEYS))
        self.err(sub, f"unknown condition {quote(key)}{hint} (one of {', '.join(CONDITION_KEYS)}, or a leaf with path)")
        return None

    def path(self, raw: Any, path: str, ctx: _Ctx) -> tuple[tuple[str | int, ...], str, list[tuple[str, Spec]]] | None:
        """Split a path; return (parts, label, [(label, spec)...]) or None (error recorded)."""
        if isinstance(raw, str):
            if raw in ("@", ""):
                if not ctx.item:
                    self.err(path, "'@' (the list item itself) is only valid inside any_item / all_items / count_items")
                    return None
                pieces: list[Any] = []
            else:
                pieces = raw.split(".")
        elif isinstance(raw, list) and raw:
            pieces = raw
        else:
            self.err(path, f"a path is a dotted string (config.x.y, tags.Owner) or a list of keys, got {quote(raw)}")
            return None
        parts: list[str | int] = []
        for piece in pieces:
            if isinstance(piece, bool) or not isinstance(piece, (str, int)) or piece == "":
                self.err(path, f"empty or invalid segment in path {quote(raw)}")
                return None
            parts.append(int(piece) if isinstance(piece, str) and piece.isdigit() else piece)
        label = ".".join(str(p) for p in parts) or "@"
        # A rule over several types may read a field only some of them have (a branch per type);
        # the path must exist on at least one, and ops/values are checked where it exists.
        resolved: list[tuple[str, Spec]] = []
        problems: list[str] = []
        for shape, spec in ctx.specs:
            found = _walk(spec, parts)
            if isinstance(found, str):
                where = "the resource" if shape == "resource" else shape
                problems.append(f"{found} (path {quote(label)} on {where})")
            else:
                resolved.append((shape, found))
        if not resolved:
            self.err(path, problems[0])
            return None
        for t in ctx.types or ("*",):
            self.fields_read.add((t, f"{ctx.prefix}{label}" if ctx.prefix else label))
        return tuple(parts), label, resolved

    def leaf(self, node: Mapping, path: str, ctx: _Ctx) -> Node | None:
        for key in node:
            if key not in LEAF_KEYS:
                self.err(
                    f"{path}.{key}",
                    f"unknown field {quote(key)} in a condition{_suggest(key, LEAF_KEYS)} (path, op, value)",
                )
                return None
        found = self.path(node["path"], f"{path}.path", ctx)
        if "exists" in node:
            if "op" in node or "value" in node:
                self.err(path, "use either exists: true|false or op/value, not both")
                return None
            if not isinstance(node["exists"], bool):
                self.err(f"{path}.exists", f"exists is true or false, got {quote(node['exists'])}")
                return None
            op, raw, has_value = ("exists" if node["exists"] else "not_exists"), None, False
        else:
            op = node.get("op")
            if op is None:
                self.err(path, "a leaf condition needs an op (or exists: true|false)")
                return None
            if op not in OPS:
                self.err(f"{path}.op", f"unknown op {quote(op)}{_suggest(op, OPS)} (one of {', '.join(OPS)})")
                return None
            raw, has_value = node.get("value"), "value" in node
            if op == "exists" and has_value:
                if not isinstance(raw, bool):
                    self.err(f"{path}.value", f"exists takes value true or false, got {quote(raw)}")
                    return None
                op, raw, has_value = ("exists" if raw else "not_exists"), None, False
        if found is None:
            return None
        parts, label, specs = found
        opdef = OPS[op]
        operand = self.operand(op, opdef, raw, has_value, f"{path}.value")
        if operand is _INVALID:
            return None
        for shape, spec in specs:
            if not self._fits(op, opdef, raw, spec, path, shape, label):
                return None
        return Leaf(parts, op, operand, raw, label)

    def operand(self, op: str, opdef: OpDef, raw: Any, has_value: bool, path: str) -> Any:
        kind = opdef.value
        if kind in ("none", "optional_bool"):
            if has_value:
                self.err(path, f"{op} takes no value")
                return _INVALID
            return None
        if not has_value:
            self.err(path.rsplit(".", 1)[0], f"{op} needs a value")
            return _INVALID
        if not _is_json(raw):
            self.err(path, f"wrong value type: {type(raw).__name__} (quote dates and other special values)")
            return _INVALID
        if kind == "any":
            return raw
        if kind == "list":
            if not isinstance(raw, list) or not raw:
                self.err(path, f"{op} takes a non-empty list, got {quote(raw)}")
                return _INVALID
            return _Members(raw)
        if kind == "str":
            if not isinstance(raw, str):
                self.err(path, f"{op} takes a string, got {type(raw).__name__}")
                return _INVALID
            return raw
        if kind == "regex":
            if not isinstance(raw, str):
                self.err(path, f"{op} takes a regular expression string, got {type(raw).__name__}")
                return _INVALID
            return compile_regex(raw, lambda problem: self.err(path, problem))
        if kind == "number":
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
                self.err(path, f"{op} takes a number, got {quote(raw)}")
                return _INVALID
            return raw
        if kind == "days":
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw <= 36_500:
                self.err(path, f"{op} takes a number of days (0-36500), got {quote(raw)}")
                return _INVALID
            return timedelta(days=raw)
        if kind == "count":
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                self.err(path, f"{op} takes a whole number >= 0, got {quote(raw)}")
                return _INVALID
            return raw
        raise AssertionError(kind)  # pragma: no cover

    def _fits(self, op: str, opdef: OpDef, raw: Any, spec: Spec, path: str, shape: str, label: str) -> bool:
        """Can ``op`` with ``raw`` apply to a field declared as ``spec``?"""
        where = "" if shape == "resource" else f" on {shape}"
        if opdef.kinds is not None and spec.kind not in opdef.kinds:
            self.err(f"{path}.op", f"{op} does not apply to {quote(label)}, a {spec.kind}{where}")
            return False
        if op in ("equals", "not_equals"):
            values = [raw]
        elif op in ("in", "not_in"):
            values = list(raw)
        elif op in ("contains", "not_contains") and spec.kind == "list":
            spec, values = spec.item or ANY, [raw]
        elif op in ("contains", "not_contains") and spec.kind in ("str", "datetime"):
            values = [raw]
        else:
            return True
        for v in values:
            if not _value_fits(v, spec):
                self.err(
                    f"{path}.value",
                    f"wrong value type: {quote(v)} ({type(v).__name__}) for {quote(label)}, a {spec.kind}{where}",
                )
                return False
        return True

    def _count(self, value: Any, path: str) -> tuple[str, int] | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return "eq", value
        if isinstance(value, Mapping) and len(value) == 1:
            ((op, n),) = value.items()
            if op in COUNT_OPS and isinstance(n, int) and not isinstance(n, bool) and n >= 0:
                return op, n
        self.err(path, f"count is a whole number or one of {{{', '.join(COUNT_OPS)}: n}}, got {quote(value)}")
        return None

    def quantifier(self, key: str, body: Any, path: str, ctx: _Ctx) -> Node | None:
        allowed = ("path", "where", "count") if key == "count_items" else ("path", "where")
        if not isinstance(body, Mapping):
            self.err(path, f"{key} is {{{', '.join(allowed)}}}")
            return None
        for k in body:
            if k not in allowed:
                self.err(
                    f"{path}.{k}", f"unknown field {quote(k)} in {key}{_suggest(k, allowed)} ({', '.join(allowed)})"
                )
                return None
        if "path" not in body:
            self.err(path, f"{key} needs a path to a list")
            return None
        if key != "count_items" and "where" not in body:
            self.err(path, f"{key} needs a where condition")
            return None
        found = self.path(body["path"], f"{path}.path", ctx)
        count = ("eq", 0)
        if key == "count_items":
            if "count" not in body:
                self.err(path, "count_items needs a count (a number or {gte: n} ...)")
                return None
            parsed = self._count(body["count"], f"{path}.count")
            if parsed is None:
                return None
            count = parsed
        if found is None:
            return None
        parts, label, specs = found
        item_specs = []
        for shape, spec in specs:
            if spec.kind not in ("list", "any"):
                where = "" if shape == "resource" else f" on {shape}"
                self.err(f"{path}.path", f"{quote(label)} is a {spec.kind}{where}, not a list")
                return None
            item_specs.append((f"{'resource' if shape == 'resource' else shape} {label}[]", spec.item or ANY))
        if self.schema is None:
            item_specs = [("resource", ANY)]
        prefix = f"{ctx.prefix}{label}[]."
        where = None
        if "where" in body:
            where = self.cond(body["where"], f"{path}.where", _Ctx(True, tuple(item_specs), ctx.types, prefix))
            if where is None:
                return None
        if key == "any_item":
            return AnyItem(parts, where, label)
        if key == "all_items":
            return AllItems(parts, where, label)
        return CountItems(parts, where, label, *count)

    def related(self, body: Any, path: str, ctx: _Ctx) -> Node | None:
        allowed = ("kind", "direction", "types", "where", "count", "exists")
        if ctx.item:
            self.err(path, "related conditions apply to resources, not inside any_item / all_items / count_items")
            return None
        if not isinstance(body, Mapping):
            self.err(path, "related is {kind, direction, types, where, count | exists}")
            return None
        for k in body:
            if k not in allowed:
                self.err(
                    f"{path}.{k}", f"unknown field {quote(k)} in related{_suggest(k, allowed)} ({', '.join(allowed)})"
                )
                return None
        kind = body.get("kind")
        if not isinstance(kind, str) or not KIND_RE.match(kind):
            self.err(
                f"{path}.kind", f"related needs a relationship kind (in_subnet, attached_to, ...), got {quote(kind)}"
            )
            return None
        if self.schema is not None and self.schema.relationship_kinds and kind not in self.schema.relationship_kinds:
            known = ", ".join(sorted(self.schema.relationship_kinds))
            self.err(
                f"{path}.kind",
                f"unknown relationship kind {quote(kind)}{_suggest(kind, self.schema.relationship_kinds)}"
                f" (known: {known})",
            )
            return None
        direction = body.get("direction", "out")
        if direction not in DIRECTIONS:
            self.err(
                f"{path}.direction",
                f"direction is out (this resource → others), in (others → this one) or both, got {quote(direction)}",
            )
            return None
        types = body.get("types")
        if types is not None:
            if isinstance(types, str):
                types = [types]
            if not isinstance(types, list) or not types:
                self.err(f"{path}.types", "types is a non-empty list of resource types")
                return None
            for i, t in enumerate(types):
                if not isinstance(t, str) or not RESOURCE_TYPE_RE.match(t):
                    self.err(f"{path}.types[{i}]", f"not a resource type: {quote(t)}")
                    return None
                if self.schema is not None and not self.schema.has_type(t):
                    self.err(f"{path}.types[{i}]", f"unknown resource type {quote(t)}{_suggest(t, self.schema.types)}")
                    return None
            self.related_types.update(types)
        if "count" in body and "exists" in body:
            self.err(path, "use either count or exists, not both")
            return None
        count: tuple[str, int] | None = ("gte", 1)
        if "count" in body:
            count = self._count(body["count"], f"{path}.count")
        elif "exists" in body:
            if not isinstance(body["exists"], bool):
                self.err(f"{path}.exists", f"exists is true or false, got {quote(body['exists'])}")
                return None
            count = ("gte", 1) if body["exists"] else ("eq", 0)
        if count is None:
            return None
        where = None
        if "where" in body:
            where_types = tuple(types) if types else ()
            specs = self._record_specs(where_types, path) if where_types else (("resource", record_spec(ANY)),)
            where = self.cond(body["where"], f"{path}.where", _Ctx(False, specs, where_types))
            if where is None:
                return None
        return Related(kind, direction, frozenset(types) if types else None, where, *count)


_INVALID: Any = object()


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return not isinstance(value, float) or math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _value_fits(value: Any, spec: Spec) -> bool:
    kind = spec.kind
    if value is None or kind == "any":
        return True
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("int", "number"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("str", "datetime"):
        return isinstance(value, str)
    return isinstance(value, (list, dict))


# --- Public API -----------------------------------------------------------------------------------


def compile_rule(
    doc: Mapping[str, Any],
    *,
    schema: FieldSchema | None = None,
    estimators: Mapping[str, Callable[..., Any]] | None = None,
    source: str | None = None,
) -> Rule:
    """Validate and compile one rule document; raise ``RuleError`` (with ``.errors``) when broken.

    ``schema``: check paths, ops and value types against the declared fields of each resource type
    (the built-in catalog always does; pass ``catalog.load_schema()`` for custom rules too).
    ``estimators``: the cost estimators a ``cost`` block may name (default: ``findings.pricing``).
    """
    return _Compiler(doc, schema, estimators, source).compile()


def compile_many(
    docs: Iterable[Mapping[str, Any]],
    *,
    schema: FieldSchema | None = None,
    estimators: Mapping[str, Callable[..., Any]] | None = None,
    source: str | None = None,
) -> tuple[list[Rule], list[RuleError]]:
    """Compile what compiles; return the rules and the errors (a broken rule never stops the others).
    Duplicate ids are errors (the later one is dropped)."""
    rules: list[Rule] = []
    errors: list[RuleError] = []
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        where = f"{source}#{i + 1}" if source else None
        try:
            rule = compile_rule(doc, schema=schema, estimators=estimators, source=where)
        except RuleError as exc:
            errors.append(exc)
            continue
        if rule.id in seen:
            errors.append(RuleError(f"duplicate rule id {rule.id!r}", rule_id=rule.id, path="id", source=where))
            continue
        seen.add(rule.id)
        rules.append(rule)
    return rules, errors


# YAML: safe, no implicit timestamps (dates stay strings, as in stored JSON), duplicate keys rejected.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: Any, node: Any) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    pairs = loader.construct_pairs(node, deep=True)
    seen: set[Any] = set()
    for (key, _), (key_node, _) in zip(pairs, node.value, strict=False):
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {quote(key)}", key_node.start_mark)
        seen.add(key)
    return dict(pairs)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check_events(text: str, source: str | None, max_depth: int) -> None:
    """Refuse anchors, aliases and deep nesting from the parser's events, before any node is built:
    eight nested aliases in 400 bytes expand to a 300 MB value (a "billion laughs")."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            line = event.start_mark.line + 1
            raise RuleError(
                f"line {line}: YAML anchors (&name) and aliases (*name) are not allowed in rules: write the value out",
                source=source,
                path="(yaml)",
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                line = event.start_mark.line + 1
                raise RuleError(
                    f"line {line}: the rule is nested deeper than {max_depth} levels", source=source, path="(yaml)"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load_yaml(text: str, *, source: str | None = None, max_bytes: int = MAX_RULE_BYTES) -> Any:
    """Parse YAML (or JSON) text; syntax problems are a ``RuleError`` with the line number. Texts over
    ``max_bytes``, anchors/aliases and nesting deeper than ``MAX_DEPTH`` are refused before parsing
    builds anything."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise RuleError(f"the text is {size:,} bytes, over the limit of {max_bytes:,}", source=source, path="(yaml)")
    try:
        _check_events(text, source, MAX_DEPTH)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleError(f"{line}{problem}", source=source, path="(yaml)") from None


def load_documents(text: str, *, source: str | None = None, max_bytes: int = MAX_RULE_BYTES) -> list[Mapping[str, Any]]:
    """The rule documents in a text: one mapping, or a list of mappings."""
    data = load_yaml(text, source=source, max_bytes=max_bytes)
    if isinstance(data, Mapping):
        return [data]
    if isinstance(data, list) and all(isinstance(d, Mapping) for d in data):
        return data
    raise RuleError("a rule file holds one rule (a mapping) or a list of rules", source=source, path="(document)")


def parse_rules(
    text: str,
    *,
    schema: FieldSchema | None = None,
    estimators: Mapping[str, Callable[..., Any]] | None = None,
    source: str | None = None,
) -> list[Rule]:
    """Parse and compile every rule in ``text``; the first broken rule raises ``RuleError``."""
    rules, errors = compile_many(
        load_documents(text, source=source), schema=schema, estimators=estimators, source=source
    )
    if errors:
        raise errors[0]
    return rules
