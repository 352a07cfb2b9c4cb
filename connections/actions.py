"""Every change to a connection: atomic, audit-logged (never with a secret), shared by views,
tasks and commands."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from billing import limits
from cloustral import crypto
from connections import credentials, organization
from connections.models import CloudConnection
from connections.providers import aws
from connections.providers.base import CheckResult, ConnectionCheckError

logger = logging.getLogger(__name__)
A = AuditEvent.Action
Auth = CloudConnection.AuthMethod


def run_check(connection: CloudConnection) -> CheckResult:
    """Talk to the cloud with the connection's credentials. Raises ConnectionCheckError."""
    try:
        if connection.provider == CloudConnection.Provider.AWS:
            return aws.check(credentials.aws_credentials(connection), organization=connection.is_organization)
        from connections.providers import azure  # the Azure SDK is slow to import; only when needed

        return azure.check(
            tenant_id=connection.tenant_id,
            client_id=connection.client_id,
            client_secret=credentials.azure_client_secret(connection),
            cloud=connection.azure_cloud or "public",
            subscription_ids=[s["id"] for s in connection.subscriptions],
        )
    except crypto.DecryptionError:
        logger.error("connection %s: stored secret does not decrypt", connection.pk)
        raise ConnectionCheckError(
            "secret_unreadable", "The stored credentials cannot be read. Enter them again to continue."
        ) from None


CHECK_FIELDS = [
    "status",
    "last_checked_at",
    "last_check_code",
    "last_check_message",
    "aws_account_id",
    "aws_account_alias",
    "enabled_regions",
    "selected_regions",
    "subscriptions",
    "updated_at",
]


def apply_check(connection: CloudConnection, result: CheckResult) -> None:
    """Record a successful check on the (unsaved) connection: verified now, with what the cloud said."""
    connection.status = CloudConnection.Status.VERIFIED
    connection.last_checked_at = timezone.now()
    connection.last_check_code = ""
    connection.last_check_message = ""
    if connection.provider == CloudConnection.Provider.AWS:
        connection.aws_account_id = result.account_id
        connection.aws_account_alias = result.display_name
        connection.enabled_regions = result.regions
        connection.selected_regions = [r for r in connection.selected_regions if r in result.regions]
    else:
        connection.subscriptions = result.subscriptions


def _fields_for(connection: CloudConnection, data: dict) -> dict[str, str]:
    """The secret part of a form's data, as it is encrypted."""
    if connection.auth_method == Auth.AWS_KEYS:
        return {"access_key_id": data["access_key_id"].strip(), "secret_access_key": data["secret_access_key"].strip()}
    if connection.auth_method == Auth.AZURE_SP:
        return {"client_secret": data["client_secret"]}
    return {}


def build_connection(org, auth_method: str, data: dict, *, external_id: str = "") -> CloudConnection:
    """An unsaved connection from a form's cleaned data."""
    provider = CloudConnection.Provider.AZURE if auth_method == Auth.AZURE_SP else CloudConnection.Provider.AWS
    connection = CloudConnection(org=org, name=data["name"], provider=provider, auth_method=auth_method)
    if auth_method == Auth.AWS_ROLE:
        connection.role_arn = data["role_arn"].strip()
        connection.external_id = external_id
        connection.aws_scope = data.get("aws_scope") or CloudConnection.AwsScope.SINGLE
    elif auth_method == Auth.AZURE_SP:
        connection.azure_cloud = data["azure_cloud"]
        connection.tenant_id = data["tenant_id"].strip()
        connection.client_id = data["client_id"].strip()
        connection.subscriptions = [{"id": s, "name": "", "state": ""} for s in data["subscription_ids"]]
    secret = _fields_for(connection, data)
    if secret:
        credentials.store_secret(connection, secret)
    return connection


def do_create_connection(request: HttpRequest, connection: CloudConnection) -> CloudConnection:
    """Test first; save only what works. Raises ConnectionCheckError and saves nothing on failure, and
    LimitReached (before any test) when the plan has no room for another connection."""
    limits.ensure_within(connection.org, "connections")
    result = run_check(connection)
    apply_check(connection, result)
    connection.created_by = request.user
    with transaction.atomic():
        connection.save()
        audit.record(
            A.CONNECTION_CREATED,
            request=request,
            org=connection.org,
            target=connection.name,
            provider=connection.provider,
            method=connection.auth_method,
            account=connection.account_label,
            scope=connection.aws_scope if connection.provider == CloudConnection.Provider.AWS else "",
        )
        if connection.is_organization:  # the accounts the check listed: shown at once, scanned with it
            organization.do_sync_members(connection, [a | {"status": "ACTIVE"} for a in result.member_accounts])
    return connection


def do_update_connection(request: HttpRequest, connection: CloudConnection, data: dict) -> list[str]:
    """Apply an edit. Changed credentials are tested before anything is saved. Returns the changed fields."""
    changed: list[str] = []
    if data.get("name") and data["name"] != connection.name:
        connection.name = data["name"]
        changed.append("name")
    if connection.auth_method == Auth.AWS_ROLE and data.get("role_arn", "").strip() not in ("", connection.role_arn):
        connection.role_arn = data["role_arn"].strip()
        changed.append("role_arn")
    if connection.auth_method == Auth.AZURE_SP:
        for field in ("azure_cloud", "tenant_id", "client_id"):
            if data.get(field) and data[field].strip() != getattr(connection, field):
                setattr(connection, field, data[field].strip())
                changed.append(field)
        ids = data.get("subscription_ids") or []
        if ids and ids != [s["id"] for s in connection.subscriptions]:
            known = {s["id"]: s for s in connection.subscriptions}
            connection.subscriptions = [known.get(i, {"id": i, "name": "", "state": ""}) for i in ids]
            changed.append("subscriptions")
    rotate = any(data.get(k) for k in ("secret_access_key", "client_secret"))
    if rotate:
        credentials.store_secret(connection, _fields_for(connection, data))
        changed.append("secret")
    credential_fields = {"role_arn", "azure_cloud", "tenant_id", "client_id", "subscriptions", "secret"}
    if credential_fields & set(changed):
        apply_check(connection, run_check(connection))
    if changed:
        with transaction.atomic():
            connection.save()
            audit.record(
                A.CONNECTION_SECRET_ROTATED if "secret" in changed else A.CONNECTION_UPDATED,
                request=request,
                org=connection.org,
                target=connection.name,
                fields=changed,
            )
    return changed


def do_set_regions(request: HttpRequest, connection: CloudConnection, regions: list[str]) -> None:
    connection.selected_regions = [r for r in regions if r in connection.enabled_regions]
    connection.save(update_fields=["selected_regions", "updated_at"])
    audit.record(A.CONNECTION_UPDATED, request=request, org=connection.org, target=connection.name, fields=["regions"])


def do_set_scan_frequency(request: HttpRequest, connection: CloudConnection, frequency: str) -> bool:
    """Change how often the connection is scanned automatically. Returns False when nothing changed."""
    if frequency == connection.scan_frequency:
        return False
    limits.ensure_frequency_allowed(connection.org, frequency)  # LimitReached: faster than the plan scans
    connection.scan_frequency = frequency
    connection.save(update_fields=["scan_frequency", "updated_at"])
    audit.record(
        A.CONNECTION_UPDATED,
        request=request,
        org=connection.org,
        target=connection.name,
        fields=["scan_frequency"],
        scan_frequency=frequency,
    )
    return True


def do_request_test(request: HttpRequest, connection: CloudConnection) -> None:
    """Queue a test of the connection (connections.tasks.check_connection) once the transaction commits:
    the page answers at once and shows the outcome when the worker has recorded it."""
    from connections.tasks import check_connection

    user_id = request.user.pk if request.user.is_authenticated else None

    def send() -> None:
        try:
            check_connection.delay(connection.pk, user_id)
        except Exception:  # the broker is down: the page says the test is waiting, the log says why
            logger.exception("could not queue the test of connection %s", connection.pk)

    transaction.on_commit(send)


def do_test_connection(request: HttpRequest, connection: CloudConnection) -> ConnectionCheckError | None:
    """Test now and record the outcome on the connection. Returns the error, if any."""
    return record_check(connection, request=request)


def record_check(connection: CloudConnection, *, request: HttpRequest | None = None, actor=None):
    """Run the check and record its outcome on the connection (and in the audit log). Returns the error."""
    error = None
    try:
        apply_check(connection, run_check(connection))
    except ConnectionCheckError as exc:
        error = exc
        connection.status = CloudConnection.Status.FAILED
        connection.last_checked_at = timezone.now()
        connection.last_check_code = exc.code
        connection.last_check_message = exc.message
    connection.save(update_fields=CHECK_FIELDS)  # only what a check learns: a concurrent edit is kept
    audit.record(
        A.CONNECTION_TESTED,
        request=request,
        actor=actor,
        org=connection.org,
        target=connection.name,
        result=error.code if error else "ok",
    )
    return error


def do_set_enabled(request: HttpRequest, connection: CloudConnection, enabled: bool) -> None:
    connection.enabled = enabled
    connection.save(update_fields=["enabled", "updated_at"])
    if connection.is_organization:  # its current members are scanned with it, or not at all
        CloudConnection.objects.for_org(connection.org_id).filter(
            parent=connection, left_organization_at__isnull=True
        ).update(enabled=enabled, updated_at=timezone.now())
    audit.record(
        A.CONNECTION_ENABLED if enabled else A.CONNECTION_DISABLED,
        request=request,
        org=connection.org,
        target=connection.name,
    )


def do_delete_connection(request: HttpRequest, connection: CloudConnection) -> None:
    """Remove the connection with its credentials; its inventory and findings go with it (cascade),
    all in one transaction."""
    name, org = connection.name, connection.org
    with transaction.atomic():
        connection.delete()
        audit.record(A.CONNECTION_DELETED, request=request, org=org, target=name)
