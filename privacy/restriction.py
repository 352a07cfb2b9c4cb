"""Restriction of processing: an owner pauses everything Cloustral does with an organization's cloud
data on its own (scans, scheduled or asked for; rule evaluations; automations) until they resume.

The flag is ``Organization.processing_paused_at``; each processing path checks it where it starts
(inventory.actions.check_can_sync and due_connections, findings.tasks.evaluate_connection and the
after-sync hook, the automations engine). Pausing also cancels scans already queued or running.
Reading what is already there (inventory, findings, exports) stays possible.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from inventory import actions as inventory_actions
from inventory.models import SyncRun
from orgs.models import Membership, Organization
from orgs.roles import Capability

A = AuditEvent.Action


class RestrictionError(Exception):
    pass


def _require_owner(membership: Membership) -> None:
    if not membership.can(Capability.DELETE_ORG):
        raise RestrictionError("Only an owner can pause or resume the organization's processing.")


def do_pause_processing(membership: Membership, *, request: HttpRequest | None = None) -> bool:
    """Pause. Returns False if it already was. Active scans are cancelled (they write nothing)."""
    _require_owner(membership)
    org = membership.org
    with transaction.atomic():
        paused = Organization.objects.filter(pk=org.pk, processing_paused_at__isnull=True).update(
            processing_paused_at=timezone.now()
        )
        if not paused:
            return False
        runs = list(SyncRun.objects.for_org(org).filter(status__in=SyncRun.ACTIVE))
        audit.record(
            A.ORG_PROCESSING_PAUSED,
            request=request,
            actor=membership.user,
            org=org,
            target=org.name,
            scans_cancelled=len(runs),
        )
    for run in runs:
        inventory_actions.do_request_cancel(run, user=membership.user)
    org.refresh_from_db(fields=["processing_paused_at"])
    return True


def do_resume_processing(membership: Membership, *, request: HttpRequest | None = None) -> bool:
    """Resume. Returns False if processing was not paused. Scheduled scans pick up at their next slot."""
    _require_owner(membership)
    org = membership.org
    with transaction.atomic():
        resumed = Organization.objects.filter(pk=org.pk, processing_paused_at__isnull=False).update(
            processing_paused_at=None
        )
        if not resumed:
            return False
        audit.record(A.ORG_PROCESSING_RESUMED, request=request, actor=membership.user, org=org, target=org.name)
    org.refresh_from_db(fields=["processing_paused_at"])
    return True
