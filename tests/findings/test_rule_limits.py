"""Denial of service through rules (issue #12): YAML alias bombs, oversized and deeply nested documents,
rules with too many conditions, catastrophic regular expressions, unbounded error messages, and Celery
tasks without time limits. Each is refused quickly with a clear rule error, or bounded."""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import pytest
import yaml
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.urls import reverse

from findings import tasks as finding_tasks
from findings.models import CustomRule, Finding
from findings.rule_editor import parse_custom_rule
from findings.rules import ResourceIndex, RuleError, compile_rule, evaluate
from findings.rules import language as lang
from findings.rules.language import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_REGEX_CHARS,
    MAX_RULE_BYTES,
    QUOTE_CHARS,
    load_documents,
)
from inventory import sync
from inventory import tasks as inventory_tasks
from inventory.models import SyncRun
from tests.factories import CloudConnectionFactory, ResourceFactory, SyncRunFactory, synced

INSTANCE = "aws.ec2.instance"
HEADER = f"id: limits\ntitle: Limits\nseverity: low\ncategory: hygiene\nresource_types: [{INSTANCE}]\n"


def rule_text(condition: str) -> str:
    return f"{HEADER}condition: {condition}\n"


def leaf(op: str, value, path: str = "name") -> str:
    return rule_text(json.dumps({"path": path, "op": op, "value": value}, ensure_ascii=False))


def alias_bomb(levels: int = 8) -> str:
    """The issue's 382-byte rule: each level repeats the previous one ten times (10**8 strings)."""
    names = "abcdefghijklmnop"
    lines = [f"a: &a [{','.join(['lol'] * 10)}]"]
    for i in range(1, levels + 1):
        lines.append(f"{names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * 10)}]")
    return "\n".join(lines) + f"\nid: bomb\ntitle: x\nseverity: *{names[levels]}\n"


# The catastrophic patterns and the strings they backtrack on exponentially in Python's re.
CATASTROPHIC_NAME = "a" * 28 + "!"
ARN = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0"
CATASTROPHIC = [
    pytest.param("name", "^(a+)+$", id="nested-plus-on-a-name"),
    pytest.param("native_id", "^(.+)+X", id="nested-dot-plus-on-an-arn"),
]
# Patterns RE2 cannot run (no backtracking engine): a rule error at validation time.
UNSUPPORTED = [
    pytest.param(r"^(a+)\1$", id="backreference"),
    pytest.param(r"(?P<x>a)(?P=x)", id="named-backreference"),
    pytest.param(r"^(?=admin)", id="lookahead"),
    pytest.param(r"(?<!test-)prod", id="lookbehind"),
    pytest.param(r"a++", id="possessive"),
]


def record(**kwargs):
    base = {"id": 1, "connection_id": 1, "provider": "aws", "resource_type": INSTANCE, "native_id": ARN}
    return {**base, "name": CATASTROPHIC_NAME, "region": "eu-west-1", "tags": {}, "config": {}, **kwargs}


# --- YAML: anchors and aliases, refused before anything is expanded ---------------------------------


def test_alias_bomb_is_refused_before_expansion(monkeypatch):
    text = alias_bomb()
    assert len(text.encode()) < 400
    # Refused at the parser's events: the loader that would build (and expand) nodes never runs.
    monkeypatch.setattr(lang.yaml, "load", lambda *a, **k: pytest.fail("the document was constructed"))
    started = time.perf_counter()
    with pytest.raises(RuleError) as caught:
        load_documents(text, source="custom rule")
    assert time.perf_counter() - started < 1
    assert caught.value.path == "(yaml)"
    assert "line 1: YAML anchors (&name) and aliases (*name) are not allowed" in caught.value.problem


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(HEADER + "condition: &c {path: name, op: exists}\n", id="anchor-alone"),
        pytest.param(HEADER + "x: &x name\ncondition: {path: *x, op: exists}\n", id="alias"),
        pytest.param(HEADER + "base: &b {path: name}\ncondition: {<<: *b, op: exists}\n", id="merge-key"),
    ],
)
def test_any_anchor_or_alias_is_a_rule_error(text):
    with pytest.raises(RuleError, match="anchors .* and aliases .* are not allowed"):
        parse_custom_rule(text)


# --- Size: bytes, nesting depth, number of conditions --------------------------------------------


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_rule_over_the_byte_limit_is_refused(fmt):
    # Under the old 50,000-character cap, over the byte cap: "€" is 3 bytes in UTF-8.
    filler = "€" * (MAX_RULE_BYTES // 3 + 10)
    text = (
        leaf("equals", filler)
        if fmt == "yaml"
        else json.dumps({"id": "big", "description": filler}, ensure_ascii=False)
    )
    assert len(text) < 50_000 < len(text.encode())
    with pytest.raises(RuleError, match=f"over the limit of {MAX_RULE_BYTES:,}") as caught:
        parse_custom_rule(text, fmt)
    assert caught.value.path == "(document)"


def test_yaml_nested_deeper_than_the_limit_is_refused():
    value = "[" * (MAX_DEPTH + 5) + "1" + "]" * (MAX_DEPTH + 5)
    with pytest.raises(RuleError, match=f"nested deeper than {MAX_DEPTH} levels") as caught:
        parse_custom_rule(rule_text(f"{{path: name, op: equals, value: {value}}}"))
    assert caught.value.path == "(yaml)"


def test_json_nested_deeper_than_the_limit_is_refused():
    # Shallow enough for json to parse: the compiler refuses it, whatever the text came from.
    deep = json.loads("[" * (MAX_DEPTH + 5) + "1" + "]" * (MAX_DEPTH + 5))
    text = json.dumps(
        {
            "id": "deep",
            "title": "t",
            "severity": "low",
            "category": "hygiene",
            "resource_types": [INSTANCE],
            "condition": {"path": "name", "op": "equals", "value": deep},
        }
    )
    with pytest.raises(RuleError, match=f"nested deeper than {MAX_DEPTH} levels") as caught:
        parse_custom_rule(text, "json")
    assert caught.value.path == "(document)"
    # So deep that json itself would recurse out of the stack: a rule error too, not a crash.
    with pytest.raises(RuleError, match="nested deeper"):
        parse_custom_rule("[" * 20_000 + "]" * 20_000, "json")


def test_more_conditions_than_the_limit_is_refused():
    leaves = [{"path": "name", "op": "equals", "value": f"n{i}"} for i in range(MAX_CONDITIONS + 50)]
    doc = yaml.safe_load(HEADER) | {"condition": {"any": leaves}}
    with pytest.raises(RuleError) as caught:
        compile_rule(doc)
    assert f"at most {MAX_CONDITIONS} conditions" in caught.value.problem
    assert len(caught.value.errors) == 1  # said once, not once per extra condition
    # At the limit it compiles (the any node counts as one).
    doc["condition"] = {"any": leaves[: MAX_CONDITIONS - 1]}
    assert compile_rule(doc).id == "limits"


# --- Error messages quote a short, truncated value ------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("severity", "x" * 100_000, id="long-string"),
        pytest.param("severity", [["lol"] * 1000] * 1000, id="large-list"),
        pytest.param("id", {f"k{i}": "v" * 1000 for i in range(1000)}, id="large-mapping"),
    ],
)
def test_error_messages_quote_at_most_a_short_value(field, value):
    doc = yaml.safe_load(HEADER) | {"condition": {"path": "name", "op": "exists"}, field: value}
    started = time.perf_counter()
    with pytest.raises(RuleError) as caught:
        compile_rule(doc)
    assert time.perf_counter() - started < 1
    problem = caught.value.problem
    assert problem.startswith(f"{field} must be one of" if field == "severity" else "an id is")
    assert len(problem) < 200 + QUOTE_CHARS
    assert len(str(caught.value)) < 400


def test_operand_errors_quote_a_truncated_value():
    with pytest.raises(RuleError) as caught:
        parse_custom_rule(leaf("gt", list(range(5000))))
    assert caught.value.path == "condition.value"
    assert caught.value.problem.startswith("gt takes a number, got [0, 1, 2, 3, ...]")
    assert len(caught.value.problem) < 100


def test_evaluation_error_samples_are_bounded():
    condition = {"path": "config.launched_at", "op": "older_than_days", "value": 1}
    rule = compile_rule(yaml.safe_load(HEADER) | {"condition": condition})
    result = evaluate([rule], ResourceIndex([record(config={"launched_at": "not a date " * 10_000})]))
    result = result.results["limits"]
    assert result.errors == 1
    ((_rid, message),) = result.error_samples
    assert message.startswith("ValueError: Invalid isoformat string") and len(message) <= 300


# --- Regular expressions: RE2, linear time; unsupported syntax is a rule error ------------------------


@pytest.mark.parametrize(("path", "pattern"), CATASTROPHIC)
def test_catastrophic_patterns_run_in_linear_time(path, pattern):
    rule = compile_rule(yaml.safe_load(leaf("matches", pattern, path)))
    started = time.perf_counter()
    result = evaluate([rule], ResourceIndex([record()])).results["limits"]
    assert time.perf_counter() - started < 1
    assert result.matched == [] and result.errors == 0


def test_regexes_keep_their_meaning_under_re2():
    rule = compile_rule(yaml.safe_load(leaf("matches", r"(?i)^web-\d+$")))
    index = ResourceIndex([record(id=1, name="WEB-12"), record(id=2, name="web-x"), record(id=3, name="db-1")])
    assert evaluate([rule], index).results["limits"].matched == [1]
    negated = compile_rule(yaml.safe_load(leaf("not_matches", "^web")))
    assert evaluate([negated], index).results["limits"].matched == [1, 3]  # case-sensitive without (?i)


@pytest.mark.parametrize("pattern", UNSUPPORTED)
def test_unsupported_regex_is_a_rule_error_naming_the_path(pattern):
    with pytest.raises(RuleError) as caught:
        parse_custom_rule(rule_text(json.dumps({"all": [{"path": "name", "op": "matches", "value": pattern}]})))
    error = caught.value
    assert error.path == "condition.all[0].value"
    assert error.problem.startswith(f"bad regex {pattern!r}: ")
    assert "no backreferences, lookahead/lookbehind" in error.problem


def test_overlong_regex_is_a_rule_error():
    with pytest.raises(RuleError, match=f"longer than {MAX_REGEX_CHARS:,} characters"):
        parse_custom_rule(leaf("matches", "a" * (MAX_REGEX_CHARS + 1)))


# --- Through the views: the preview and the save path ---------------------------------------------------


def url(name: str, org) -> str:
    return reverse(f"findings:{name}", kwargs={"org_slug": org.slug})


@pytest.fixture
def conn(org):
    c = CloudConnectionFactory(org=org, name="Production")
    synced(c, {INSTANCE: ["eu-west-1"]})
    return c


@pytest.fixture
def victim(conn):
    return ResourceFactory(
        connection=conn, resource_type=INSTANCE, name=CATASTROPHIC_NAME, native_id=ARN, region="eu-west-1", config={}
    )


def post(client, org, endpoint: str, source: str):
    """The response and the seconds it took (after a first request, so that loading templates and the
    catalog once per process is not what is timed)."""
    data = {"source": source, "format": "yaml", "enabled": "on"}
    client.post(url("custom_rule_preview", org), {"source": leaf("equals", "x"), "format": "yaml"})
    started = time.perf_counter()
    response = client.post(url(endpoint, org), data)
    return response, time.perf_counter() - started


ENDPOINTS = [
    pytest.param("custom_rule_preview", 200, id="preview"),
    pytest.param("custom_rule_new", 400, id="save"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "status"), ENDPOINTS)
def test_views_refuse_the_alias_bomb_fast(client_for, member, org, endpoint, status):
    response, elapsed = post(client_for(member), org, endpoint, alias_bomb())
    assert elapsed < 1
    assert response.status_code == status
    body = response.content.decode()
    assert "<code>(yaml)</code>" in body and "aliases (*name) are not allowed" in body
    # Nothing of the expansion is echoed: the answer is the page itself (whose field reference grows with
    # the catalog's types) plus a few lines of errors, never the hundreds of MB the aliases would expand to.
    page = client_for(member).get(url("custom_rule_new", org)).content.decode()
    assert len(body) < len(page) + 20_000
    assert not CustomRule.objects.for_org(org).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "status"), ENDPOINTS)
@pytest.mark.parametrize("pattern", UNSUPPORTED[:2])
def test_views_name_the_unsupported_regex(client_for, member, org, endpoint, status, pattern):
    response, elapsed = post(client_for(member), org, endpoint, leaf("matches", pattern))
    assert elapsed < 1
    assert response.status_code == status
    body = response.content.decode()
    assert "<code>condition.value</code>" in body and "bad regex" in body and "RE2 syntax" in body
    assert not CustomRule.objects.for_org(org).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "pattern"), CATASTROPHIC)
def test_preview_of_a_catastrophic_pattern_is_fast(client_for, member, org, victim, path, pattern):
    response, elapsed = post(client_for(member), org, "custom_rule_preview", leaf("matches", pattern, path))
    assert elapsed < 1
    assert response.status_code == 200
    assert "Matches 0 of 1 resource" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "pattern"), CATASTROPHIC)
def test_saving_a_catastrophic_pattern_evaluates_fast(
    client_for, member, org, victim, path, pattern, django_capture_on_commit_callbacks
):
    # Saving re-evaluates every connection (eagerly in tests): the rule runs over the victim's name/ARN.
    with django_capture_on_commit_callbacks(execute=True):
        response, elapsed = post(client_for(member), org, "custom_rule_new", leaf("not_matches", pattern, path))
    assert elapsed < 1
    assert response.status_code == 302
    assert CustomRule.objects.for_org(org).get().rule_id == "custom-limits"
    open_ids = Finding.objects.for_org(org).filter(rule_id="custom-limits", status=Finding.Status.OPEN)
    assert list(open_ids.values_list("resource_name", flat=True)) == [CATASTROPHIC_NAME]


# --- Celery: soft and hard time limits that end the work cleanly ------------------------------------------


def test_evaluation_and_sync_tasks_have_time_limits():
    evaluate_task = finding_tasks.evaluate_connection
    assert evaluate_task.soft_time_limit == settings.EVALUATION_SOFT_TIME_LIMIT > 0
    assert evaluate_task.time_limit == settings.EVALUATION_TIME_LIMIT > evaluate_task.soft_time_limit
    sync_task = inventory_tasks.sync_connection
    assert sync_task.soft_time_limit == settings.SYNC_SOFT_TIME_LIMIT > 0
    assert sync_task.time_limit == settings.SYNC_TIME_LIMIT > sync_task.soft_time_limit


def _out_of_time(*args, **kwargs):
    raise SoftTimeLimitExceeded()


def test_soft_time_limit_is_not_swallowed_as_a_record_error(monkeypatch):
    monkeypatch.setitem(lang.OPS, "matches", dataclasses.replace(lang.OPS["matches"], fn=_out_of_time))
    rule = compile_rule(yaml.safe_load(leaf("matches", "^web")))
    with pytest.raises(SoftTimeLimitExceeded) as caught:
        evaluate([rule], ResourceIndex([record()]))
    assert caught.value.__notes__ == ["while evaluating rule limits"]


@pytest.mark.django_db
def test_soft_time_limit_stops_an_evaluation_without_resolving_findings(
    org, conn, victim, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from findings.rule_actions import do_create_custom_rule

    with django_capture_on_commit_callbacks(execute=True):
        do_create_custom_rule(org, user=None, source=leaf("matches", "^a+!$"))
    finding = Finding.objects.for_org(org).get(rule_id="custom-limits")
    assert finding.status == Finding.Status.OPEN
    # The rule is recompiled from its document by the task: from now on it runs out of time.
    monkeypatch.setitem(lang.OPS, "matches", dataclasses.replace(lang.OPS["matches"], fn=_out_of_time))
    with caplog.at_level(logging.ERROR, logger="findings.tasks"):
        outcome = finding_tasks.evaluate_connection.apply(args=(conn.pk,)).get()
    assert outcome == "time limit"
    assert "while evaluating rule custom-limits" in caplog.text and "time limit" in caplog.text
    finding.refresh_from_db()
    assert finding.status == Finding.Status.OPEN  # not resolved by a run that never finished


@pytest.mark.django_db
def test_soft_time_limit_fails_the_sync_run(org, monkeypatch, caplog):
    connection = CloudConnectionFactory(org=org)
    run = SyncRunFactory(connection=connection, status=SyncRun.Status.QUEUED, started_at=None, finished_at=None)
    monkeypatch.setattr(sync, "provider_supported", _out_of_time)  # the limit hits outside the engine's try
    with caplog.at_level(logging.ERROR, logger="inventory.tasks"):
        outcome = inventory_tasks.sync_connection.apply(args=(connection.pk, run.pk)).get()
    assert outcome == "time limit"
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and run.finished_at is not None
    assert run.errors[0]["code"] == "time_limit" and "time limit" in run.errors[0]["message"]
    assert f"sync run {run.pk} stopped" in caplog.text
