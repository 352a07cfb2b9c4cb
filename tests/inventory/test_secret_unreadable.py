"""A scan whose stored secret no longer decrypts (its key left ENCRYPTION_KEYS, or the ciphertext is
damaged) fails with the designed ``secret_unreadable`` outcome and a message the user can act on: no
"failed unexpectedly", no traceback stored, logged or shown, and the previous inventory untouched."""

from __future__ import annotations

import base64
import logging
import os

import pytest
from django.urls import reverse

from connections import credentials
from connections.models import CloudConnection
from inventory.models import Resource, SyncRun
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import make_azure_connection, make_connection, populate, sync_now

aws, cloud = helpers.aws, helpers.cloud

GONE_KEY = "gone:" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def _lose_the_key(settings, connection: CloudConnection, payload: dict) -> None:
    """Re-encrypt the secret under a key that is then no longer in the ring."""
    ring = settings.ENCRYPTION_KEYS
    settings.ENCRYPTION_KEYS = GONE_KEY
    credentials.store_secret(connection, payload)
    connection.save()
    settings.ENCRYPTION_KEYS = ring


def _corrupt(settings, connection: CloudConnection, payload: dict) -> None:
    """Flip bytes in the sealed body: the authentication tag no longer matches."""
    version, kid, body = connection.encrypted_secret.split(":", 2)
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 0xFF
    connection.encrypted_secret = f"{version}:{kid}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    connection.save()


def _stored(connection) -> list[tuple]:
    rows = Resource.objects.for_org(connection.org).filter(connection=connection).order_by("pk")
    return list(rows.values_list("pk", "native_id", "name", "config", "tags", "last_seen"))


def _assert_unreadable(run: SyncRun, caplog, expected: str) -> None:
    assert run.status == SyncRun.Status.FAILED
    assert run.errors == [{"type": "", "region": "", "code": "secret_unreadable", "message": expected}]
    assert "unexpectedly" not in str(run.errors) and "Traceback" not in str(run.errors)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures and all(r.exc_info is None for r in failures)  # logged, without a traceback
    assert "does not decrypt" in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize("damage", [_lose_the_key, _corrupt], ids=["key-left-the-ring", "corrupt-ciphertext"])
def test_an_aws_scan_with_an_unreadable_secret_fails_clearly(
    cloud, org, owner, client_for, settings, caplog, damage
):
    connection = make_connection(org, auth_method="aws_keys", role_arn="", external_id="")
    payload = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"}
    credentials.store_secret(connection, payload)
    connection.save()
    populate(cloud)
    assert sync_now(connection).status == SyncRun.Status.SUCCEEDED
    before = _stored(connection)
    assert before

    damage(settings, connection, payload)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run = sync_now(connection)

    _assert_unreadable(
        run, caplog, "The stored credentials cannot be read. Enter them again on the connection's page."
    )
    assert _stored(connection) == before
    # The scan's page says so, plainly.
    page = client_for(owner).get(reverse("inventory:run_detail", args=[org.slug, run.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "secret_unreadable" in html and "cannot be read" in html
    assert "Traceback" not in html and "unexpectedly" not in html


def test_an_azure_scan_with_an_unreadable_secret_fails_clearly(org, settings, caplog):
    # Fails before any call to Azure: no fake cloud needed.
    connection = make_azure_connection(org)
    _lose_the_key(settings, connection, {"client_secret": "s3cret-value"})
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run = sync_now(connection)
    _assert_unreadable(
        run, caplog, "The stored client secret cannot be read. Enter it again on the connection's page."
    )
    assert "s3cret-value" not in caplog.text
