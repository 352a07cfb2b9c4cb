"""The plan page and the billing changes: only roles with ``manage_billing`` (403 for the others, 404
for another organization), re-authentication before any change, usage bars, and sensible pages when
payments are not set up."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import BillingAccount
from billing.plans import TEAM
from orgs.roles import Role
from tests.conftest import PASSWORD
from tests.factories import InvitationFactory, MembershipFactory, UserFactory
from tests.inventory.sync_helpers import make_connection

PAGES = ["plan", "subscribe", "payment_method"]
CHANGES = ["change_plan", "cancel", "resume", "portal", "subscribe", "payment_method"]


def url(name, org):
    return reverse(f"billing:{name}", args=[org.slug])


def sudo(user) -> Client:
    c = Client()
    c.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    return c


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER, Role.VIEWER])
def test_only_billing_managers_reach_billing(org, role):
    person = UserFactory()
    MembershipFactory(org=org, user=person, role=role)
    c = sudo(person)
    for name in PAGES:
        assert c.get(url(name, org)).status_code == 403, name
    for name in CHANGES:
        assert c.post(url(name, org)).status_code == 403, name


def test_another_orgs_billing_is_a_404(org, outsider):
    c = sudo(outsider)
    for name in PAGES:
        assert c.get(url(name, org)).status_code == 404, name
    for name in CHANGES:
        assert c.post(url(name, org)).status_code == 404, name


def test_plan_page_shows_usage_bars_against_the_plan(org, owner, client, enforce_limits, django_assert_max_num_queries):
    make_connection(org, name="Only")
    InvitationFactory(org=org, invited_by=owner)
    client.force_login(owner)
    with django_assert_max_num_queries(20):
        response = client.get(url("plan", org))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="plan-name">Free<' in page
    assert '<meter min="0" max="1"' in page and 'value="1"' in page  # 1 of 1 connection: full
    assert 'data-testid="allowed-members">3<' in page  # owner + a pending invitation, of 3
    assert "Payments are not set up on this installation" in page
    assert "Choose Team" not in page


def test_plan_page_of_a_paid_org(org, owner, client):
    BillingAccount.objects.create(org=org, plan=TEAM, status="active", stripe_subscription_id="sub_1")
    client.force_login(owner)
    page = client.get(url("plan", org)).content.decode()
    assert 'data-testid="plan-name">Team<' in page and 'data-testid="allowed-connections">10<' in page


@pytest.mark.parametrize("name", ["change_plan", "cancel", "resume", "portal"])
def test_changes_need_a_fresh_proof_and_come_back_to_the_plan_page(org, owner, client, name):
    BillingAccount.objects.create(org=org, plan=TEAM, status="active", stripe_subscription_id="sub_1")
    client.force_login(owner)  # a session without a recent password
    response = client.post(url(name, org), {"plan": "business", "interval": "month"})
    assert response.status_code == 302
    assert "/confirm" in response["Location"] and f"next=%2Fo%2F{org.slug}%2Fbilling%2F" in response["Location"]
    account = BillingAccount.objects.for_org(org).get()
    assert (account.plan, account.cancel_at_period_end) == (TEAM, False)


def test_without_stripe_the_changes_say_so(org, owner):
    c = sudo(owner)
    response = c.get(url("subscribe", org), follow=True)
    assert "Payments are not set up" in response.content.decode()
    response = c.post(url("change_plan", org), {"plan": "nope"}, follow=True)
    assert response.status_code == 200 and "Choose one of the plans" in response.content.decode()
    response = c.post(url("cancel", org), follow=True)
    assert response.status_code == 200 and "no subscription" in response.content.decode()
    response = c.post(url("portal", org), follow=True)
    assert response.status_code == 200 and "portal is not available" in response.content.decode()


def test_the_nav_links_the_plan_page_for_billing_managers_only(org, owner, member, client):
    client.force_login(owner)
    assert url("plan", org) in client.get(reverse("orgs:members", args=[org.slug])).content.decode()
    client.force_login(member)
    assert url("plan", org) not in client.get(reverse("orgs:members", args=[org.slug])).content.decode()


def test_support_console_shows_billing_read_only(staff_client, org):
    BillingAccount.objects.create(org=org, plan=TEAM, status="active", stripe_customer_id="cus_support")
    page = staff_client.get(reverse("admin:billing_billingaccount_changelist"))
    assert page.status_code == 200
    assert "Acme Cloud" in page.content.decode()
    assert staff_client.get(reverse("admin:billing_billingaccount_add")).status_code == 403
    assert staff_client.get(reverse("admin:billing_processedstripeevent_changelist")).status_code == 200
