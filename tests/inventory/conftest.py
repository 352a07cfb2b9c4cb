"""Fixtures for the inventory tests: the sync-engine fixtures (``aws``, ``connection``, ``cloud``,
``eager_celery``, defined in sync_helpers.py) and the fake Azure (defined in tests/connections/conftest.py)."""

from tests.connections.conftest import _fake_azure_server, fake_azure  # noqa: F401
from tests.inventory.sync_helpers import aws, cloud, connection, eager_celery  # noqa: F401
