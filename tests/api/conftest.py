"""API test helpers: keys of each kind and a client that sends one."""

from __future__ import annotations

import pytest
from django.test import Client

from api.actions import do_create_api_key
from api.models import ApiKey


class KeyClient:
    """Django's test client with ``Authorization: Bearer <key>`` on every request; JSON bodies."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.client = Client()

    def _headers(self, extra: dict) -> dict:
        headers = dict(extra)
        if self.token is not None:
            headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.token}")
        return headers

    def get(self, url: str, data=None, **extra):
        return self.client.get(url, data, **self._headers(extra))

    def post(self, url: str, data=None, **extra):
        return self.client.post(url, data or {}, content_type="application/json", **self._headers(extra))

    def put(self, url: str, data=None, **extra):
        return self.client.put(url, data or {}, content_type="application/json", **self._headers(extra))


@pytest.fixture
def make_key(db):
    """``make_key(org, user=None, scope="read", kind=None)`` → (ApiKey, token). A user makes it personal."""

    def _make(org, user=None, scope=ApiKey.Scope.READ, kind=None, **kwargs):
        kind = kind or (ApiKey.Kind.PERSONAL if user is not None else ApiKey.Kind.ORGANIZATION)
        return do_create_api_key(org, user=user, kind=kind, name=kwargs.pop("name", "test key"), scope=scope, **kwargs)

    return _make


@pytest.fixture
def api_for(make_key):
    """``api_for(org, user=None, scope=...)``: a KeyClient with a new key."""

    def _client(org, user=None, scope=ApiKey.Scope.READ_WRITE, **kwargs) -> KeyClient:
        _, token = make_key(org, user=user, scope=scope, **kwargs)
        return KeyClient(token)

    return _client


@pytest.fixture
def reader(org, api_for):
    return api_for(org, scope=ApiKey.Scope.READ)


@pytest.fixture
def writer(org, api_for):
    return api_for(org, scope=ApiKey.Scope.READ_WRITE)
