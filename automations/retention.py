"""What billing's plans prune of the automations' history (registered in ``AutomationsConfig.ready``):
deliveries, the provider's events and runs older than the plan's history, except each automation's latest
run (the next summary starts where it ended)."""

from __future__ import annotations

from django.db.models import F, Max, OuterRef, Subquery

from automations.models import AutomationRun, Delivery, EmailEvent


def old_email_events(org, cutoff):
    return EmailEvent.objects.filter(org=org, received_at__lt=cutoff)


def old_deliveries(org, cutoff):
    return Delivery.objects.for_org(org).filter(created_at__lt=cutoff)


def old_runs(org, cutoff):
    latest = (
        AutomationRun.objects.for_org(org)
        .filter(automation=OuterRef("automation"))
        .order_by()
        .values("automation")
        .annotate(latest=Max("id"))
        .values("latest")[:1]
    )
    return (
        AutomationRun.objects.for_org(org)
        .filter(created_at__lt=cutoff)
        .annotate(latest=Subquery(latest))
        .exclude(pk=F("latest"))
    )


def register() -> None:
    from billing.retention import register_prunable

    register_prunable("automations.EmailEvent", old_email_events, order=4)
    register_prunable("automations.Delivery", old_deliveries, order=5)
    register_prunable("automations.AutomationRun", old_runs, order=6)
