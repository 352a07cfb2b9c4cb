"""The demo's tests use the fake Azure of the connection tests (tests/connections/conftest.py)."""

from tests.connections.conftest import _fake_azure_server, fake_azure  # noqa: F401
