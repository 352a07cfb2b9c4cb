"""Fixtures for connection tests: a fake Azure (Microsoft Entra ID + Resource Manager) over HTTPS."""

from __future__ import annotations

import pytest

from tests.fakes.azure_arm import FakeAzure


@pytest.fixture(scope="session")
def _fake_azure_server():
    """One server per test session (per xdist worker); each test gets it emptied."""
    with FakeAzure() as fake:
        yield fake


@pytest.fixture
def fake_azure(_fake_azure_server, settings):
    """The running fake, empty, with Cloustral's Azure settings pointed at it and its test CA trusted.

    Configure it with ``add_tenant``, ``add_app``, ``add_subscription``, ``add_resource_group``,
    ``add_resource``, ``register``; inject faults with ``throttle``, ``deny_provider``,
    ``deny_subscription``, ``fail``, ``stall``; inspect ``calls()`` (see tests/fakes/azure_arm.py).
    """
    fake = _fake_azure_server
    fake.reset()
    settings.AZURE_ARM_ENDPOINT = fake.arm_url
    settings.AZURE_AUTHORITY_HOST = fake.authority_url
    settings.AZURE_CA_BUNDLE = fake.ca_bundle
    yield fake
    fake.reset()
