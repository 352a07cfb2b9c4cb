"""Staff personas for the support console: a member of the "support" group and one of the "superuser"
group (both staff, MFA on and passed, as the admin requires), each with a client of their own."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.accounts.helpers import login_with_mfa
from tests.billing.conftest import localstripe_base, stripe_on  # noqa: F401
from tests.factories import UserFactory
from tests.inventory.sync_helpers import eager_celery  # noqa: F401

SUPPORT_TZ = "Asia/Tokyo"


def staff_in(group: str, email: str, **extra):
    person = UserFactory(email=email, is_staff=True, **extra)
    person.groups.add(Group.objects.get(name=group))
    return person


@pytest.fixture
def support_user(db):
    return staff_in("support", "helper@staff.example", timezone=SUPPORT_TZ)


@pytest.fixture
def support_client(support_user):
    return login_with_mfa(Client(), support_user)


@pytest.fixture
def chief(db):
    return staff_in("superuser", "chief@staff.example")


@pytest.fixture
def chief_client(chief):
    return login_with_mfa(Client(), chief)
