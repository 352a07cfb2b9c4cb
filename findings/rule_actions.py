"""Changes to an organization's custom rules and policies: atomic, audit-logged, and followed by a
re-evaluation of every connection (``do_reevaluate_org``: queued once the transaction commits), so
findings open for a new or changed rule and resolve for a disabled or deleted one.

Shared by the views (``findings/views/rules.py``, ``policies.py``), commands and tests alike.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from cloustral import product_events
from findings.actions import do_reevaluate_org
from findings.models import CustomRule, OrgPolicy, Severity
from findings.rule_editor import parse_custom_rule
from findings.sources import compile_policy

A = AuditEvent.Action


class DuplicateRuleId(ValueError):
    """Another custom rule of the organization has this id (findings are keyed on it)."""

    def __init__(self, rule_id: str) -> None:
        self.rule_id = rule_id
        super().__init__(
            f"A custom rule with the id “{rule_id}” already exists in this organization: choose another id."
        )


def rule_id_taken(org, rule_id: str, exclude_pk: int | None = None) -> bool:
    qs = CustomRule.objects.for_org(org).filter(rule_id=rule_id)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _connections(org, connections: Iterable) -> list:
    """Only the organization's own connections, whatever the caller passed."""
    from connections.models import CloudConnection

    ids = [getattr(c, "pk", c) for c in connections or ()]
    return list(CloudConnection.objects.for_org(org).filter(pk__in=ids)) if ids else []


def _set_connections(custom: CustomRule, scope: list) -> None:
    """Replace the rule's connections. Through the M2M table directly: the related manager's query
    of CloudConnection carries no organization, which the fail-closed manager refuses."""
    through = CustomRule.connections.through
    through.objects.filter(customrule_id=custom.pk).delete()
    through.objects.bulk_create([through(customrule_id=custom.pk, cloudconnection_id=c.pk) for c in scope])


def _apply_source(custom: CustomRule, source: str, fmt: str) -> None:
    document, rule = parse_custom_rule(source, fmt)
    custom.source = source
    custom.format = fmt
    custom.document = document
    custom.rule_id = rule.id
    custom.title = rule.title[:300]
    custom.severity = rule.severity
    custom.category = rule.category


def do_create_custom_rule(
    org,
    *,
    user,
    source: str,
    fmt: str = CustomRule.Format.YAML,
    connections: Iterable = (),
    enabled: bool = True,
    request=None,
) -> CustomRule:
    """Parse, validate (RuleError) and save a member's rule; DuplicateRuleId when its id is taken."""
    now = timezone.now()
    custom = CustomRule(org=org, created_by=user, enabled=enabled, created_at=now, updated_at=now)
    _apply_source(custom, source, fmt)
    scope = _connections(org, connections)
    with transaction.atomic():
        if rule_id_taken(org, custom.rule_id):
            raise DuplicateRuleId(custom.rule_id)
        try:
            with transaction.atomic():
                custom.save()
        except IntegrityError:  # a concurrent save of the same id
            raise DuplicateRuleId(custom.rule_id) from None
        _set_connections(custom, scope)
        audit.record(
            A.RULE_CREATED,
            request=request,
            actor=user,
            org=org,
            target=custom.rule_id,
            enabled=enabled,
            connections=[c.pk for c in scope],
        )
        do_reevaluate_org(org)
    product_events.emit(request, "rule_created", kind="custom", severity=custom.severity)
    return custom


def do_update_custom_rule(
    custom: CustomRule,
    *,
    user,
    source: str,
    fmt: str,
    connections: Iterable = (),
    enabled: bool | None = None,
    request=None,
) -> CustomRule:
    org = custom.org
    previous_id = custom.rule_id
    _apply_source(custom, source, fmt)
    if enabled is not None:
        custom.enabled = enabled
    custom.updated_at = timezone.now()
    scope = _connections(org, connections)
    with transaction.atomic():
        if rule_id_taken(org, custom.rule_id, exclude_pk=custom.pk):
            raise DuplicateRuleId(custom.rule_id)
        try:
            with transaction.atomic():
                custom.save()
        except IntegrityError:
            raise DuplicateRuleId(custom.rule_id) from None
        _set_connections(custom, scope)
        metadata: dict[str, Any] = {"enabled": custom.enabled, "connections": [c.pk for c in scope]}
        if previous_id != custom.rule_id:
            # Findings of the old id resolve ("the rule was removed"); the new id opens its own.
            metadata["previous_id"] = previous_id
        audit.record(A.RULE_UPDATED, request=request, actor=user, org=org, target=custom.rule_id, **metadata)
        do_reevaluate_org(org)
    return custom


def do_set_custom_rule_enabled(custom: CustomRule, enabled: bool, *, user, request=None) -> bool:
    """Turn the rule on or off; False when it already was (nothing recorded)."""
    if custom.enabled == enabled:
        return False
    with transaction.atomic():
        custom.enabled = enabled
        custom.updated_at = timezone.now()
        custom.save(update_fields=["enabled", "updated_at"])
        audit.record(
            A.RULE_ENABLED if enabled else A.RULE_DISABLED,
            request=request,
            actor=user,
            org=custom.org,
            target=custom.rule_id,
        )
        do_reevaluate_org(custom.org)
    return True


def do_delete_custom_rule(custom: CustomRule, *, user, request=None) -> None:
    org = custom.org
    with transaction.atomic():
        rule_id = custom.rule_id
        custom.delete()
        audit.record(A.RULE_DELETED, request=request, actor=user, org=org, target=rule_id)
        do_reevaluate_org(org)


# --- policies ---------------------------------------------------------------------------------------

POLICY_FIELDS = ("name", "kind", "resource_types", "values", "severity", "enabled")


def _check_policy(policy: OrgPolicy) -> None:
    """The policy must become a valid rule (RuleError otherwise), as the engine will compile it."""
    if policy.pk is None:
        # policy_document names the rule after the pk; a new policy compiles the same way under any id.
        policy = copy.copy(policy)
        policy.pk = 0
    compile_policy(policy)


def do_create_policy(
    org,
    *,
    user,
    name: str,
    kind: str,
    values: list[str],
    resource_types: list[str] | None = None,
    severity: str = Severity.MEDIUM,
    enabled: bool = True,
    request=None,
) -> OrgPolicy:
    now = timezone.now()
    policy = OrgPolicy(
        org=org,
        name=name,
        kind=kind,
        resource_types=list(resource_types or []),
        values=list(values),
        severity=severity,
        enabled=enabled,
        created_by=user,
        created_at=now,
        updated_at=now,
    )
    _check_policy(policy)
    with transaction.atomic():
        policy.save()
        audit.record(
            A.POLICY_CREATED,
            request=request,
            actor=user,
            org=org,
            target=policy.name,
            kind=policy.kind,
            values=policy.values,
            resource_types=policy.resource_types,
            enabled=enabled,
        )
        do_reevaluate_org(org)
    product_events.emit(request, "rule_created", kind="policy", policy_kind=policy.kind, severity=policy.severity)
    return policy


def do_update_policy(policy: OrgPolicy, *, user, request=None, **changes: Any) -> list[str]:
    """Apply ``changes`` (any of name, kind, resource_types, values, severity, enabled); the fields
    that changed (nothing recorded or re-evaluated when none)."""
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"unknown policy fields: {', '.join(sorted(unknown))}")
    changed = [f for f, v in changes.items() if getattr(policy, f) != v]
    if not changed:
        return []
    for f in changed:
        setattr(policy, f, list(changes[f]) if f in ("values", "resource_types") else changes[f])
    _check_policy(policy)
    policy.updated_at = timezone.now()
    with transaction.atomic():
        policy.save(update_fields=[*changed, "updated_at"])
        audit.record(
            A.POLICY_UPDATED,
            request=request,
            actor=user,
            org=policy.org,
            target=policy.name,
            changed=changed,
            **{f: getattr(policy, f) for f in changed if f != "name"},
        )
        do_reevaluate_org(policy.org)
    return changed


def do_set_policy_enabled(policy: OrgPolicy, enabled: bool, *, user, request=None) -> bool:
    """Turn the policy on or off (audited as an edit: there is no separate action); False when unchanged."""
    return bool(do_update_policy(policy, user=user, request=request, enabled=enabled))


def do_delete_policy(policy: OrgPolicy, *, user, request=None) -> None:
    org = policy.org
    with transaction.atomic():
        name, kind, pk = policy.name, policy.kind, policy.pk
        policy.delete()
        audit.record(A.POLICY_DELETED, request=request, actor=user, org=org, target=name, kind=kind, policy_id=pk)
        do_reevaluate_org(org)
