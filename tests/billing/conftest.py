"""Billing fixtures: plan limits on (``enforce_limits``), one localstripe per test session with the
settings pointing at it (``stripe_on``), and small plans for edge tests (``tiny_free_plan``)."""

from __future__ import annotations

import dataclasses

import pytest

from billing import plans
from tests.billing.helpers import localstripe_server, stripe_settings
from tests.inventory.sync_helpers import eager_celery  # noqa: F401


@pytest.fixture
def enforce_limits(settings):
    settings.BILLING_ENFORCE_LIMITS = True


@pytest.fixture(scope="session")
def localstripe_base():
    with localstripe_server() as base:
        yield base


@pytest.fixture
def stripe_on(settings, localstripe_base):
    stripe_settings(settings, localstripe_base)
    settings.BILLING_TRIAL_DAYS = 14
    return localstripe_base


@pytest.fixture
def tiny_free_plan(monkeypatch):
    """Free with small limits, so an edge is a handful of rows."""
    free = plans.PLANS[plans.FREE]
    small = dataclasses.replace(
        free, limits=dataclasses.replace(free.limits, connections=2, resources=5, members=3, automations=2)
    )
    monkeypatch.setitem(plans.PLANS, plans.FREE, small)
    return small
