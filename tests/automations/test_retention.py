"""Billing's plans prune the automations' history like the rest: deliveries, provider events and runs
older than the plan keeps, except each automation's latest run (the next summary starts where it ended)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automations.models import AutomationRun, Delivery, EmailEvent
from billing.retention import prune_org
from tests.automations.conftest import make_automation

pytestmark = pytest.mark.django_db


def test_old_history_goes_and_the_latest_run_stays(org, owner):
    long_ago = timezone.now() - timedelta(days=400)
    first = make_automation(org, owner, name="First")
    second = make_automation(org, owner, name="Second")
    old = AutomationRun.objects.for_org(org).create(automation=first, key="old", created_at=long_ago)
    recent = AutomationRun.objects.for_org(org).create(automation=first, key="recent")
    only = AutomationRun.objects.for_org(org).create(automation=second, key="only", created_at=long_ago)
    stale = Delivery.objects.for_org(org).create(kind="email", recipient="a@example.com", created_at=long_ago)
    fresh = Delivery.objects.for_org(org).create(kind="email", recipient="b@example.com")
    EmailEvent.objects.create(org=org, address="a@example.com", event_type="bounced", received_at=long_ago)

    counts = prune_org(org)

    assert counts["automations.AutomationRun"] == 1 and counts["automations.Delivery"] == 1
    assert set(AutomationRun.objects.for_org(org).values_list("pk", flat=True)) == {recent.pk, only.pk}
    assert old.pk not in set(AutomationRun.objects.for_org(org).values_list("pk", flat=True))
    assert list(Delivery.objects.for_org(org).values_list("pk", flat=True)) == [fresh.pk]
    assert not Delivery.objects.for_org(org).filter(pk=stale.pk).exists()
    assert not EmailEvent.objects.exists()
