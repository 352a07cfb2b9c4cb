"""Changes to findings, shared by views, tasks and commands: atomic, audit-logged.

- ``evaluate_after_sync(run)``: the inventory hook (findings follow every sync that wrote inventory).
- ``do_reevaluate_org(org)``: after a rule, policy or baseline change, every connection is evaluated
  again (queued on Celery: eager in development, a worker in production).
- ``do_suppress`` / ``do_unsuppress``: a member's decision about one finding, with a reason and an
  optional expiry.
- ``do_approve_baseline`` / ``do_remove_baseline``: approve the current configuration of resources.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from findings.models import Baseline, Finding, FindingEvent
from orgs.models import Organization

logger = logging.getLogger(__name__)
A = AuditEvent.Action


def evaluate_after_sync(run) -> None:
    from findings import lifecycle

    if Organization.objects.filter(pk=run.org_id, processing_paused_at__isnull=False).exists():
        return  # an owner paused the organization's processing (privacy app) since the scan started
    # Only what the sync changed is evaluated again (findings/incremental.py), when that is sound.
    lifecycle.evaluate_connection(run.connection, delta=getattr(run, "inventory_delta", None))


def do_reevaluate_org(org, *, connection_ids: Iterable[int] | None = None) -> int:
    """Queue an evaluation of each of the organization's connections (or those given), once the
    current transaction commits. Returns how many were queued."""
    from connections.models import CloudConnection
    from findings.tasks import evaluate_connection

    ids = list(
        CloudConnection.objects.for_org(org)
        .filter(**({"pk__in": list(connection_ids)} if connection_ids is not None else {}))
        .values_list("pk", flat=True)
    )
    for pk in ids:
        transaction.on_commit(lambda pk=pk: evaluate_connection.delay(pk))
    return len(ids)


class SuppressionError(ValueError):
    """The suppression cannot be made; the message says why, for the person who asked."""


def do_suppress(finding: Finding, *, user, reason: str, until: datetime | None = None, request=None) -> Finding:
    reason = (reason or "").strip()
    if not reason:
        raise SuppressionError("Say why this finding is suppressed: the reason is kept in the audit log.")
    if until is not None and until <= timezone.now():
        raise SuppressionError("The expiry must be in the future.")
    if finding.status == Finding.Status.RESOLVED:
        raise SuppressionError("This finding is resolved: there is nothing to suppress.")
    with transaction.atomic():
        finding.status = Finding.Status.SUPPRESSED
        finding.suppressed_reason = reason[:2000]
        finding.suppressed_until = until
        finding.suppressed_by = user
        finding.suppressed_at = timezone.now()
        finding.suppression_rule = None  # a person's own decision, not an acceptance by scope
        finding.save(
            update_fields=[
                "status",
                "suppressed_reason",
                "suppressed_until",
                "suppressed_by",
                "suppressed_at",
                "suppression_rule",
            ]
        )
        FindingEvent.objects.create(
            org_id=finding.org_id, finding=finding, kind=FindingEvent.Kind.SUPPRESSED, actor=user, note=reason[:2000]
        )
        audit.record(
            A.FINDING_SUPPRESSED,
            request=request,
            actor=user,
            org=finding.org,
            target=f"{finding.rule_id} on {finding.native_id}",
            reason=reason[:500],
            until=until.isoformat() if until else None,
        )
        _recount(finding)
    return finding


def do_unsuppress(finding: Finding, *, user, request=None) -> Finding:
    if finding.status != Finding.Status.SUPPRESSED:
        raise SuppressionError("This finding is not suppressed.")
    with transaction.atomic():
        finding.status = Finding.Status.OPEN
        finding.suppressed_reason = ""
        finding.suppressed_until = None
        finding.suppressed_by = None
        finding.suppressed_at = None
        finding.suppression_rule = None
        finding.save(
            update_fields=[
                "status",
                "suppressed_reason",
                "suppressed_until",
                "suppressed_by",
                "suppressed_at",
                "suppression_rule",
            ]
        )
        FindingEvent.objects.create(
            org_id=finding.org_id, finding=finding, kind=FindingEvent.Kind.UNSUPPRESSED, actor=user
        )
        audit.record(
            A.FINDING_UNSUPPRESSED,
            request=request,
            actor=user,
            org=finding.org,
            target=f"{finding.rule_id} on {finding.native_id}",
        )
        _recount(finding)
    return finding


def _recount(finding: Finding) -> None:
    """Compliance verdicts and today's trend point follow the decision at once (findings/bulk.py)."""
    from findings.bulk import recount

    recount(finding.org, [(finding.connection_id, finding.rule_id)])


def do_approve_baseline(resources: Iterable, *, user, request=None, org) -> int:
    """Approve the current configuration and tags of each resource as its baseline (replacing an
    earlier one), then re-evaluate so drift findings on them resolve. Returns how many."""
    from findings.sources import baseline_state

    resources = list(resources)
    if not resources:
        return 0
    now = timezone.now()
    with transaction.atomic():
        existing = {
            b.resource_id: b for b in Baseline.objects.for_org(org).filter(resource__in=[r.pk for r in resources])
        }
        new, changed = [], []
        for resource in resources:
            baseline = existing.get(resource.pk)
            if baseline is None:
                new.append(
                    Baseline(
                        org=org,
                        connection_id=resource.connection_id,
                        resource=resource,
                        approved=baseline_state(resource),
                        approved_by=user,
                        approved_at=now,
                    )
                )
            else:
                baseline.approved = baseline_state(resource)
                baseline.approved_by = user
                baseline.approved_at = now
                changed.append(baseline)
        Baseline.objects.bulk_create(new, batch_size=1000)
        Baseline.objects.for_org(org).bulk_update(changed, ["approved", "approved_by", "approved_at"], batch_size=1000)
        connection_ids = {r.connection_id for r in resources}
        audit.record(
            A.BASELINE_APPROVED,
            request=request,
            actor=user,
            org=org,
            target=resources[0].native_id if len(resources) == 1 else f"{len(resources)} resources",
            resources=len(resources),
        )
        do_reevaluate_org(org, connection_ids=connection_ids)
    return len(resources)


def do_remove_baseline(baseline: Baseline, *, user, request=None) -> None:
    org = baseline.org
    with transaction.atomic():
        target = baseline.resource.native_id
        connection_id = baseline.connection_id
        baseline.delete()
        audit.record(A.BASELINE_REMOVED, request=request, actor=user, org=org, target=target)
        do_reevaluate_org(org, connection_ids=[connection_id])
