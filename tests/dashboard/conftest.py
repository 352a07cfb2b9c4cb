"""The map and explorer tests use the fake Azure of the connection tests and the sync-engine fixtures."""

from tests.connections.conftest import _fake_azure_server, fake_azure  # noqa: F401
from tests.inventory.sync_helpers import aws, cloud, connection, eager_celery  # noqa: F401
