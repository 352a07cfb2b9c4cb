"""Shared fixtures: users in each state, a logged-in client, a clean cache per test."""

from __future__ import annotations

import os

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Every email is recorded and checked against suppressions (automations/mail.py), then lands in mail.outbox.
    settings.EMAIL_BACKEND = "automations.mail.TrackingBackend"
    settings.DELIVERY_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SECURE_SSL_REDIRECT = False
    # Plan limits (billing) are tested with them on (tests/billing: ``enforce_limits``); elsewhere every
    # second connection or 500th resource of a fixture would otherwise be a plan decision.
    settings.BILLING_ENFORCE_LIMITS = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(db):
    from accounts.models import User

    def _make(email: str = "ada@example.com", password: str = PASSWORD, verified: bool = True, **extra) -> User:
        user = User.objects.create_user(email=email, password=password, **extra)
        EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
        return user

    return _make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


# --- Organizations: the three personas (ARCHITECTURE.md convention 9) ---------------------------
# ``owner`` owns ``org``; ``member`` belongs to ``org`` with ``member_role`` (override it per test:
# ``@pytest.mark.parametrize("member_role", ["viewer"])``); ``outsider`` owns another organization,
# which has data of its own, and must never see anything of ``org``.


@pytest.fixture
def owner(db):
    from tests.factories import UserFactory

    return UserFactory(email="owner@example.com", first_name="Olive")


@pytest.fixture
def org(owner):
    from orgs.roles import Role
    from tests.factories import MembershipFactory, OrganizationFactory

    organization = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=organization, role=Role.OWNER)
    return organization


@pytest.fixture
def member_role() -> str:
    return "member"


@pytest.fixture
def member(org, member_role):
    from tests.factories import MembershipFactory, UserFactory

    person = UserFactory(email="member@example.com", first_name="Mel")
    MembershipFactory(user=person, org=org, role=member_role)
    return person


@pytest.fixture
def outsider(db):
    from orgs.roles import Role
    from tests.factories import InvitationFactory, MembershipFactory, OrganizationFactory, UserFactory

    person = UserFactory(email="outsider@example.com", first_name="Otto")
    other = OrganizationFactory(name="Other Org", slug="other-org")
    MembershipFactory(user=person, org=other, role=Role.OWNER)
    MembershipFactory(org=other, role=Role.MEMBER)
    InvitationFactory(org=other, invited_by=person)
    person.org = other
    return person


@pytest.fixture
def client_for(db):
    """``client_for(user)``: a fresh test client logged in as ``user`` (several people in one test)."""
    from django.test import Client

    def _client(person) -> Client:
        c = Client()
        c.force_login(person)
        return c

    return _client


@pytest.fixture
def staff_client(client, db):
    """A superuser's client, MFA on and its second step passed: what the admin requires of staff."""
    from tests.accounts.helpers import login_with_mfa
    from tests.factories import UserFactory

    return login_with_mfa(client, UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
