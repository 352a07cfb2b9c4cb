"""Each limit where its action happens, at its edge: adding a connection, choosing a scan frequency,
inviting a member, a sync over the resource limit. Refused: a clear message naming the limit with a
link to the plan page, never a 500, and nothing lost."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from billing.models import BillingAccount
from billing.plans import TEAM
from connections import actions as connection_actions
from connections.models import CloudConnection
from connections.providers.base import CheckResult
from inventory.models import Resource, SyncRun
from orgs.actions import OrgActionError, do_invite, do_resend_invitation
from orgs.models import Invitation, Membership
from tests.conftest import PASSWORD
from tests.factories import InvitationFactory, MembershipFactory
from tests.inventory import sync_helpers as helpers

pytestmark = pytest.mark.usefixtures("enforce_limits")
aws, cloud, connection = helpers.aws, helpers.cloud, helpers.connection


def sudo(user) -> Client:
    c = Client()
    c.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    return c


def plan_link(org) -> str:
    return f'href="/o/{org.slug}/billing/"'


# --- connections -------------------------------------------------------------------------------


@pytest.fixture
def passing_check(monkeypatch):
    monkeypatch.setattr(
        connection_actions, "run_check", lambda conn: CheckResult(account_id="123456789012", regions=["eu-west-1"])
    )


def _keys_form(name: str) -> dict:
    return {"name": name, "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "s" * 40}


def test_adding_a_connection_at_and_over_the_limit(org, owner, tiny_free_plan, passing_check):
    c = sudo(owner)
    create = reverse("connections:create", args=[org.slug, "aws-keys"])
    helpers.make_connection(org, name="First")
    response = c.post(create, _keys_form("Second"))  # 1 + 1 = 2: at the limit
    assert response.status_code == 302
    assert CloudConnection.objects.for_org(org).count() == 2

    response = c.post(create, _keys_form("Third"))  # one over
    assert response.status_code == 200
    page = response.content.decode()
    assert "connections limit" in page and "The Free plan allows 2 cloud connections" in page
    assert plan_link(org) in page
    assert 'value="Third"' in page  # the form comes back filled in: nothing typed is lost
    assert CloudConnection.objects.for_org(org).count() == 2


def test_over_the_limit_no_cloud_call_is_made(org, owner, tiny_free_plan, monkeypatch):
    helpers.make_connection(org, name="A")
    helpers.make_connection(org, name="B")
    called = []
    monkeypatch.setattr(connection_actions, "run_check", lambda conn: called.append(conn))
    conn = connection_actions.build_connection(org, CloudConnection.AuthMethod.AWS_KEYS, _keys_form("C"))
    request = type("R", (), {"user": owner})()
    with pytest.raises(Exception) as refused:
        connection_actions.do_create_connection(request, conn)
    assert type(refused.value).__name__ == "LimitReached" and called == []


# --- scan frequency -------------------------------------------------------------------------------


def test_choosing_a_scan_frequency_at_and_over_the_plan(org, owner):
    conn = helpers.make_connection(org, scan_frequency="manual")
    c = sudo(owner)
    url = reverse("connections:schedule", args=[org.slug, conn.pk])
    response = c.post(url, {"scan_frequency": "daily"}, follow=True)  # Free's fastest
    conn.refresh_from_db()
    assert conn.scan_frequency == "daily"

    response = c.post(url, {"scan_frequency": "6h"}, follow=True)  # faster than Free scans
    assert response.status_code == 200
    page = response.content.decode()
    assert "scan frequency limit" in page and "The Team plan allows it" in page and plan_link(org) in page
    conn.refresh_from_db()
    assert conn.scan_frequency == "daily"

    BillingAccount.objects.create(org=org, plan=TEAM, status="active", stripe_subscription_id="sub_x")
    c.post(url, {"scan_frequency": "6h"})
    conn.refresh_from_db()
    assert conn.scan_frequency == "6h"
    c.post(url, {"scan_frequency": "hourly"})
    conn.refresh_from_db()
    assert conn.scan_frequency == "6h"


# --- members ----------------------------------------------------------------------------------


def test_inviting_at_and_over_the_member_limit(org, owner, tiny_free_plan):
    actor = Membership.objects.for_org(org).get(user=owner)
    MembershipFactory(org=org)  # 2 members
    do_invite(actor, "third@example.com", "member")  # the third seat: at the limit
    mail.outbox.clear()
    with pytest.raises(OrgActionError) as refused:
        do_invite(actor, "fourth@example.com", "member")
    assert refused.value.code == "plan_limit" and "members limit" in refused.value.message
    assert not Invitation.objects.for_org(org).filter(email="fourth@example.com").exists()
    assert mail.outbox == []


def test_invite_page_shows_the_limit_with_a_link(org, owner, tiny_free_plan):
    MembershipFactory(org=org)
    InvitationFactory(org=org, invited_by=owner)
    response = sudo(owner).post(
        reverse("orgs:invite", args=[org.slug]), {"email": "late@example.com", "role": "member"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "members limit" in page and plan_link(org) in page


def test_resending_an_expired_invitation_needs_a_free_seat(org, owner, tiny_free_plan):
    from datetime import timedelta

    from django.utils import timezone

    actor = Membership.objects.for_org(org).get(user=owner)
    MembershipFactory(org=org)
    expired = InvitationFactory(org=org, invited_by=owner, expires_at=timezone.now() - timedelta(days=1))
    InvitationFactory(org=org, invited_by=owner)  # the last seat is held by a pending invitation
    with pytest.raises(OrgActionError) as refused:
        do_resend_invitation(actor, expired)
    assert refused.value.code == "plan_limit"


# --- resources: a sync over the limit ----------------------------------------------------------------


def _add(cloud, n, start=0, region="eu-west-1"):
    for i in range(start, start + n):
        cloud.add(helpers.VPC, region, f"vpc-{i}")


def test_sync_at_the_resource_limit_stores_everything(org, cloud, connection, tiny_free_plan):
    _add(cloud, 5)
    run = helpers.sync_now(connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert Resource.objects.for_org(org).count() == 5
    assert not [w for w in run.warnings if w.get("code") == "resources_limit"]


def test_sync_over_the_resource_limit_keeps_everything_and_says_what_was_left_out(
    org, cloud, connection, tiny_free_plan
):
    _add(cloud, 3)
    helpers.sync_now(connection)
    cloud.find(helpers.VPC, "eu-west-1", "vpc-0").config["size"] = 99  # a change to a stored one
    _add(cloud, 4, start=3)  # 3 stored + 4 new, room for 2
    run = helpers.sync_now(connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    stored = Resource.objects.for_org(org)
    assert stored.count() == 5
    assert {"vpc-0", "vpc-1", "vpc-2"} <= set(stored.values_list("name", flat=True))  # kept
    assert stored.get(name="vpc-0").config["size"] == 99  # and updated
    [warning] = [w for w in run.warnings if w["code"] == "resources_limit"]
    assert warning["message"].startswith("2 new resources not stored (aws.fake.vpc: 2)")
    assert "the Free plan allows 5 resources inventoried (resources limit)" in warning["message"]
    assert f"/o/{org.slug}/billing/" in warning["message"]
    assert run.created_count == 2


def test_a_run_that_deletes_frees_room(org, cloud, connection, tiny_free_plan):
    _add(cloud, 5)
    helpers.sync_now(connection)
    cloud.remove(helpers.VPC, "eu-west-1", "vpc-0")
    _add(cloud, 1, start=5)
    run = helpers.sync_now(connection)
    assert Resource.objects.for_org(org).count() == 5
    assert not [w for w in run.warnings if w.get("code") == "resources_limit"]


def test_the_scan_page_links_the_warning(org, owner, cloud, connection, tiny_free_plan, client):
    _add(cloud, 7)
    run = helpers.sync_now(connection)
    client.force_login(owner)
    page = client.get(reverse("inventory:run_detail", args=[org.slug, run.pk])).content.decode()
    assert "resources limit" in page and f"/o/{org.slug}/billing/</a>" in page


def test_scheduled_scans_follow_the_plans_fastest_frequency(org):
    from datetime import timedelta

    from django.utils import timezone

    from inventory.actions import due_connections

    conn = helpers.make_connection(org, scan_frequency="hourly")  # chosen on a bigger plan
    SyncRun.objects.for_org(org).create(
        connection=conn, status=SyncRun.Status.SUCCEEDED, created_at=timezone.now() - timedelta(hours=2)
    )
    assert conn not in due_connections()  # Free scans daily: not due after 2 hours
    assert conn in due_connections(timezone.now() + timedelta(days=1))
    BillingAccount.objects.create(org=org, plan="business", status="active", stripe_subscription_id="sub_b")
    assert conn in due_connections()  # Business scans hourly
    conn.refresh_from_db()
    assert conn.scan_frequency == "hourly"  # the choice itself is kept
