"""The only module that turns a connection's ciphertext back into credentials.

Callers are the code paths that talk to the cloud (connection checks, syncs); views, templates,
exports and the admin only ever see ``has_secret`` and ``secret_changed_at``.
"""

from __future__ import annotations

import json

from django.utils import timezone

from cloustral import crypto
from connections.models import CloudConnection
from connections.providers.aws import AwsCredentials


def store_secret(connection: CloudConnection, payload: dict[str, str]) -> None:
    """Encrypt ``payload`` onto the connection (not saved). Needs ``org`` and ``uid`` set."""
    connection.encrypted_secret = crypto.encrypt(json.dumps(payload), aad=connection.secret_aad())
    connection.secret_changed_at = timezone.now()


def _payload(connection: CloudConnection) -> dict[str, str]:
    if not connection.encrypted_secret:
        return {}
    return json.loads(crypto.decrypt(connection.encrypted_secret, aad=connection.secret_aad()))


def aws_credentials(connection: CloudConnection) -> AwsCredentials:
    if connection.auth_method == CloudConnection.AuthMethod.AWS_ROLE:
        return AwsCredentials(role_arn=connection.role_arn, external_id=connection.external_id)
    payload = _payload(connection)
    return AwsCredentials(
        access_key_id=payload.get("access_key_id", ""), secret_access_key=payload.get("secret_access_key", "")
    )


def azure_client_secret(connection: CloudConnection) -> str:
    return _payload(connection).get("client_secret", "")
