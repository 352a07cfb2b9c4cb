"""The custom-rule editor's logic: parse what a member typed, and preview it over the current inventory.

    parse_custom_rule(text, fmt)                  → (document, Rule), or RuleError listing every problem
    preview_rule(org, rule, connection_ids=None)  → RulePreview: "matches 12 of 3,400 resources" + samples

Plain functions, no request: the views (``findings/views/rules.py``), the forms and the actions share them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.urls import NoReverseMatch, reverse

from findings.lifecycle import RECORD_FIELDS, as_record
from findings.rules import Preview, ResourceIndex, Rule, RuleError, preview
from findings.rules.catalog import load_schema
from findings.rules.language import MAX_DEPTH, MAX_RULE_BYTES, OPS, Spec, load_documents
from findings.sources import compile_custom
from inventory.models import Relationship, Resource

MAX_SOURCE_BYTES = MAX_RULE_BYTES
SAMPLE_SIZE = 20

# The editor's starting text: a working rule that shows the common shapes (a leaf, all, a tag path).
EXAMPLE_RULE = """\
# A custom rule, in the same language as the built-in catalog.
# Its id gets the prefix "custom-"; findings are keyed on it, so keep it stable.
id: ec2-running-without-owner
title: Running instance without an Owner tag
description: Every running instance names the team that owns it, so costs and incidents reach someone.
remediation:
  - Add an Owner tag with the responsible team's name.
severity: low            # critical | high | medium | low | info
category: hygiene        # security | cost | drift | hygiene
resource_types: [aws.ec2.instance]
condition:
  all:
    - {path: config.state, op: equals, value: running}
    - {path: tags.Owner, op: not_exists}
"""


def _error(problem: str, path: str) -> RuleError:
    return RuleError(problem, path=path, source="custom rule")


def parse_custom_rule(text: str, fmt: str = "yaml") -> tuple[dict[str, Any], Rule]:
    """The document and its compiled rule. ``RuleError`` (``.errors``: every problem, each with a path)
    for broken YAML/JSON, a text holding several rules, or a rule that does not compile."""
    text = text or ""
    if not text.strip():
        raise _error("the rule is empty: write one rule document (id, title, severity, ...)", "(document)")
    # Bytes, not characters: what the parser and the database hold (a 4-byte emoji counts 4).
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise _error(f"the rule is {size:,} bytes, over the limit of {MAX_SOURCE_BYTES:,}", "(document)")
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _error(f"line {exc.lineno}, column {exc.colno}: {exc.msg}", "(json)") from None
        except RecursionError:  # json nests by recursion: [[[[… 50,000 deep
            raise _error(f"the rule is nested deeper than {MAX_DEPTH} levels", "(json)") from None
        docs = [data] if isinstance(data, Mapping) else data
        if not isinstance(docs, list) or not all(isinstance(d, Mapping) for d in docs):
            raise _error("a rule is a JSON object of fields", "(document)")
    else:
        try:
            docs = load_documents(text, source="custom rule")
        except RuleError as exc:
            if "another document" in exc.problem:
                raise _error(
                    "this text holds several YAML documents (---): a custom rule is one rule; save each separately",
                    "(document)",
                ) from None
            raise
    if len(docs) != 1:
        raise _error(
            f"this text holds {len(docs)} rules: a custom rule is one rule; save each separately", "(document)"
        )
    document = dict(docs[0])
    rule = compile_custom(document)
    return document, rule


def error_list(exc: RuleError) -> list[dict[str, Any]]:
    """Every problem of a RuleError as {path, problem} dicts, for the editor."""
    return [{"path": e.path or "(document)", "problem": e.problem} for e in exc.errors]


# --- preview ----------------------------------------------------------------------------------------


@dataclass
class RulePreview(Preview):
    """The engine's Preview, plus the sample matches as rows the editor can show and link."""

    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """The editor's line, e.g. "matches 12 of 3,400 resources" (of the records of the rule's types)."""
        noun = "resource" if self.candidates == 1 else "resources"
        return f"matches {self.matched:,} of {self.candidates:,} {noun}"


def resource_url(org_slug: str, resource_id: int) -> str:
    """The resource's page (``dashboard:resource``)."""
    try:
        return reverse("dashboard:resource", kwargs={"org_slug": org_slug, "resource_id": resource_id})
    except NoReverseMatch:
        # The explorer's URL is the documented /o/<org>/resources/<id>/ even before it is registered.
        return f"/o/{org_slug}/resources/{resource_id}/"


def load_rule_index(org, types: Iterable[str], connection_ids: Iterable[int] | None = None) -> ResourceIndex:
    """The organization's records of ``types`` (dicts, not model instances) and the relationships among them."""
    types = sorted(set(types))
    resources = Resource.objects.for_org(org).filter(resource_type__in=types)
    relationships = Relationship.objects.for_org(org).filter(
        source__resource_type__in=types, target__resource_type__in=types
    )
    if connection_ids is not None:
        ids = list(connection_ids)
        resources = resources.filter(connection_id__in=ids)
        relationships = relationships.filter(connection_id__in=ids)
    records = (as_record(row) for row in resources.values_list(*RECORD_FIELDS).iterator(chunk_size=2000))
    rels = relationships.values_list("source_id", "target_id", "kind").iterator(chunk_size=5000)
    return ResourceIndex(records, rels)


def preview_rule(org, rule: Rule, connection_ids: Iterable[int] | None = None) -> RulePreview:
    """Count the rule's matches over the organization's current inventory (of those connections when
    given): ``matched`` of ``candidates`` (the records of the rule's types), with up to 20 samples."""
    index = load_rule_index(org, {*rule.resource_types, *rule.related_types}, connection_ids)
    result = preview(rule, index, sample=SAMPLE_SIZE)
    samples = []
    for rid in result.sample_ids:
        rec = index.by_id[rid]
        samples.append(
            {
                "id": rid,
                "name": rec.get("name") or rec["native_id"],
                "native_id": rec["native_id"],
                "resource_type": rec["resource_type"],
                "region": rec.get("region") or "",
                "url": resource_url(org.slug, rid),
            }
        )
    return RulePreview(
        matched=result.matched,
        candidates=result.candidates,
        total=result.total,
        errors=result.errors,
        sample_ids=result.sample_ids,
        error_samples=result.error_samples,
        samples=samples,
    )


# --- reference for the editor's side panel ----------------------------------------------------------


def operator_reference() -> list[tuple[str, str]]:
    """(op, what it means) for every operator of the language."""
    return [(name, op.doc.replace("`", "")) for name, op in OPS.items()]


def _spec_kind(spec: Spec) -> str:
    if spec.kind == "list" and spec.item is not None:
        return f"list of {'objects' if spec.item.kind == 'object' else spec.item.kind}"
    return spec.kind


def _spec_rows(spec: Spec, prefix: str, out: list[tuple[str, str, str]]) -> None:
    for key, sub in (spec.fields or {}).items():
        path = f"{prefix}{key}"
        out.append((path, _spec_kind(sub), sub.doc))
        if sub.kind == "object":
            _spec_rows(sub, f"{path}.", out)
        elif sub.kind == "list" and sub.item is not None and sub.item.kind == "object":
            _spec_rows(sub.item, f"{path}[].", out)


def field_reference() -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(resource type, [(path, kind, notes)]) for every type of the field schema: what rules may read."""
    out = []
    for rtype, spec in load_schema().types.items():
        rows: list[tuple[str, str, str]] = []
        _spec_rows(spec, "config.", rows)
        out.append((rtype, rows))
    return out
