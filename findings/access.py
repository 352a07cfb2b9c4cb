"""Findings, custom rules, policies and baselines of the current organization, by id (404 for another
organization's, 403 for a role that may not act): ARCHITECTURE.md convention 2."""

from __future__ import annotations

from django.http import HttpRequest

from findings.models import Baseline, CustomRule, Finding, OrgPolicy
from orgs.access import get_for_member
from orgs.roles import Capability


def get_finding_for_member(request: HttpRequest, finding_id: int, capability: str = Capability.VIEW) -> Finding:
    return get_for_member(
        request,
        Finding.objects.select_related("org", "connection", "resource", "suppressed_by"),
        capability,
        pk=finding_id,
    )


def get_custom_rule_for_member(
    request: HttpRequest, custom_rule_id: int, capability: str = Capability.VIEW
) -> CustomRule:
    return get_for_member(request, CustomRule.objects.select_related("org"), capability, pk=custom_rule_id)


def get_policy_for_member(request: HttpRequest, policy_id: int, capability: str = Capability.VIEW) -> OrgPolicy:
    return get_for_member(request, OrgPolicy.objects.select_related("org"), capability, pk=policy_id)


def get_baseline_for_member(request: HttpRequest, baseline_id: int, capability: str = Capability.VIEW) -> Baseline:
    return get_for_member(
        request, Baseline.objects.select_related("org", "resource", "connection"), capability, pk=baseline_id
    )
