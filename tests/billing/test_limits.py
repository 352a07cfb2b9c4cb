"""Plans as data and billing.limits: each counted limit at its edge (at the limit: allowed; one over:
refused with a message naming the limit and the plan page), the scan frequency, and which plan
applies in each billing state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import limits, usage
from billing.limits import LimitReached, ensure_frequency_allowed, ensure_within
from billing.models import BillingAccount
from billing.plans import BUSINESS, FREE, PLANS, TEAM, frequency_allowed, get_plan, plan_for_price
from tests.factories import InvitationFactory, MembershipFactory

pytestmark = pytest.mark.usefixtures("enforce_limits")


def test_plans_are_data_with_every_limit():
    assert [PLANS[k].name for k in (FREE, TEAM, BUSINESS)] == ["Free", "Team", "Business"]
    for a, b in ((FREE, TEAM), (TEAM, BUSINESS)):
        small, big = PLANS[a].limits, PLANS[b].limits
        for limit in ("connections", "resources", "members", "automations", "history_days"):
            assert getattr(small, limit) < getattr(big, limit), limit
    assert [PLANS[k].limits.scan_frequency for k in (FREE, TEAM, BUSINESS)] == ["daily", "6h", "hourly"]
    assert get_plan("retired-plan") is PLANS[FREE]


def test_price_ids_come_from_settings(settings):
    settings.BILLING_PRICE_IDS = {"team": {"month": "price_t_m", "year": "price_t_y"}}
    assert PLANS[TEAM].price_id("month") == "price_t_m"
    assert PLANS[TEAM].purchasable and not PLANS[BUSINESS].purchasable and not PLANS[FREE].purchasable
    assert plan_for_price("price_t_y") is PLANS[TEAM]
    assert plan_for_price("price_unknown") is None


def _fill_connections(org, n):
    from connections.models import CloudConnection

    for i in range(n):
        CloudConnection.objects.for_org(org).create(name=f"c{i}", provider="aws", auth_method="aws_role")


def test_connections_limit_at_the_edge(org, tiny_free_plan):
    _fill_connections(org, 1)
    ensure_within(org, "connections")  # 1 + 1 = 2: at the limit, allowed
    from connections.models import CloudConnection

    CloudConnection.objects.for_org(org).create(name="second", provider="aws", auth_method="aws_role")
    with pytest.raises(LimitReached) as refused:
        ensure_within(org, "connections")  # 2 + 1: one over
    exc = refused.value
    assert (exc.limit, exc.allowed, exc.plan.key, exc.current) == ("connections", 2, FREE, 2)
    assert "connections limit" in exc.message and "Free plan allows 2" in exc.message
    assert f"/o/{org.slug}/billing/" in exc.message
    assert f'href="/o/{org.slug}/billing/"' in exc.html


def test_members_limit_counts_pending_invitations(org, owner, tiny_free_plan):
    MembershipFactory(org=org)  # owner + 1 member
    ensure_within(org, "members")  # the third seat: at the limit
    InvitationFactory(org=org, invited_by=owner)  # a pending invitation holds the third seat
    with pytest.raises(LimitReached) as refused:
        ensure_within(org, "members")
    assert refused.value.limit == "members" and "members limit" in refused.value.message


def test_resources_and_automations_use_the_registered_counters(org, tiny_free_plan, monkeypatch):
    monkeypatch.setitem(usage._counters, "automations", lambda o: 1)
    ensure_within(org, "automations")  # 1 + 1 = 2: at the limit
    monkeypatch.setitem(usage._counters, "automations", lambda o: 2)
    with pytest.raises(LimitReached) as refused:
        ensure_within(org, "automations")
    assert "automations limit" in refused.value.message

    monkeypatch.setitem(usage._counters, "resources", lambda o: 3)
    ensure_within(org, "resources", adding=2)  # 3 + 2 = 5: at the limit
    with pytest.raises(LimitReached):
        ensure_within(org, "resources", adding=3)
    assert limits.remaining(org, "resources") == 2


def test_an_unregistered_counter_falls_back_to_the_model_by_name(org, monkeypatch):
    from connections.models import CloudConnection

    monkeypatch.delitem(usage._counters, "connections")
    CloudConnection.objects.for_org(org).create(name="x", provider="aws", auth_method="aws_role")
    assert usage.count(org, "connections") == 1
    assert usage.count(org, "automations") >= 0  # no such model yet (or its own): never a crash


def test_unknown_limit_is_a_programming_error(org):
    with pytest.raises(ValueError):
        ensure_within(org, "planets")


def test_scan_frequency_at_the_edge(org):
    ensure_frequency_allowed(org, "daily")  # Free's fastest: allowed
    ensure_frequency_allowed(org, "manual")
    with pytest.raises(LimitReached) as refused:
        ensure_frequency_allowed(org, "6h")  # one step faster
    assert refused.value.limit == "scan_frequency" and refused.value.allowed == "daily"
    assert "scan frequency limit" in refused.value.message and "Team plan allows it" in refused.value.message
    BillingAccount.objects.create(org=org, plan=TEAM, status="active", stripe_subscription_id="sub_1")
    ensure_frequency_allowed(org, "6h")
    with pytest.raises(LimitReached):
        ensure_frequency_allowed(org, "hourly")
    assert limits.frequency_choices_allowed(org) == ["manual", "daily", "6h"]
    assert not frequency_allowed(PLANS[BUSINESS].limits, "every-minute")


@pytest.mark.parametrize(
    ("status", "past_due_days", "downgraded", "expected"),
    [
        ("active", None, False, TEAM),
        ("trialing", None, False, TEAM),
        ("past_due", 2, False, TEAM),  # in the grace period: the plan stays
        ("past_due", 30, True, FREE),  # grace over: Free limits
        ("canceled", None, False, FREE),
        ("incomplete", None, False, FREE),
    ],
)
def test_plan_for_each_billing_state(org, status, past_due_days, downgraded, expected):
    now = timezone.now()
    BillingAccount.objects.create(
        org=org,
        plan=TEAM,
        status=status,
        stripe_subscription_id="sub_1",
        past_due_since=now - timedelta(days=past_due_days) if past_due_days else None,
        downgraded_at=now if downgraded else None,
    )
    assert limits.plan_for(org).key == expected
    assert limits.allowed(org, "connections") == PLANS[expected].limits.connections


def test_no_billing_row_is_free_and_enforcement_can_be_off(org, settings, tiny_free_plan):
    assert limits.plan_for(org).key == FREE
    _fill_connections(org, 5)
    with pytest.raises(LimitReached):
        ensure_within(org, "connections")
    settings.BILLING_ENFORCE_LIMITS = False
    ensure_within(org, "connections")
    ensure_frequency_allowed(org, "hourly")
    assert limits.remaining(org, "connections") is None


def test_automations_are_counted_from_the_automations_app(org, tiny_free_plan):
    from automations.models import Automation

    Automation.objects.create(org=org, name="One", frequency="weekly")
    ensure_within(org, "automations")  # 1 + 1 = 2: at the limit
    Automation.objects.create(org=org, name="Two", frequency="weekly")
    with pytest.raises(LimitReached):
        ensure_within(org, "automations")
