"""The rule engine: one language for built-in and custom rules (docs/rules.md).

- ``language``: parse, validate and compile rule documents into ``Rule`` objects (``RuleError`` when broken).
- ``evaluate``: a ``ResourceIndex`` over records and relationships; ``evaluate``, ``preview``, ``explain``.
- ``catalog``: the built-in rules in ``findings/rules/<provider>/*.yaml`` and the field schema
  (``findings/rules/fields.yaml``: the normalized configuration keys the rules rely on).
"""

from findings.rules.evaluate import (
    Evaluation,
    Preview,
    ResourceIndex,
    RuleResult,
    Scope,
    evaluate,
    evaluate_rule,
    explain,
    preview,
    run_examples,
)
from findings.rules.language import FieldSchema, Rule, RuleError, compile_many, compile_rule, parse_rules

__all__ = [
    "Evaluation",
    "FieldSchema",
    "Preview",
    "ResourceIndex",
    "Rule",
    "RuleError",
    "RuleResult",
    "Scope",
    "compile_many",
    "compile_rule",
    "evaluate",
    "evaluate_rule",
    "explain",
    "parse_rules",
    "preview",
    "run_examples",
]
