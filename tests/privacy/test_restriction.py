"""Restriction of processing: an owner pauses an organization (no scheduled scan, no "Scan now", no
rule evaluation; scans under way are cancelled) and resumes it; both are audit-logged."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from findings import tasks as findings_tasks
from findings.actions import evaluate_after_sync
from inventory import actions as inventory_actions
from inventory.models import SyncRun
from orgs.models import Membership
from orgs.roles import Role
from privacy import restriction
from tests.factories import CloudConnectionFactory, SyncRunFactory


@pytest.fixture
def connection(org):
    return CloudConnectionFactory(org=org, name="Prod", scan_frequency="hourly")


def _pause(client):
    return client.post(reverse("privacy:org_pause", args=["acme-cloud"]))


def test_owner_pauses_and_resumes(client_for, owner, org, sudo):
    c = client_for(owner)
    response = _pause(c)
    assert response.status_code == 302 and response["Location"] == reverse("privacy:org", args=[org.slug])
    org.refresh_from_db()
    assert org.processing_paused
    page = c.get(reverse("privacy:org", args=[org.slug])).content.decode()
    assert 'data-testid="processing-paused"' in page and "Resume processing" in page
    assert AuditEvent.objects.filter(org=org, action="org_processing_paused", actor=owner).exists()

    assert c.post(reverse("privacy:org_resume", args=[org.slug])).status_code == 302
    org.refresh_from_db()
    assert not org.processing_paused
    assert AuditEvent.objects.filter(org=org, action="org_processing_resumed", actor=owner).exists()


def test_pausing_twice_and_resuming_twice_say_so(owner, org):
    membership = Membership.objects.for_org(org).get(user=owner)
    assert restriction.do_pause_processing(membership) is True
    assert restriction.do_pause_processing(membership) is False
    assert restriction.do_resume_processing(membership) is True
    assert restriction.do_resume_processing(membership) is False
    assert AuditEvent.objects.filter(org=org, action="org_processing_paused").count() == 1


def test_pause_asks_for_a_fresh_proof(client_for, owner, org):
    response = _pause(client_for(owner))
    assert response.status_code == 302 and reverse("sudo_confirm") in response["Location"]
    org.refresh_from_db()
    assert not org.processing_paused


@pytest.mark.parametrize("member_role", [Role.ADMIN, Role.MEMBER, Role.VIEWER])
def test_only_owners_pause(client_for, member, org, sudo):
    assert _pause(client_for(member)).status_code == 403
    org.refresh_from_db()
    assert not org.processing_paused
    with pytest.raises(restriction.RestrictionError):
        restriction.do_pause_processing(Membership.objects.for_org(org).get(user=member))


def test_scheduled_scans_skip_a_paused_org(owner, org, connection, outsider):
    other = CloudConnectionFactory(org=outsider.org, name="Other", scan_frequency="hourly")
    restriction.do_pause_processing(Membership.objects.for_org(org).get(user=owner))
    assert [c.pk for c in inventory_actions.due_connections()] == [other.pk]
    started = inventory_actions.enqueue_due_syncs()
    assert [r.connection_id for r in started] == [other.pk]
    assert not SyncRun.objects.for_org(org).exists()


def test_scan_now_is_refused_with_a_clear_message(client_for, owner, org, connection, sudo):
    restriction.do_pause_processing(Membership.objects.for_org(org).get(user=owner))
    c = client_for(owner)
    response = c.post(reverse("inventory:scan_now", args=[org.slug, connection.pk]), follow=True)
    assert b"Processing of this organization is paused" in response.content
    assert not SyncRun.objects.for_org(org).exists()
    with pytest.raises(inventory_actions.SyncNotAllowed, match="paused"):
        inventory_actions.do_start_sync(connection)


def test_pausing_cancels_scans_under_way(owner, org, connection):
    queued = SyncRunFactory(connection=connection, status="queued", finished_at=None)
    restriction.do_pause_processing(Membership.objects.for_org(org).get(user=owner))
    queued.refresh_from_db()
    assert queued.status == "cancelled"


def test_rule_evaluation_is_skipped_while_paused(owner, org, connection, monkeypatch):
    calls = []
    monkeypatch.setattr("findings.lifecycle.evaluate_connection", lambda conn, **kw: calls.append(conn.pk))
    restriction.do_pause_processing(Membership.objects.for_org(org).get(user=owner))
    assert findings_tasks.evaluate_connection(connection.pk) == "paused"
    evaluate_after_sync(SyncRunFactory(connection=connection))
    assert calls == []
    restriction.do_resume_processing(Membership.objects.for_org(org).get(user=owner))
    evaluate_after_sync(SyncRunFactory(connection=connection))
    assert calls == [connection.pk]


def test_reading_and_exporting_stay_possible_while_paused(client_for, owner, org, connection):
    restriction.do_pause_processing(Membership.objects.for_org(org).get(user=owner))
    c = client_for(owner)
    assert c.get(reverse("dashboard:home", args=[org.slug])).status_code == 200
    assert c.get(reverse("findings:export", args=[org.slug, "csv"])).status_code == 200
