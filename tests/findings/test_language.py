"""The rule language: every operator, combinators, quantifiers, related conditions, errors with their
paths in the rule document, evaluation errors, coverage ("not evaluated"), previews, explanations."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest
import re2

from findings.rules import language
from findings.rules.catalog import load_schema
from findings.rules.evaluate import (
    Env,
    ResourceIndex,
    Scope,
    evaluate,
    evaluate_rule,
    explain,
    preview,
)
from findings.rules.language import RuleError, compile_many, compile_rule, parse_rules

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def doc(condition, types=("aws.ec2.volume",), **extra):
    return {
        "id": extra.pop("id", "test-rule"),
        "title": "Test rule",
        "severity": "low",
        "category": "hygiene",
        "resource_types": list(types),
        "condition": condition,
        **extra,
    }


def rule(condition, types=("aws.ec2.volume",), schema=None, **extra):
    return compile_rule(doc(condition, types, **extra), schema=schema)


def rec(rid, config=None, rtype="aws.ec2.volume", region="us-east-1", conn=1, **extra):
    return {
        "id": rid,
        "connection_id": conn,
        "provider": rtype.split(".")[0],
        "resource_type": rtype,
        "native_id": f"native-{rid}",
        "region": region,
        "name": extra.pop("name", f"r{rid}"),
        "tags": extra.pop("tags", {}),
        "config": config or {},
        **extra,
    }


def matches(r, record, index=None):
    index = index or ResourceIndex([record])
    return r.test(record, Env(index, NOW))


def errors_of(document, schema=None):
    with pytest.raises(RuleError) as info:
        compile_rule(document, schema=schema)
    return info.value


# --- Operators ------------------------------------------------------------------------------------

OP_CASES = [
    ("equals", 5, 5, True),
    ("equals", 5, 6, False),
    ("equals", None, None, True),
    ("equals", "gp2", "gp3", False),
    ("not_equals", "gp2", "gp3", True),
    ("not_equals", "gp2", "gp2", False),
    ("not_equals", "Enabled", None, True),
    ("in", ["a", "b"], "a", True),
    ("in", ["a", "b"], "c", False),
    ("in", [None, "x"], None, True),
    ("in", [[1, 2], "x"], [1, 2], True),  # unhashable members
    ("not_in", ["a", "b"], "c", True),
    ("not_in", ["a", "b"], "a", False),
    ("contains", "b", ["a", "b"], True),
    ("contains", "z", ["a", "b"], False),
    ("contains", "ell", "hello", True),
    ("contains", "key", {"key": 1}, True),
    ("contains", "x", None, False),
    ("not_contains", "z", ["a"], True),
    ("not_contains", "a", ["a"], False),
    ("not_contains", "a", None, False),
    ("exists", None, "x", True),
    ("exists", None, None, False),
    ("not_exists", None, None, True),
    ("not_exists", None, 0, False),
    ("matches", "^gp[23]$", "gp3", True),
    ("matches", "^gp[23]$", "io1", False),
    ("matches", "x", 5, False),
    ("not_matches", "^aurora", "mysql", True),
    ("not_matches", "^aurora", "aurora-mysql", False),
    ("starts_with", "arn:aws:", "arn:aws:iam::1:role/x", True),
    ("ends_with", ".x", "nodejs12.x", True),
    ("ends_with", ".x", "python3.12", False),
    ("gt", 10, 11, True),
    ("gt", 10, 10, False),
    ("gte", 10, 10, True),
    ("lt", 7, 3, True),
    ("lt", 7, 7, False),
    ("lte", 7, 7, True),
    ("lt", 7, None, False),
    ("gt", 0.5, 0.75, True),
    ("older_than_days", 90, "2025-01-01T00:00:00Z", True),
    ("older_than_days", 90, "2025-05-01T00:00:00+00:00", False),
    ("older_than_days", 90, "2025-01-01T00:00:00", True),  # naive: UTC
    ("older_than_days", 90, "2025-01-01", True),
    ("older_than_days", 90, None, False),
    ("newer_than_days", 7, "2025-05-30T12:00:00Z", True),
    ("newer_than_days", 7, "2025-05-01T12:00:00Z", False),
    ("newer_than_days", 7, "2030-01-01T00:00:00Z", True),  # in the future: newer
    ("within_next_days", 30, "2025-06-20T00:00:00Z", True),  # due in 19 days
    ("within_next_days", 30, "2025-05-01T00:00:00Z", True),  # already past: due
    ("within_next_days", 30, "2025-08-01T00:00:00Z", False),
    ("len_eq", 0, [], True),
    ("len_eq", 0, [1], False),
    ("len_gt", 1, [1, 2], True),
    ("len_gte", 2, [1, 2], True),
    ("len_lt", 2, "a", True),
    ("len_lte", 1, {"a": 1, "b": 2}, False),
    ("len_gt", 0, None, False),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), OP_CASES)
def test_operator(op, value, actual, expected):
    condition = {"path": "config.x", "op": op}
    if language.OPS[op].value not in ("none", "optional_bool"):
        condition["value"] = value
    assert matches(rule(condition), rec(1, {"x": actual})) is expected


def test_every_operator_is_covered_by_the_table():
    assert {case[0] for case in OP_CASES} == set(language.OPS)


@pytest.mark.parametrize("op", sorted(set(language.OPS) - {"not_exists"}))
def test_a_missing_path_is_false_for_every_op_but_not_exists(op):
    condition = {"path": "config.nothing.here", "op": op}
    kind = language.OPS[op].value
    sample = {"any": 1, "list": [1], "str": "a", "regex": "a", "number": 1, "days": 1, "count": 1}
    if kind in sample:
        condition["value"] = sample[kind]
    assert matches(rule(condition), rec(1, {"x": 1})) is False


def test_not_exists_and_the_exists_false_shorthands():
    for condition in (
        {"path": "config.kms_key_id", "op": "not_exists"},
        {"path": "config.kms_key_id", "exists": False},
        {"path": "config.kms_key_id", "op": "exists", "value": False},
    ):
        r = rule(condition)
        assert matches(r, rec(1, {}))  # absent
        assert matches(r, rec(1, {"kms_key_id": None}))  # null
        assert not matches(r, rec(1, {"kms_key_id": "k"}))
    assert matches(rule({"path": "config.kms_key_id", "exists": True}), rec(1, {"kms_key_id": "k"}))


def test_not_equals_on_a_missing_path_differs_from_not_equals():
    # Documented: comparisons on data that is not there are false; `not` turns that into true.
    record = rec(1, {})
    assert not matches(rule({"path": "config.status", "op": "not_equals", "value": "Enabled"}), record)
    assert matches(rule({"not": {"path": "config.status", "op": "equals", "value": "Enabled"}}), record)


# --- Paths ----------------------------------------------------------------------------------------


def test_paths_into_the_record_tags_and_config():
    record = rec(1, {"a": {"b": [{"c": 5}]}}, tags={"Owner": "ada", "kubernetes.io/role": "node"}, name="db")
    assert matches(rule({"path": "tags.Owner", "op": "equals", "value": "ada"}), record)
    assert matches(rule({"path": ["tags", "kubernetes.io/role"], "op": "equals", "value": "node"}), record)
    assert matches(rule({"path": "name", "op": "equals", "value": "db"}), record)
    assert matches(rule({"path": "region", "op": "equals", "value": "us-east-1"}), record)
    assert matches(rule({"path": "config.a.b.0.c", "op": "equals", "value": 5}), record)
    assert not matches(rule({"path": "config.a.b.3.c", "exists": True}), record)
    assert matches(rule({"path": "config.a.b.-1.c", "exists": False}), record)  # "-1" is a key, not an index
    # Through a null or a scalar: missing, not an error.
    assert not matches(rule({"path": "config.a.b.0.c.d", "op": "equals", "value": 1}), record)
    assert not matches(rule({"path": "config.n.x", "op": "equals", "value": 1}), rec(2, {"n": None}))


def test_an_unknown_record_field_is_an_error_even_without_schema():
    err = errors_of(doc({"path": "cofnig.size_gb", "op": "gt", "value": 1}))
    assert err.path == "condition.path"
    assert "unknown field 'cofnig'" in err.problem and "did you mean 'config'" in err.problem


# --- Combinators ----------------------------------------------------------------------------------


def test_all_any_not_nesting():
    r = rule(
        {
            "all": [
                {"path": "config.state", "op": "equals", "value": "available"},
                {
                    "any": [
                        {"path": "config.size_gb", "op": "gte", "value": 100},
                        {"not": {"path": "config.encrypted", "op": "equals", "value": True}},
                    ]
                },
            ]
        }
    )
    assert matches(r, rec(1, {"state": "available", "size_gb": 500, "encrypted": True}))
    assert matches(r, rec(2, {"state": "available", "size_gb": 5, "encrypted": False}))
    assert not matches(r, rec(3, {"state": "available", "size_gb": 5, "encrypted": True}))
    assert not matches(r, rec(4, {"state": "in-use", "size_gb": 500, "encrypted": False}))


def test_not_of_not():
    r = rule({"not": {"not": {"path": "config.x", "op": "equals", "value": 1}}})
    assert matches(r, rec(1, {"x": 1})) and not matches(r, rec(2, {"x": 2}))


# --- List quantifiers -----------------------------------------------------------------------------

SG = "aws.ec2.security_group"
WORLD_SSH = {
    "any_item": {
        "path": "config.rules",
        "where": {
            "all": [
                {"path": "direction", "op": "equals", "value": "ingress"},
                {"path": "source", "op": "in", "value": ["0.0.0.0/0", "::/0"]},
                {"path": "from_port", "op": "lte", "value": 22},
                {"path": "to_port", "op": "gte", "value": 22},
            ]
        },
    }
}


def sg_rule(source, port=22, direction="ingress"):
    return {"direction": direction, "protocol": "tcp", "from_port": port, "to_port": port, "source": source}


def test_any_item_paths_are_relative_to_the_item():
    r = rule(WORLD_SSH, types=[SG])
    assert matches(r, rec(1, {"rules": [sg_rule("10.0.0.0/8"), sg_rule("0.0.0.0/0")]}, SG))
    assert not matches(r, rec(2, {"rules": [sg_rule("10.0.0.0/8"), sg_rule("0.0.0.0/0", 443)]}, SG))
    assert not matches(r, rec(3, {"rules": []}, SG))
    assert not matches(r, rec(4, {}, SG))  # missing list
    assert not matches(r, rec(5, {"rules": "not a list"}, SG))


def test_all_items_is_true_on_an_empty_list_and_false_on_a_missing_one():
    r = rule(
        {
            "all_items": {
                "path": "config.attachments",
                "where": {"path": "device", "op": "starts_with", "value": "/dev/"},
            }
        }
    )
    assert matches(r, rec(1, {"attachments": [{"device": "/dev/sda"}, {"device": "/dev/sdb"}]}))
    assert not matches(r, rec(2, {"attachments": [{"device": "/dev/sda"}, {"device": "xvdb"}]}))
    assert matches(r, rec(3, {"attachments": []}))
    assert not matches(r, rec(4, {}))


def test_count_items_with_and_without_where():
    active = {"path": "status", "op": "equals", "value": "Active"}
    two_active = rule({"count_items": {"path": "config.keys", "where": active, "count": {"gte": 2}}})
    keys = [{"status": "Active"}, {"status": "Inactive"}, {"status": "Active"}]
    assert matches(two_active, rec(1, {"keys": keys}))
    assert not matches(two_active, rec(2, {"keys": keys[:2]}))
    exactly_three = rule({"count_items": {"path": "config.keys", "count": 3}})
    assert matches(exactly_three, rec(3, {"keys": keys}))
    assert not matches(exactly_three, rec(4, {"keys": keys[:1]}))


def test_at_means_the_item_itself():
    r = rule(
        {"any_item": {"path": "config.names", "where": {"path": "@", "op": "matches", "value": "(?i)secret"}}},
        types=["aws.lambda.function"],
    )
    assert matches(r, rec(1, {"names": ["A", "MY_SECRET"]}, "aws.lambda.function"))
    assert not matches(r, rec(2, {"names": ["A"]}, "aws.lambda.function"))


def test_nested_quantifiers():
    r = rule(
        {
            "any_item": {
                "path": "config.groups",
                "where": {"all_items": {"path": "members", "where": {"path": "@", "op": "gt", "value": 1}}},
            }
        }
    )
    assert matches(r, rec(1, {"groups": [{"members": [0]}, {"members": [2, 3]}]}))
    assert not matches(r, rec(2, {"groups": [{"members": [0, 5]}]}))


# --- Related resources ----------------------------------------------------------------------------

VOL, INST, ENI, SUBNET, VPC = (
    "aws.ec2.volume",
    "aws.ec2.instance",
    "aws.ec2.network_interface",
    "aws.ec2.subnet",
    "aws.ec2.vpc",
)


@pytest.fixture
def net():
    """instance 1 in public subnet 10 of default vpc 20, volumes 2 (attached) and 3 (not), sg 30 used by eni 40."""
    records = [
        rec(1, {"state": "running"}, INST),
        rec(2, {"state": "in-use"}, VOL),
        rec(3, {"state": "available"}, VOL),
        rec(4, {"state": "stopped"}, INST),
        rec(10, {"is_public": True}, SUBNET),
        rec(11, {"is_public": False}, SUBNET),
        rec(20, {"is_default": True}, VPC),
        rec(30, {"group_name": "web"}, SG),
        rec(31, {"group_name": "old"}, SG),
        rec(40, {"status": "in-use"}, ENI),
    ]
    relationships = [
        (2, 1, "attached_to"),
        (1, 10, "in_subnet"),
        (4, 11, "in_subnet"),
        (10, 20, "in_vpc"),
        (11, 20, "in_vpc"),
        (40, 30, "uses_security_group"),
        {"source_id": 40, "target_id": 1, "kind": "attached_to"},
    ]
    return ResourceIndex(records, relationships)


def test_related_out_with_where(net):
    in_public_subnet = rule(
        {
            "related": {
                "kind": "in_subnet",
                "types": [SUBNET],
                "where": {"path": "config.is_public", "op": "equals", "value": True},
            }
        },
        types=[INST],
    )
    assert matches(in_public_subnet, net.by_id[1], net)
    assert not matches(in_public_subnet, net.by_id[4], net)


def test_related_count_zero_both_directions(net):
    unattached = rule({"related": {"kind": "attached_to", "direction": "out", "count": 0}})
    assert not matches(unattached, net.by_id[2], net)
    assert matches(unattached, net.by_id[3], net)
    unused_sg = rule(
        {"related": {"kind": "uses_security_group", "direction": "in", "types": [ENI], "count": 0}}, types=[SG]
    )
    assert not matches(unused_sg, net.by_id[30], net)
    assert matches(unused_sg, net.by_id[31], net)


def test_related_counts_types_filter_and_exists(net):
    attached_volumes = {"kind": "attached_to", "direction": "in", "types": [VOL]}
    assert matches(rule({"related": {**attached_volumes, "count": 1}}, types=[INST]), net.by_id[1], net)
    assert not matches(rule({"related": {**attached_volumes, "count": {"gt": 1}}}, types=[INST]), net.by_id[1], net)
    # Without a type filter the ENI attachment counts too.
    assert matches(
        rule({"related": {"kind": "attached_to", "direction": "in", "count": {"gte": 2}}}, types=[INST]),
        net.by_id[1],
        net,
    )
    assert matches(rule({"related": {**attached_volumes, "count": {"lt": 2}}}, types=[INST]), net.by_id[1], net)
    assert matches(rule({"related": {**attached_volumes, "count": {"lte": 1}}}, types=[INST]), net.by_id[1], net)
    assert matches(rule({"related": {**attached_volumes, "exists": True}}, types=[INST]), net.by_id[1], net)
    assert matches(rule({"related": {**attached_volumes, "exists": False}}, types=[INST]), net.by_id[4], net)
    # Default: at least one.
    assert matches(rule({"related": attached_volumes}, types=[INST]), net.by_id[1], net)
    assert not matches(rule({"related": attached_volumes}, types=[INST]), net.by_id[4], net)


def test_related_both_directions(net):
    touching = rule({"related": {"kind": "attached_to", "direction": "both", "count": {"gte": 1}}})
    assert matches(touching, net.by_id[2], net)  # out
    assert matches(
        rule({"related": {"kind": "attached_to", "direction": "both", "count": 2}}, types=[INST]), net.by_id[1], net
    )


def test_nested_related_default_vpc_with_instances(net):
    in_use = rule(
        {
            "all": [
                {"path": "config.is_default", "op": "equals", "value": True},
                {
                    "related": {
                        "kind": "in_vpc",
                        "direction": "in",
                        "types": [SUBNET],
                        "where": {
                            "related": {
                                "kind": "in_subnet",
                                "direction": "in",
                                "types": [INST],
                                "where": {"path": "config.state", "op": "equals", "value": "running"},
                            }
                        },
                    }
                },
            ]
        },
        types=[VPC],
    )
    assert matches(in_use, net.by_id[20], net)
    assert in_use.related_types == {SUBNET, INST}


def test_related_to_a_resource_not_in_the_index_is_ignored():
    index = ResourceIndex([rec(1, {}, VOL)], [(1, 999, "attached_to")])
    assert matches(rule({"related": {"kind": "attached_to", "count": 0}}), index.by_id[1], index)


def test_related_inside_a_list_item_is_an_error():
    err = errors_of(doc({"any_item": {"path": "config.attachments", "where": {"related": {"kind": "attached_to"}}}}))
    assert err.path == "condition.any_item.where.related"


# --- Compile once ---------------------------------------------------------------------------------


def test_regexes_are_compiled_once_at_load(monkeypatch):
    r = rule({"any_item": {"path": "config.names", "where": {"path": "@", "op": "matches", "value": "^a+$"}}})
    leaf = r.condition.where  # type: ignore[attr-defined]
    assert isinstance(leaf.operand, re2._Regexp) and leaf.parts == ()  # RE2: linear time (docs/rules.md)

    def no_compile(*args, **kwargs):
        raise AssertionError("a regex was compiled during evaluation")

    monkeypatch.setattr(re, "compile", no_compile)
    monkeypatch.setattr(re2, "compile", no_compile)
    index = ResourceIndex([rec(i, {"names": ["b", "aaa" if i % 2 else "c"]}) for i in range(1, 201)])
    assert len(evaluate_rule(r, index, now=NOW).matched) == 100


def test_paths_are_split_and_ops_resolved_at_compile_time():
    r = rule({"path": "config.metadata_options.http_tokens", "op": "equals", "value": "optional"}, types=[INST])
    assert r.condition.parts == ("config", "metadata_options", "http_tokens")  # type: ignore[attr-defined]
    assert r.condition.fn is language.OPS["equals"].fn  # type: ignore[attr-defined]
    assert ("aws.ec2.instance", "config.metadata_options.http_tokens") in r.fields_read


# --- Errors: rule id, path in the document, problem ----------------------------------------------


def test_unknown_op_names_its_path_and_suggests():
    document = doc(
        {
            "all": [
                {"path": "config.a", "op": "equals", "value": 1},
                {"path": "config.b", "op": "equals", "value": 2},
                {"path": "config.c", "op": "equal", "value": 3},
            ]
        },
        id="my-rule",
    )
    err = errors_of(document)
    assert (err.rule_id, err.path) == ("my-rule", "condition.all[2].op")
    assert "unknown op 'equal'" in err.problem and "did you mean 'equals'" in err.problem
    assert str(err).startswith("rule 'my-rule' at condition.all[2].op: unknown op")


@pytest.mark.parametrize(
    ("condition", "path", "fragment"),
    [
        ({"path": "config.x", "op": "matches", "value": "(unclosed"}, "condition.value", "bad regex"),
        ({"path": "config.x", "op": "gt", "value": "ten"}, "condition.value", "takes a number"),
        ({"path": "config.x", "op": "in", "value": "a"}, "condition.value", "non-empty list"),
        ({"path": "config.x", "op": "older_than_days", "value": -1}, "condition.value", "number of days"),
        ({"path": "config.x", "op": "len_gt", "value": 1.5}, "condition.value", "whole number"),
        ({"path": "config.x", "op": "not_exists", "value": 1}, "condition.value", "takes no value"),
        ({"path": "config.x", "op": "equals"}, "condition", "needs a value"),
        ({"path": "config.x"}, "condition", "needs an op"),
        ({"path": "config.x", "op": "equals", "value": 1, "vaule": 2}, "condition.vaule", "unknown field 'vaule'"),
        ({"path": "config.x", "exists": "yes"}, "condition.exists", "true or false"),
        ({"path": "", "op": "equals", "value": 1}, "condition.path", "only valid inside"),
        ({"path": "config..x", "op": "equals", "value": 1}, "condition.path", "empty or invalid segment"),
        ({"alll": []}, "condition.alll", "did you mean 'all'"),
        ({"all": []}, "condition.all", "non-empty list"),
        ({"all": [{"path": "config.x", "op": "equals", "value": 1}], "any": []}, "condition", "exactly one"),
        ([{"path": "config.x"}], "condition", "a condition is a mapping"),
        ({"any_item": {"path": "config.x"}}, "condition.any_item", "needs a where"),
        ({"count_items": {"path": "config.x", "count": {"more": 1}}}, "condition.count_items.count", "count is"),
        ({"related": {"kind": "attached_to", "direction": "up"}}, "condition.related.direction", "direction is"),
        ({"related": {"kind": "Attached-To"}}, "condition.related.kind", "relationship kind"),
        (
            {"related": {"kind": "attached_to", "count": 0, "exists": True}},
            "condition.related",
            "either count or exists",
        ),
        (
            {"related": {"kind": "attached_to", "types": ["ec2.volume"]}},
            "condition.related.types[0]",
            "not a resource type",
        ),
        (
            {"related": {"kind": "attached_to", "where": {"path": "config.x", "op": "nope"}}},
            "condition.related.where.op",
            "unknown op",
        ),
        (
            {"path": "config.x", "op": "equals", "value": {"a": datetime(2024, 1, 1)}},
            "condition.value",
            "wrong value type",
        ),
    ],
)
def test_condition_errors(condition, path, fragment):
    err = errors_of(doc(condition))
    assert err.path == path, err
    assert fragment in err.problem, err


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"severty": "low"}, "severty", "did you mean 'severity'"),
        ({"severity": "urgent"}, "severity", "must be one of critical"),
        ({"category": "securty"}, "category", "did you mean 'security'"),
        ({"id": "Bad Id"}, "id", "an id is"),
        ({"resource_types": ["ec2-volume"]}, "resource_types[0]", "not a resource type"),
        ({"resource_types": []}, "resource_types", "non-empty list"),
        ({"title": ""}, "title", "non-empty string"),
        ({"references": ["ftp://x"]}, "references[0]", "http(s) URL"),
        ({"compliance": {"cis-aws-1.5": [5.2]}}, "compliance.cis-aws-1.5[0]", "quote them"),
        ({"compliance": {"CIS AWS": ["1.1"]}}, "compliance.CIS AWS", "slug"),
        ({"cost": {"estimator": "ebs_volumes"}}, "cost.estimator", "did you mean 'ebs_volume'"),
        ({"cost": {"estimator": "fixed"}}, "cost", "bad parameters"),
        ({"cost": {"estimator": "ebs_volume", "discount": 0.5}}, "cost", "bad parameters"),
        ({"tests": {"matches": []}}, "tests.matches", "unknown field"),
        ({"remediation": [1, 2]}, "remediation", "list of steps"),
    ],
)
def test_rule_field_errors(changes, path, fragment):
    document = {**doc({"path": "config.state", "op": "equals", "value": "available"}), **changes}
    err = errors_of(document)
    assert err.path == path, err
    assert fragment in err.problem, err


def test_missing_required_fields_are_all_reported():
    err = errors_of({"id": "half-a-rule"})
    paths = {e.path for e in err.errors}
    assert {"title", "severity", "category", "resource_types", "condition"} <= paths
    assert "more problem" in str(err)


def test_every_problem_in_a_document_is_collected():
    err = errors_of(
        doc(
            {"any": [{"path": "config.a", "op": "bad"}, {"path": "config.b", "op": "gt", "value": "x"}]},
            severity="nope",
        )
    )
    assert [e.path for e in err.errors] == ["severity", "condition.any[0].op", "condition.any[1].value"]
    assert all(e.rule_id == "test-rule" for e in err.errors)
    assert err.as_dict()["path"] == "severity"


def test_schema_checks_fields_ops_and_value_types():
    schema = load_schema()
    ok = rule({"path": "config.size_gb", "op": "gt", "value": 100}, schema=schema)
    assert ok.condition.op == "gt"  # type: ignore[attr-defined]

    err = errors_of(doc({"path": "config.size_gbs", "op": "gt", "value": 1}), schema=schema)
    assert err.path == "condition.path" and "unknown field 'size_gbs'" in err.problem and "size_gb" in err.problem

    err = errors_of(doc({"path": "config.encrypted", "op": "equals", "value": "true"}), schema=schema)
    assert err.path == "condition.value" and "wrong value type" in err.problem and "bool" in err.problem

    err = errors_of(doc({"path": "config.encrypted", "op": "gt", "value": 1}), schema=schema)
    assert err.path == "condition.op" and "does not apply" in err.problem

    err = errors_of(doc({"path": "config.attachments.device", "op": "equals", "value": "x"}), schema=schema)
    assert "is a list" in err.problem

    err = errors_of(
        doc({"any_item": {"path": "config.size_gb", "where": {"path": "@", "op": "gt", "value": 1}}}), schema=schema
    )
    assert err.path == "condition.any_item.path" and "not a list" in err.problem

    err = errors_of(
        doc({"any_item": {"path": "config.attachments", "where": {"path": "devce", "op": "equals", "value": "x"}}}),
        schema=schema,
    )
    assert err.path == "condition.any_item.where.path" and "did you mean 'device'" in err.problem

    err = errors_of(doc({"related": {"kind": "attached", "count": 0}}), schema=schema)
    assert err.path == "condition.related.kind" and "did you mean 'attached_to'" in err.problem

    err = errors_of(doc({"path": "config.size_gb", "op": "gt", "value": 1}, types=["aws.ec2.volumes"]), schema=schema)
    assert err.path == "resource_types[0]" and "unknown resource type" in err.problem

    err = errors_of(
        doc(
            {
                "related": {
                    "kind": "attached_to",
                    "types": [INST],
                    "where": {"path": "config.size_gb", "op": "gt", "value": 1},
                }
            }
        ),
        schema=schema,
    )
    assert err.path == "condition.related.where.path" and "aws.ec2.instance" in err.problem


def test_schema_allows_a_field_present_on_one_of_several_types():
    schema = load_schema()
    r = rule(
        {"path": "config.cluster_identifier", "exists": False},
        types=["aws.rds.db_instance", "aws.rds.db_cluster"],
        schema=schema,
    )
    assert matches(r, rec(1, {}, "aws.rds.db_cluster"))


def test_yaml_problems_are_rule_errors_with_line_numbers():
    with pytest.raises(RuleError) as info:
        parse_rules("id: x\ntitle: [unclosed\n", source="custom")
    assert info.value.path == "(yaml)" and "line" in info.value.problem and info.value.source == "custom"

    with pytest.raises(RuleError) as info:
        parse_rules("id: a-rule\nid: b-rule\n")
    assert "duplicate key 'id'" in info.value.problem

    with pytest.raises(RuleError) as info:
        parse_rules("just a string")
    assert "one rule" in info.value.problem


def test_parse_rules_one_or_many_yaml_or_json_dates_stay_strings():
    one = parse_rules(
        """
id: old-snapshot
title: Old
severity: low
category: cost
resource_types: [aws.ec2.snapshot]
condition: {path: config.start_time, op: older_than_days, value: 30}
tests: {match: [{config: {start_time: 2020-01-01T00:00:00Z}}], no_match: []}
"""
    )
    assert len(one) == 1
    assert one[0].examples["match"][0]["config"]["start_time"] == "2020-01-01T00:00:00Z"
    many = parse_rules(
        '[{"id": "r-one", "title": "1", "severity": "info", "category": "drift", "resource_types": ["aws.ec2.vpc"],'
        ' "condition": {"path": "config.is_default", "op": "equals", "value": true}},'
        ' {"id": "r-two", "title": "2", "severity": "info", "category": "drift", "resource_types": ["aws.ec2.vpc"],'
        ' "condition": {"path": "config.is_default", "op": "equals", "value": false}}]'
    )
    assert [r.id for r in many] == ["r-one", "r-two"]


def test_compile_many_keeps_the_good_rules_and_reports_the_broken_and_duplicates():
    good = doc({"path": "config.x", "op": "equals", "value": 1}, id="good-one")
    broken = doc({"path": "config.x", "op": "??"}, id="broken-one")
    rules, errors = compile_many([good, broken, good], source="custom.yaml")
    assert [r.id for r in rules] == ["good-one"]
    assert [(e.rule_id, e.path) for e in errors] == [("broken-one", "condition.op"), ("good-one", "id")]
    assert errors[0].source == "custom.yaml#2"


# --- Evaluation -----------------------------------------------------------------------------------


def test_an_error_on_one_record_is_counted_and_the_run_goes_on():
    r = rule({"path": "config.size_gb", "op": "gt", "value": 100})
    records = [
        rec(1, {"size_gb": 500}),
        rec(2, {"size_gb": "big"}),  # str > int: TypeError
        rec(3, {"size_gb": 50}),
        rec(4, {"size_gb": 200}),
    ]
    result = evaluate_rule(r, ResourceIndex(records), now=NOW)
    assert result.matched == [1, 4]
    assert result.errors == 1 and result.checked == 4
    assert result.error_samples[0][0] == 2 and "TypeError" in result.error_samples[0][1]


def test_a_malformed_date_is_an_error_not_a_crash():
    r = rule({"path": "config.create_time", "op": "older_than_days", "value": 1})
    records = [
        rec(1, {"create_time": "yesterday-ish"}),
        rec(2, {"create_time": 12345}),
        rec(3, {"create_time": "2020-01-01"}),
    ]
    result = evaluate_rule(r, ResourceIndex(records), now=NOW)
    assert result.matched == [3] and result.errors == 2


def test_a_rule_failing_unexpectedly_does_not_stop_the_others():
    good = rule({"path": "config.x", "op": "equals", "value": 1}, id="good-rule")
    bad = rule({"path": "config.x", "op": "equals", "value": 1}, id="bad-rule")
    bad = dataclasses.replace(bad, resource_types=None)  # not iterable: evaluate_rule itself raises
    result = evaluate([bad, good], ResourceIndex([rec(1, {"x": 1})]), now=NOW)
    assert result.results["bad-rule"].errors == 1
    assert result.results["good-rule"].matched == [1]


def test_cost_estimates_for_matched_records_and_estimator_errors():
    r = rule(
        {"path": "config.state", "op": "equals", "value": "available"},
        category="cost",
        cost={"estimator": "ebs_volume"},
    )
    records = [
        rec(1, {"state": "available", "size_gb": 100, "volume_type": "gp2"}),
        rec(2, {"state": "available", "size_gb": 10, "volume_type": "gp3"}, region="eu-west-1"),
        rec(3, {"state": "in-use", "size_gb": 100, "volume_type": "gp2"}),
        rec(4, {"state": "available", "size_gb": 100, "volume_type": "gp2", "iops": "many"}, region="us-east-1"),
    ]
    records[3]["config"]["volume_type"] = "io1"
    result = evaluate_rule(r, ResourceIndex(records), now=NOW)
    assert sorted(result.matched) == [1, 2, 4]
    assert result.costs == {1: 10.0, 2: 0.88, 4: 12.5}  # io1 without a usable iops: storage only
    assert result.monthly_usd == 23.38
    assert result.errors == 0  # a non-numeric iops is ignored by the estimator, not an error


def test_estimator_exceptions_are_counted():
    def boom(record, index):
        raise ValueError("no price")

    r = compile_rule(
        doc({"path": "config.state", "op": "equals", "value": "available"}, cost={"estimator": "boom"}),
        estimators={"boom": boom},
    )
    result = evaluate_rule(r, ResourceIndex([rec(1, {"state": "available"})]), now=NOW)
    assert result.matched == [1] and result.costs == {} and result.errors == 1
    assert result.error_samples[0][1].startswith("cost: ValueError")


# --- Coverage: "not evaluated" is never a pass ----------------------------------------------------


def test_not_evaluated_scopes_from_coverage():
    r = rule({"path": "config.state", "op": "equals", "value": "available"})
    records = [
        rec(1, {"state": "available"}, region="us-east-1"),
        rec(2, {"state": "available"}, region="eu-west-1"),  # denied there: stale data, not judged
        rec(3, {"state": "available"}, region="us-east-1", conn=2),  # connection without a sync
    ]
    coverage = {
        1: {
            (VOL, "us-east-1"): "collected",
            (VOL, "eu-west-1"): "denied",
            (VOL, "ap-south-1"): "collected",  # no volumes there: evaluated, a pass
            (VOL, "sa-east-1"): "throttled",
            (INST, "us-east-1"): "collected",
        }
    }
    result = evaluate_rule(r, ResourceIndex(records), coverage=coverage, now=NOW)
    assert result.matched == [1]
    assert result.evaluated == {Scope(1, VOL, "us-east-1"), Scope(1, VOL, "ap-south-1")}
    assert result.not_evaluated == {
        Scope(1, VOL, "eu-west-1"): "denied",
        Scope(1, VOL, "sa-east-1"): "throttled",
        Scope(2, VOL, "us-east-1"): "no completed sync for this connection",
    }


def test_a_record_outside_the_last_run_is_not_evaluated():
    r = rule({"path": "config.state", "op": "equals", "value": "available"})
    result = evaluate_rule(
        r, ResourceIndex([rec(1, {"state": "available"}, region="eu-north-1")]), coverage={1: {}}, now=NOW
    )
    assert result.matched == []
    assert result.not_evaluated == {Scope(1, VOL, "eu-north-1"): "not collected in the last sync"}


def test_related_types_must_be_collected_too():
    unused = rule(
        {"related": {"kind": "uses_security_group", "direction": "in", "types": [ENI], "count": 0}}, types=[SG]
    )
    index = ResourceIndex([rec(1, {}, SG, region="us-east-1"), rec(2, {}, SG, region="eu-west-1")])
    coverage = {
        1: {
            (SG, "us-east-1"): "collected",
            (SG, "eu-west-1"): "collected",
            (ENI, "us-east-1"): "collected",
            (ENI, "eu-west-1"): "error",
        }
    }
    result = evaluate_rule(unused, index, coverage=coverage, now=NOW)
    assert result.matched == [1]
    assert result.not_evaluated == {Scope(1, SG, "eu-west-1"): f"{ENI}: error"}


def test_global_types_and_related_global_types():
    user_rule = rule(
        {"path": "config.password_enabled", "op": "equals", "value": True},
        types=["aws.iam.user"],
    )
    role_used = rule(
        {"related": {"kind": "uses_role", "direction": "in", "types": [INST], "count": 0}}, types=["aws.iam.role"]
    )
    index = ResourceIndex(
        [
            rec(1, {"password_enabled": True}, "aws.iam.user", region="global"),
            rec(2, {}, "aws.iam.role", region="global"),
        ]
    )
    coverage = {
        1: {
            ("aws.iam.user", "global"): "collected",
            ("aws.iam.role", "global"): "collected",
            (INST, "us-east-1"): "collected",
            (INST, "eu-west-1"): "denied",
        }
    }
    assert evaluate_rule(user_rule, index, coverage=coverage).matched == [1]
    result = evaluate_rule(role_used, index, coverage=coverage)
    assert result.matched == [] and result.not_evaluated == {Scope(1, "aws.iam.role", "global"): f"{INST}: denied"}


def test_evaluate_runs_many_rules_and_reports_totals():
    rules = [
        rule({"path": "config.state", "op": "equals", "value": "available"}, id="vol-available"),
        rule({"path": "config.size_gb", "op": "gt", "value": 100}, id="vol-big"),
        rule({"path": "config.state", "op": "equals", "value": "stopped"}, types=[INST], id="inst-stopped"),
    ]
    index = ResourceIndex(
        [
            rec(1, {"state": "available", "size_gb": 500}),
            rec(2, {"state": "in-use", "size_gb": "x"}),
            rec(3, {"state": "stopped"}, INST),
        ]
    )
    report = evaluate(rules, index, now=NOW)
    assert {k: v.matched for k, v in report.results.items()} == {
        "vol-available": [1],
        "vol-big": [1],
        "inst-stopped": [3],
    }
    assert report.matches == 3 and report.errors == 1 and report.records == 3


# --- Preview and explanations ---------------------------------------------------------------------


def test_preview_counts_matches_of_candidates_and_total():
    records = [rec(i, {"size_gb": i}) for i in range(1, 51)] + [rec(100 + i, {}, INST) for i in range(20)]
    index = ResourceIndex(records)
    p = preview(doc({"path": "config.size_gb", "op": "gt", "value": 38}), index, now=NOW, sample=5)
    assert (p.matched, p.candidates, p.total, p.errors) == (12, 50, 70, 0)
    assert p.sample_ids == [39, 40, 41, 42, 43]
    with pytest.raises(RuleError):
        preview(doc({"path": "config.size_gb", "op": "bigger", "value": 1}), index)


def test_preview_with_the_schema_rejects_unknown_fields():
    with pytest.raises(RuleError) as info:
        preview(doc({"path": "config.sizegb", "op": "gt", "value": 1}), ResourceIndex([]), schema=load_schema())
    assert "did you mean 'size_gb'" in info.value.problem


def test_explain_shows_why_a_record_matched(net):
    r = rule(
        {
            "all": [
                {"path": "config.state", "op": "equals", "value": "running"},
                {
                    "related": {
                        "kind": "in_subnet",
                        "types": [SUBNET],
                        "where": {"path": "config.is_public", "op": "equals", "value": True},
                    }
                },
                {"not": {"path": "config.iam_instance_profile_arn", "exists": True}},
            ]
        },
        types=[INST],
    )
    tree = explain(r, net.by_id[1], net, now=NOW)
    assert tree["result"] is True
    leaf, related, negation = tree["all"]
    assert leaf == {"path": "config.state", "op": "equals", "value": "running", "actual": "running", "result": True}
    assert related["matching"] == [10] and related["where"]["actual"] is True
    assert negation["not"]["missing"] is True and negation["result"] is True


def test_explain_quantifiers_and_errors():
    r = rule(WORLD_SSH, types=[SG])
    tree = explain(r, rec(1, {"rules": [sg_rule("10.0.0.0/8"), sg_rule("0.0.0.0/0")]}, SG), now=NOW)
    assert tree["matching_items"] == [1] and tree["where"]["item"] == 1 and tree["result"] is True
    broken = explain(rule({"path": "config.size_gb", "op": "gt", "value": 1}), rec(2, {"size_gb": "x"}))
    assert broken["result"] is None and "TypeError" in broken["error"]


def test_rules_scoped_to_connections():
    r = rule({"path": "config.state", "op": "equals", "value": "available"}, id="scoped-rule")
    other = rule({"path": "config.state", "op": "equals", "value": "available"}, id="everywhere-rule")
    index = ResourceIndex([rec(1, {"state": "available"}, conn=1), rec(2, {"state": "available"}, conn=2)])
    coverage = {1: {(VOL, "us-east-1"): "collected"}, 2: {(VOL, "us-east-1"): "denied"}}
    report = evaluate([r, other], index, coverage=coverage, now=NOW, rule_connections={"scoped-rule": {2}})
    assert report.results["scoped-rule"].matched == []
    assert report.results["scoped-rule"].evaluated == set()
    assert report.results["scoped-rule"].not_evaluated == {Scope(2, VOL, "us-east-1"): "denied"}
    assert report.results["everywhere-rule"].matched == [1]
