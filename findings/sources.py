"""Every rule an organization's connections are evaluated against, from the four places rules come from:

- the built-in catalog (``findings/rules/<provider>/*.yaml``);
- the organization's custom rules (``CustomRule``: a document in the same language, scoped to connections);
- its policies (``OrgPolicy``: each turned into a rule document here, so a deviation explains itself like
  any other finding);
- baselines (``Baseline``): not a condition over one record but a comparison with an approved state,
  computed by ``baseline_drift``.

``org_rules(org)`` returns them as ``OrgRule``s: the compiled rule, where it came from, and the
connections it is limited to. A custom rule or a policy that no longer compiles (the field schema
changed under it) is reported, never fatal: the other rules still run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch

from connections.models import CloudConnection
from findings.models import Baseline, CustomRule, OrgPolicy, RuleSource
from findings.rules import Rule, RuleError, compile_rule
from findings.rules.catalog import builtin_catalog, load_schema
from inventory.diff import resource_diff

logger = logging.getLogger(__name__)

BASELINE_RULE_ID = "baseline-drift"
BASELINE_TITLE = "Configuration drifted from its approved baseline"
CUSTOM_PREFIX = "custom-"
POLICY_PREFIX = "policy-"

# Where each provider keeps an instance's size, for "allowed sizes" policies.
SIZE_FIELDS: dict[str, str] = {
    "aws.ec2.instance": "config.instance_type",
    "azure.compute.vm": "config.vm_size",
}


@dataclass(frozen=True)
class OrgRule:
    rule: Rule
    source: str  # RuleSource
    connection_ids: frozenset[int] | None = None  # None: every connection

    @property
    def id(self) -> str:
        return self.rule.id


# --- custom rules -----------------------------------------------------------------------------------


def compile_custom(document: Mapping[str, Any]) -> Rule:
    """Compile a member's rule document the way the catalog is compiled (checked against the field
    schema); ``RuleError`` when broken, with the path and the problem. Ids must not shadow built-in
    rules, so a custom rule's id is always prefixed."""
    doc = dict(document)
    raw_id = str(doc.get("id") or "")
    if raw_id and not raw_id.startswith(CUSTOM_PREFIX):
        doc["id"] = CUSTOM_PREFIX + raw_id
    if doc.get("id") in builtin_catalog():
        raise RuleError("this id belongs to a built-in rule: choose another", rule_id=doc["id"], path="id")
    return compile_rule(doc, schema=load_schema())


# --- policies ---------------------------------------------------------------------------------------


def tagged_types(provider: str | None = None) -> list[str]:
    from inventory.collectors.base import collectors_for

    providers = [provider] if provider else ["aws", "azure"]
    return sorted(c.full_type for p in providers for c in collectors_for(p) if c.full_type not in DUPLICATE_TYPES)


def regional_types(provider: str | None = None) -> list[str]:
    """Types whose records carry a meaningful region (global services such as IAM are excluded)."""
    from inventory.collectors.base import collectors_for

    providers = [provider] if provider else ["aws", "azure"]
    out = []
    for p in providers:
        for c in collectors_for(p):
            # Azure collectors are subscription-wide but each record carries its location.
            if c.regional or p == "azure":
                out.append(c.full_type)
    return sorted(t for t in out if t not in NON_REGIONAL_TYPES | DUPLICATE_TYPES)


# Types whose "region" is not a place a workload runs (a resource group's location is metadata only).
NON_REGIONAL_TYPES = frozenset({"azure.resource.resource_group"})
# Azure's generic resource list repeats every detailed type: a default policy skips it, or each
# deviation would be reported twice. A policy that names it explicitly still covers it.
DUPLICATE_TYPES = frozenset({"azure.resource.generic"})


def policy_document(policy: OrgPolicy) -> dict[str, Any]:
    """The rule document a policy stands for. Its condition matches the deviations."""
    K = OrgPolicy.Kind
    values = [str(v) for v in policy.values or []]
    types = list(policy.resource_types or [])
    if policy.kind == K.REQUIRED_TAGS:
        types = types or tagged_types()
        condition: dict[str, Any] = {"any": [{"path": ["tags", key], "op": "not_exists"} for key in values]}
        title = f"Missing required tag{'s' if len(values) > 1 else ''}: {', '.join(values)}"
        remediation = [f"Tag the resource with {', '.join(values)} (policy “{policy.name}”)."]
    elif policy.kind == K.ALLOWED_REGIONS:
        types = types or regional_types()
        condition = {"path": "region", "op": "not_in", "value": values}
        title = "Resource outside the allowed regions"
        remediation = [f"Move or remove the resource: policy “{policy.name}” allows {', '.join(values)}."]
    elif policy.kind == K.ALLOWED_SIZES:
        types = [t for t in (types or list(SIZE_FIELDS)) if t in SIZE_FIELDS]
        # One rule, several types: each branch reads its own type's size field.
        condition = {
            "any": [
                {
                    "all": [
                        {"path": "resource_type", "op": "equals", "value": t},
                        {"path": SIZE_FIELDS[t], "op": "not_in", "value": values},
                    ]
                }
                for t in types
            ]
        }
        title = "Instance size not allowed by policy"
        remediation = [f"Resize to one of {', '.join(values)} (policy “{policy.name}”)."]
    else:
        raise RuleError(f"unknown policy kind {policy.kind!r}", path="kind")
    return {
        "id": f"{POLICY_PREFIX}{policy.pk}",
        "title": title,
        "description": f"Organization policy “{policy.name}”.",
        "remediation": remediation,
        "severity": policy.severity,
        "category": "drift",
        "resource_types": types,
        "condition": condition,
    }


def compile_policy(policy: OrgPolicy) -> Rule:
    # No schema: a policy's paths are ours (tags, region, SIZE_FIELDS), and one condition may read
    # a field that only some of its types have.
    return compile_rule(policy_document(policy))


# --- everything, for an organization ---------------------------------------------------------------


def org_rules(org, providers: Iterable[str] | None = None) -> tuple[list[OrgRule], list[tuple[str, str]]]:
    """(rules, problems): every enabled rule of the organization for these providers (all when None),
    and (rule id, message) for each custom rule or policy that does not compile."""
    wanted = set(providers) if providers is not None else None
    out: list[OrgRule] = []
    problems: list[tuple[str, str]] = []

    def keep(rule: Rule) -> bool:
        return wanted is None or bool(set(rule.providers) & wanted)

    out.extend(OrgRule(rule, RuleSource.BUILTIN) for rule in builtin_catalog() if keep(rule))
    scoped_connections = Prefetch("connections", queryset=CloudConnection.objects.for_org(org))
    for custom in CustomRule.objects.for_org(org).filter(enabled=True).prefetch_related(scoped_connections):
        try:
            rule = compile_custom(custom.document)
        except RuleError as exc:
            problems.append((custom.rule_id, str(exc)))
            continue
        scope = frozenset(c.pk for c in custom.connections.all()) or None
        if keep(rule):
            out.append(OrgRule(rule, RuleSource.CUSTOM, scope))
    for policy in OrgPolicy.objects.for_org(org).filter(enabled=True):
        try:
            rule = compile_policy(policy)
        except RuleError as exc:
            problems.append((policy.rule_id, str(exc)))
            continue
        if keep(rule):
            out.append(OrgRule(rule, RuleSource.POLICY))
    for rule_id, message in problems:
        logger.warning("rule %s of org %s does not compile: %s", rule_id, org.pk, message)
    return out, problems


# --- baselines --------------------------------------------------------------------------------------


def baseline_state(resource) -> dict[str, Any]:
    """What a baseline approves: the resource's configuration and tags."""
    return {"config": resource.config or {}, "tags": resource.tags or {}}


def baseline_drift(connection, records_by_id: Mapping[Any, Mapping[str, Any]]) -> dict[Any, dict[str, Any]]:
    """{resource id: {"diff": {path: {old, new}}}} for each baselined resource of the connection whose
    approved configuration or tags changed."""
    out: dict[Any, dict[str, Any]] = {}
    baselines = (
        Baseline.objects.for_org(connection.org_id).filter(connection=connection).values_list("resource_id", "approved")
    )
    for resource_id, approved in baselines:
        record = records_by_id.get(resource_id)
        if record is None:
            continue
        current = {"config": record.get("config") or {}, "tags": record.get("tags") or {}}
        diff = resource_diff(approved or {}, current)
        if diff:
            out[resource_id] = {"diff": diff}
    return out
