"""Open findings counted when they change, not when a page is shown.

A million-resource organization has hundreds of thousands of open findings: counting them on every
dashboard or findings-list request costs seconds. Instead each writer of a finding's status (an
evaluation, a suppression or its lifting, an expiry) recounts the (connection, rule) pairs it touched
into ``OpenFindingCount`` rows, in its own transaction, and the pages read those few rows.

- ``recount(org_id, connection_id, rule_ids=None)``: recompute a connection's rows (every rule, or the
  rules named) from the findings themselves.
- ``rows(org)``: the organization's rows, for the headline numbers and the grouped list.
- ``open_by_rule(org, rule_ids)``: open findings per rule, for the rule pages and the API.
- ``by_severity_category(org_id, connection_id)``: a connection's open findings per (severity, category),
  the trend charts' daily point.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db.models import Count, Max, QuerySet, Sum

from findings.models import Finding, OpenFindingCount


def recount(org_id: int, connection_id: int, rule_ids: Iterable[str] | None = None) -> None:
    """Replace the connection's counts (of ``rule_ids`` only, when given) with a grouped count of its
    open findings. Run it in the transaction that changed them: a reader never sees half of it."""
    findings = Finding.objects.for_org(org_id).filter(connection_id=connection_id, status=Finding.Status.OPEN)
    counts = OpenFindingCount.objects.for_org(org_id).filter(connection_id=connection_id)
    if rule_ids is not None:
        rule_ids = sorted(set(rule_ids))
        if not rule_ids:
            return
        findings = findings.filter(rule_id__in=rule_ids)
        counts = counts.filter(rule_id__in=rule_ids)
    grouped = (
        findings.values_list("rule_id", "severity", "category")
        .annotate(n=Count("*"), usd=Sum("monthly_usd"), title=Max("title"))
        .order_by()
    )
    counts.delete()
    OpenFindingCount.objects.bulk_create(
        [
            OpenFindingCount(
                org_id=org_id,
                connection_id=connection_id,
                rule_id=rule_id,
                title=title,
                severity=severity,
                category=category,
                count=n,
                monthly_usd=usd,
            )
            for rule_id, severity, category, n, usd, title in grouped
        ],
        batch_size=1000,
    )


def rows(org) -> QuerySet[OpenFindingCount]:
    return OpenFindingCount.objects.for_org(org).order_by()


def open_by_rule(org, rule_ids: Iterable[str]) -> dict[str, int]:
    grouped = rows(org).filter(rule_id__in=list(rule_ids)).values_list("rule_id").annotate(n=Sum("count"))
    return dict(grouped)


def by_severity_category(org_id: int, connection_id: int) -> Counter[tuple[str, str]]:
    grouped = (
        OpenFindingCount.objects.for_org(org_id)
        .filter(connection_id=connection_id)
        .values_list("severity", "category")
        .annotate(n=Sum("count"))
        .order_by()
    )
    return Counter({(severity, category): n for severity, category, n in grouped})
