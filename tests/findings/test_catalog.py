"""The built-in catalog: it loads, it is big enough, and every rule matches its matching examples and
not its non-matching ones (the examples live in the rule files under ``tests:``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from findings.rules.catalog import (
    DOCS_FILE,
    builtin_catalog,
    docs_fields_section,
    fields_markdown,
    load_catalog,
    load_schema,
)
from findings.rules.evaluate import EXAMPLE_NOW, Env, example_index, run_examples
from findings.rules.language import FRAMEWORKS, compile_rule

CATALOG = builtin_catalog()
RULES = list(CATALOG)
EXAMPLES = [
    (rule, key, i) for rule in RULES for key in ("match", "no_match") for i in range(len(rule.examples.get(key, ())))
]
# Cost rules the price table cannot price (no VM compute prices): they carry no estimator.
UNPRICED_COST_RULES = {"azure-compute-vm-stopped-not-deallocated"}


def test_catalog_size():
    assert len(CATALOG.for_provider("aws")) >= 40
    assert len(CATALOG.for_provider("azure")) >= 15


def test_ids_are_unique_and_prefixed():
    assert len({r.id for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.id.startswith(f"{rule.providers[0]}-") and len(rule.providers) == 1


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_is_documented(rule):
    assert rule.title and rule.description and rule.remediation and rule.references
    assert rule.severity and rule.category
    assert set(rule.compliance) <= set(FRAMEWORKS)
    assert rule.examples.get("match") and rule.examples.get("no_match"), "every rule needs both kinds of example"


@pytest.mark.parametrize(("rule", "key", "i"), EXAMPLES, ids=lambda v: v.id if hasattr(v, "id") else str(v))
def test_rule_example(rule, key, i):
    index, main = example_index(rule, rule.examples[key][i])
    assert rule.test(main, Env(index, EXAMPLE_NOW)) is (key == "match"), f"{rule.id} tests.{key}[{i}]"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_examples_fail_when_the_rule_stops_matching(rule):
    """The examples discriminate: with the condition negated, every one of them fails."""
    negated = compile_rule({**rule.document, "condition": {"not": rule.document["condition"]}}, schema=load_schema())
    failures = run_examples(negated)
    total = len(rule.examples["match"]) + len(rule.examples["no_match"])
    assert len(failures) == total
    never = compile_rule({**rule.document, "condition": {"path": "id", "op": "equals", "value": -1}})
    assert len(run_examples(never)) == len(rule.examples["match"])


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_examples_only_use_declared_keys(rule):
    """Examples are written with the keys collectors produce (fields.yaml), or they prove nothing."""
    schema = load_schema()
    for key in ("match", "no_match"):
        for example in rule.examples[key]:
            index, _ = example_index(rule, example)
            for record in index.by_id.values():
                unknown = schema.unknown_keys(record["resource_type"], record["config"])
                assert unknown == [], (rule.id, key, record["resource_type"], unknown)


def test_cost_rules_name_an_estimator():
    for rule in RULES:
        if rule.category == "cost" and rule.id not in UNPRICED_COST_RULES:
            assert rule.cost is not None, rule.id


def test_compliance_controls_for_the_compliance_view():
    aws15 = CATALOG.controls("cis-aws-1.5")
    assert {"aws-ec2-sg-ssh-open-world", "aws-ec2-sg-rdp-open-world"} <= set(aws15["5.2"])
    assert list(aws15)[:3] == sorted(aws15, key=lambda c: tuple(int(p) for p in c.split(".")))[:3]
    assert "1.10" in CATALOG.controls("cis-aws-3.0")
    assert "6.2" in CATALOG.controls("cis-azure-2.0")


def test_lookups():
    assert CATALOG.get("aws-iam-root-no-mfa").severity == "critical"
    assert "aws-iam-root-no-mfa" in CATALOG
    assert {r.id for r in CATALOG.for_type("aws.ec2.security_group")} >= {
        "aws-ec2-sg-ssh-open-world",
        "aws-ec2-sg-unused",
    }
    fields = CATALOG.fields_read()
    assert "config.rules[].source" in fields["aws.ec2.security_group"]
    assert "config.is_public" in fields["aws.ec2.subnet"]  # read through a related condition


def test_deprecated_lambda_runtimes_cover_the_known_list():
    runtimes = set(CATALOG.get("aws-lambda-deprecated-runtime").document["condition"]["value"])
    assert {
        "python2.7", "python3.6", "python3.7", "python3.8", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x",
        "ruby2.5", "ruby2.7", "dotnetcore2.1", "dotnetcore3.1", "dotnet5.0", "go1.x", "java8",
    } <= runtimes  # fmt: skip


def test_a_broken_rule_file_names_the_file_rule_and_path(tmp_path: Path):
    (tmp_path / "aws").mkdir()
    (tmp_path / "azure").mkdir()
    (tmp_path / "aws" / "broken.yaml").write_text(
        """
- id: aws-ok-rule
  title: Fine
  description: d
  remediation: [r]
  severity: low
  category: hygiene
  resource_types: [aws.ec2.volume]
  condition: {path: config.state, op: equals, value: available}
  references: [https://example.com]
  tests: {match: [{config: {state: available}}], no_match: [{config: {state: in-use}}]}
- id: aws-broken-rule
  title: Broken
  severity: low
  category: hygiene
  resource_types: [aws.ec2.volume]
  condition:
    all:
      - {path: config.state, op: equals, value: available}
      - {path: config.sizee_gb, op: gt, value: 1}
- id: undocumented-rule
  title: Compiles, but is not fit for the catalog
  severity: low
  category: hygiene
  resource_types: [aws.ec2.volume]
  condition: {path: config.state, op: equals, value: available}
"""
    )
    from findings.rules.language import RuleError

    with pytest.raises(RuleError) as info:
        load_catalog(tmp_path)
    first = info.value
    assert (first.rule_id, first.path, first.source) == (
        "aws-broken-rule",
        "condition.all[1].path",
        "aws/broken.yaml#2",
    )
    assert "did you mean 'size_gb'" in first.problem
    # What built-in rules need beyond the language is reported for the rule that compiles.
    strict = {e.path for e in info.value.errors if e.rule_id == "undocumented-rule"}
    assert strict == {"id", "description", "remediation", "references", "tests.match", "tests.no_match"}
    assert not any(e.rule_id == "aws-ok-rule" for e in info.value.errors)


def test_docs_describe_every_operator():
    from findings.rules.language import OPS

    text = DOCS_FILE.read_text(encoding="utf-8")
    assert [op for op in OPS if f"`{op}`" not in text] == []


def test_docs_field_tables_are_generated_from_fields_yaml():
    section = docs_fields_section(DOCS_FILE.read_text(encoding="utf-8"))
    assert section is not None, "docs/rules.md lost its generated-section markers"
    assert section == fields_markdown(), "run: python -m findings.rules.catalog --write-docs"


def test_every_schema_type_has_rules_or_is_read_by_one():
    read = set(CATALOG.fields_read())
    unused = set(load_schema().types) - read
    # Types declared for relationships and future rules only.
    assert unused <= {
        "aws.ec2.route_table",
        "aws.ec2.internet_gateway",
        "aws.iam.role",
        "aws.iam.group",
        "azure.network.vnet",
        "azure.network.network_interface",
        "azure.network.subnet",
    }, unused
