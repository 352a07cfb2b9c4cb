"""Azure service-principal credentials for a connection, and the connection test.

A connection names its cloud (public, China, US Government); the Resource Manager and Microsoft Entra
endpoints come from that choice unless the settings AZURE_ARM_ENDPOINT / AZURE_AUTHORITY_HOST override
them (how tests and the demo reach the local fake), and AZURE_CA_BUNDLE adds a CA to trust for TLS.
Every Azure client in the product is built from ``credential()`` and ``arm_client_kwargs()``, so
endpoints, TLS trust, timeouts and retries are decided here once:

    cred = credential(tenant_id, client_id, secret, cloud)   # or sign_in(...): a token first, or a clear error
    client = NetworkManagementClient(cred, subscription_id, **arm_client_kwargs(cloud))
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import re
import shutil
import ssl
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import RetryPolicy
from azure.identity import ClientSecretCredential
from azure.mgmt.resource.subscriptions import SubscriptionClient
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from connections.providers.base import CheckResult, ConnectionCheckError


@dataclass(frozen=True)
class AzureCloud:
    label: str
    arm_url: str
    authority_url: str


AZURE_CLOUDS: dict[str, AzureCloud] = {
    "public": AzureCloud("Azure (global)", "https://management.azure.com", "https://login.microsoftonline.com"),
    "china": AzureCloud(
        "Azure China (21Vianet)", "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"
    ),
    "usgov": AzureCloud(
        "Azure US Government", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us"
    ),
}
CLOUD_CHOICES = [(key, cloud.label) for key, cloud in AZURE_CLOUDS.items()]
DEFAULT_CLOUD = "public"


@dataclass(frozen=True)
class HttpProfile:
    """Timeouts and retries for one kind of work. Every number is a bound, so nothing hangs."""

    connection_timeout: float  # seconds to connect (per attempt)
    read_timeout: float  # seconds between bytes of an answer (per attempt)
    retry_total: int  # retries after the first attempt (throttling, 5xx, connection errors)
    max_retry_after: float  # a 429 asking to wait longer than this is not waited for
    operation_timeout: float  # one operation, retries and waits included


# A connection test answers while the user waits on the form; a scan may be patient.
CHECK = HttpProfile(connection_timeout=5, read_timeout=20, retry_total=2, max_retry_after=10, operation_timeout=30)
SCAN = HttpProfile(connection_timeout=10, read_timeout=60, retry_total=6, max_retry_after=120, operation_timeout=600)

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.I)
AADSTS_RE = re.compile(r"AADSTS(\d+)")


class BoundedRetryPolicy(RetryPolicy):
    """azure-core's retry policy (which honours Retry-After), except that an answer asking to wait
    longer than ``max_retry_after`` seconds is returned at once instead of sleeping for minutes."""

    def __init__(self, *, max_retry_after: float = 60, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > self.max_retry_after:
            return False
        return super().is_retry(settings, response)

    def increment(self, settings: dict[str, Any], response: Any = None, error: Any = None) -> bool:
        if isinstance(error, BaseException) and _is_tls_error(error):
            return False  # a certificate that does not verify will not verify on the next try either
        return super().increment(settings, response=response, error=error)


# --- Endpoints and TLS -----------------------------------------------------------------------------
def get_cloud(cloud: str) -> AzureCloud:
    try:
        return AZURE_CLOUDS[cloud or DEFAULT_CLOUD]
    except KeyError:
        raise ConnectionCheckError(
            "unknown_cloud", f"Choose one of: {', '.join(c.label for c in AZURE_CLOUDS.values())}.", field="cloud"
        ) from None


def endpoints(cloud: str) -> tuple[str, str]:
    """(Resource Manager URL, Microsoft Entra authority URL) for the cloud; settings override both."""
    chosen = get_cloud(cloud)
    arm = getattr(settings, "AZURE_ARM_ENDPOINT", None) or chosen.arm_url
    authority = getattr(settings, "AZURE_AUTHORITY_HOST", None) or chosen.authority_url
    return arm.rstrip("/"), authority.rstrip("/")


def _authority_overridden() -> bool:
    return bool(getattr(settings, "AZURE_AUTHORITY_HOST", None))


def ca_bundle() -> str | None:
    """The CA file to verify Azure's TLS with when AZURE_CA_BUNDLE is set: the usual public CAs plus the
    configured ones (a path given to requests replaces its trust store instead of adding to it)."""
    extra = getattr(settings, "AZURE_CA_BUNDLE", None)
    if not extra:
        return None
    path = Path(extra)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ImproperlyConfigured(f"AZURE_CA_BUNDLE={extra} cannot be read: {exc.strerror}") from None
    return _combined_bundle(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.cache
def _private_dir() -> Path:
    directory = tempfile.mkdtemp(prefix="cloustral-ca-")  # mode 0700: nobody else can swap the file
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return Path(directory)


@functools.lru_cache(maxsize=8)
def _combined_bundle(path: str, mtime_ns: int, size: int) -> str:
    import certifi  # requests' own trust store

    data = Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + Path(path).read_bytes()
    target = _private_dir() / f"bundle-{hashlib.sha256(data).hexdigest()[:16]}.pem"
    scratch = target.with_suffix(".tmp")
    scratch.write_bytes(data)
    os.replace(scratch, target)
    return str(target)


def _transport_kwargs(profile: HttpProfile) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "connection_timeout": profile.connection_timeout,
        "read_timeout": profile.read_timeout,
        "retry_total": profile.retry_total,
        "retry_backoff_factor": 0.5,
    }
    bundle = ca_bundle()
    if bundle:
        kwargs["connection_verify"] = bundle
    return kwargs


def credential(
    tenant_id: str, client_id: str, client_secret: str, cloud: str, *, profile: HttpProfile = SCAN
) -> ClientSecretCredential:
    """The connection's service principal, signing in at its cloud's authority (or the override)."""
    _, authority = endpoints(cloud)
    kwargs = _transport_kwargs(profile)
    if _authority_overridden():
        # A custom authority (the local fake, Azure Stack) is not in Microsoft's instance list.
        kwargs["disable_instance_discovery"] = True
    # retry_policy_class is how azure-identity builds its own pipeline's retry policy; were it ever
    # ignored, retry_total and the transport timeouts above still bound every request.
    return ClientSecretCredential(
        tenant_id,
        client_id,
        client_secret,
        authority=authority,
        retry_policy_class=functools.partial(
            BoundedRetryPolicy, max_retry_after=profile.max_retry_after, timeout=profile.operation_timeout
        ),
        **kwargs,
    )


def arm_client_kwargs(cloud: str, *, profile: HttpProfile = SCAN) -> dict[str, Any]:
    """Keyword arguments for any azure-mgmt-* client: ``Client(cred, [subscription_id], **these)``."""
    arm, _ = endpoints(cloud)
    kwargs = _transport_kwargs(profile)
    kwargs.update(
        base_url=arm,
        credential_scopes=[arm + "/.default"],
        retry_policy=BoundedRetryPolicy(
            max_retry_after=profile.max_retry_after,
            timeout=profile.operation_timeout,
            retry_total=profile.retry_total,
            retry_backoff_factor=0.5,
        ),
    )
    return kwargs


# --- Input -----------------------------------------------------------------------------------------
def validate_tenant_id(value: str) -> str:
    value = (value or "").strip().lower()
    if not (GUID_RE.match(value) or DOMAIN_RE.match(value)):
        raise ConnectionCheckError(
            "malformed_tenant_id",
            "The tenant id is a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47 (Directory (tenant) ID on the app "
            "registration's overview page), or a domain like contoso.onmicrosoft.com.",
            field="tenant_id",
        )
    return value


def validate_client_id(value: str) -> str:
    value = (value or "").strip().lower()
    if not GUID_RE.match(value):
        raise ConnectionCheckError(
            "malformed_client_id",
            "The client id is a GUID: the Application (client) ID on the app registration's overview page.",
            field="client_id",
        )
    return value


def validate_subscription_ids(values: Iterable[str] | str) -> list[str]:
    if isinstance(values, str):
        values = re.split(r"[\s,;]+", values)
    cleaned: list[str] = []
    for position, raw in enumerate(values, start=1):
        value = (raw or "").strip().lower().removeprefix("/subscriptions/").strip("/")
        if not value:
            continue
        if not GUID_RE.match(value):
            # The entry is not echoed back: it could be a secret pasted into the wrong field.
            raise ConnectionCheckError(
                "malformed_subscription_id",
                f"Subscription entry {position} is not a subscription id. Subscription ids are GUIDs like "
                "8f1c2a3b-1111-4a5b-9c8d-0123456789ab, listed under Subscriptions in the Azure portal.",
                field="subscriptions",
            )
        if value not in cleaned:
            cleaned.append(value)
    if not cleaned:
        raise ConnectionCheckError(
            "no_subscriptions", "Enter at least one subscription id to read.", field="subscriptions"
        )
    return cleaned


def sign_in(
    tenant_id: str, client_id: str, client_secret: str, cloud: str, *, profile: HttpProfile = SCAN
) -> ClientSecretCredential:
    """The service principal's credential, once it has obtained a Resource Manager token. A wrong or
    expired secret, an unknown tenant or app, an unreachable authority raise ConnectionCheckError with the
    connection test's message, before anything is asked of Resource Manager. The caller closes it."""
    chosen = get_cloud(cloud)
    arm, authority = endpoints(cloud)
    cred = credential(tenant_id, client_id, client_secret, cloud, profile=profile)
    try:
        cred.get_token(arm + "/.default")
    except Exception as exc:
        cred.close()
        context = _Context(tenant_id, client_id, client_secret, chosen, arm, authority, profile)
        raise _sign_in_error(exc, context) from None
    return cred


def subscriptions_visible(cred: ClientSecretCredential, cloud: str, *, profile: HttpProfile = SCAN) -> list[dict]:
    """[{"id", "name", "state"}] of every subscription the principal can read (its role assignments),
    for a connection that names none."""
    with SubscriptionClient(cred, **arm_client_kwargs(cloud, profile=profile)) as client:
        return [
            {
                "id": (sub.subscription_id or "").lower(),
                "name": sub.display_name or "",
                "state": str(getattr(sub.state, "value", sub.state) or ""),
            }
            for sub in client.subscriptions.list()
            if sub.subscription_id
        ]


# --- The connection test ---------------------------------------------------------------------------
def check(
    tenant_id: str,
    client_id: str,
    client_secret: str,
    cloud: str,
    subscription_ids: list[str],
    *,
    profile: HttpProfile = CHECK,
) -> CheckResult:
    """Validate input, sign in as the service principal, then read each subscription."""
    tenant_id = validate_tenant_id(tenant_id)
    client_id = validate_client_id(client_id)
    subscription_ids = validate_subscription_ids(subscription_ids)
    if not (client_secret or "").strip():
        raise ConnectionCheckError("missing_secret", "Enter the client secret's value.", field="client_secret")
    chosen = get_cloud(cloud)
    _, authority = endpoints(cloud)
    client_kwargs = arm_client_kwargs(cloud, profile=profile)
    context = _Context(tenant_id, client_id, client_secret, chosen, client_kwargs["base_url"], authority, profile)

    cred = sign_in(tenant_id, client_id, client_secret, cloud, profile=profile)
    try:
        subscriptions = []
        resolved_tenant = ""
        with SubscriptionClient(cred, **client_kwargs) as client:
            for subscription_id in subscription_ids:
                try:
                    sub = client.subscriptions.get(subscription_id)
                except Exception as exc:
                    raise _arm_error(exc, context, subscription_id) from None
                resolved_tenant = resolved_tenant or (sub.tenant_id or "")
                state = getattr(sub.state, "value", sub.state) or ""
                subscriptions.append(
                    {"id": sub.subscription_id or subscription_id, "name": sub.display_name or "", "state": str(state)}
                )
    finally:
        cred.close()
    return CheckResult(
        account_id=(resolved_tenant or tenant_id).lower(),  # the GUID, even when a domain was entered
        display_name=subscriptions[0]["name"],
        subscriptions=subscriptions,
        identity=client_id,
    )


@dataclass
class _Context:
    tenant_id: str
    client_id: str
    secret: str = field(repr=False)
    cloud: AzureCloud
    arm: str
    authority: str
    profile: HttpProfile

    def scrub(self, text: str) -> str:
        """Upstream text never carries the secret, but we do not rely on it."""
        return text.replace(self.secret, "[redacted]") if self.secret else text


def _sign_in_error(exc: Exception, ctx: _Context) -> ConnectionCheckError:
    network = _network_error(exc, ctx.authority, ctx.profile)
    if network is not None:
        return network
    text = str(exc)
    match = AADSTS_RE.search(text)
    code = int(match.group(1)) if match else None
    if code in (7000215, 7000216):
        return ConnectionCheckError(
            "invalid_secret",
            f"Microsoft Entra ID rejected the client secret for app {ctx.client_id}. Paste the secret's Value (not "
            "its Secret ID) from Certificates & secrets on the app registration.",
            field="client_secret",
        )
    if code == 7000222:
        return ConnectionCheckError(
            "secret_expired",
            f"The client secret for app {ctx.client_id} has expired. Create a new secret under Certificates & "
            "secrets on the app registration and paste its Value here.",
            field="client_secret",
        )
    if code == 700016:
        return ConnectionCheckError(
            "client_not_found",
            f"There is no application with client id {ctx.client_id} in tenant {ctx.tenant_id}. Check the "
            "Application (client) ID on the app registration's overview page, and that the app lives in this tenant.",
            field="client_id",
        )
    discovery_failed = any(
        isinstance(e, ValueError) and ("authority configuration" in str(e) or "OIDC Discovery" in str(e))
        for e in _chain(exc)
    )
    if code in (90002, 90023) or discovery_failed:
        return ConnectionCheckError(
            "tenant_not_found",
            f"Microsoft Entra ID has no tenant {ctx.tenant_id} in {ctx.cloud.label}. Check the Directory (tenant) "
            "ID on the app registration's overview page, and the cloud selected.",
            field="tenant_id",
        )
    if code == 500011:
        return ConnectionCheckError(
            "wrong_cloud",
            f"Tenant {ctx.tenant_id} cannot issue tokens for {ctx.arm}. Check that the cloud selected is the one "
            "the tenant lives in.",
            field="cloud",
        )
    if code is not None:
        first_sentence = ctx.scrub(text.split("AADSTS", 1)[1].split(". ", 1)[0])
        return ConnectionCheckError(
            "sign_in_failed", f"Microsoft Entra ID refused the sign-in: AADSTS{first_sentence[:300]}."
        )
    return ConnectionCheckError(
        "sign_in_failed",
        f"Signing in to Microsoft Entra ID at {_host(ctx.authority)} failed ({type(exc).__name__}). "
        "Check the tenant id, client id and secret.",
    )


def _arm_error(exc: Exception, ctx: _Context, subscription_id: str) -> ConnectionCheckError:
    network = _network_error(exc, ctx.arm, ctx.profile)
    if network is not None:
        return network
    status = getattr(exc, "status_code", None)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or ""
    if code == "SubscriptionNotFound" or (status == 404 and not code.startswith("Invalid")):
        return ConnectionCheckError(
            "subscription_not_found",
            f"Subscription {subscription_id} was not found. Check the id under Subscriptions in the Azure portal, "
            f"and that it belongs to tenant {ctx.tenant_id} in {ctx.cloud.label}.",
            field="subscriptions",
        )
    if code == "AuthorizationFailed" or status == 403:
        return ConnectionCheckError(
            "access_denied",
            f"App {ctx.client_id} has no access to subscription {subscription_id}. Assign it the Reader role on the "
            "subscription: Subscriptions → the subscription → Access control (IAM) → Add role assignment → Reader.",
            field="subscriptions",
        )
    if code == "InvalidAuthenticationTokenTenant":
        return ConnectionCheckError(
            "subscription_in_other_tenant",
            f"Subscription {subscription_id} belongs to a different tenant than {ctx.tenant_id}. Use the tenant "
            "the subscription trusts (its Directory on the subscription's overview page), or remove it here.",
            field="subscriptions",
        )
    if status == 429:
        return ConnectionCheckError(
            "throttled", "Azure is throttling requests for this subscription right now. Try again in a minute."
        )
    if isinstance(exc, ClientAuthenticationError) or status == 401:
        return ConnectionCheckError(
            "sign_in_failed", f"Azure Resource Manager did not accept the app's token ({code or status})."
        )
    if isinstance(exc, HttpResponseError):
        return ConnectionCheckError(
            "azure_error",
            f"Azure Resource Manager answered {status} {code} when reading subscription {subscription_id}. "
            "Try again; if it persists, Azure may be having trouble.",
        )
    return ConnectionCheckError("azure_error", f"Unexpected error talking to Azure ({type(exc).__name__}).")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for attr in ("inner_exception", "__cause__", "__context__", "reason"):
            linked = getattr(current, attr, None)
            if isinstance(linked, BaseException):
                todo.append(linked)
        todo.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))


def _network_error(exc: Exception, url: str, profile: HttpProfile) -> ConnectionCheckError | None:
    chain = list(_chain(exc))  # azure-identity wraps transport errors in ClientAuthenticationError
    if not any(isinstance(e, ServiceRequestError | ServiceResponseError) for e in chain):
        return None
    host = _host(url)
    text = " ".join(f"{type(e).__name__} {e}" for e in chain)
    if _is_tls_error(exc):
        return ConnectionCheckError(
            "tls_error",
            f"The TLS certificate of {host} could not be verified, so Cloustral did not send anything to it. "
            "If outbound traffic goes through a TLS-inspecting proxy, its CA must be trusted (AZURE_CA_BUNDLE).",
        )
    if re.search(r"Name or service not known|nodename nor servname|getaddrinfo|NameResolution|No address", text):
        reason = "its name could not be resolved"
    elif re.search(r"refused", text, re.I):
        reason = "the connection was refused"
    elif re.search(r"timed? ?out|timeout", text, re.I):
        reason = f"it did not answer within {profile.read_timeout:g} seconds"
    else:
        reason = "the connection failed"
    return ConnectionCheckError(
        "endpoint_unreachable",
        f"Could not reach {host}: {reason}. Check the cloud selected; if it persists, outbound HTTPS to {host} may be "
        "blocked or Azure may be having trouble.",
    )


def _is_tls_error(exc: BaseException) -> bool:
    chain = list(_chain(exc))
    return any(isinstance(e, ssl.SSLError) for e in chain) or any(
        "CERTIFICATE_VERIFY_FAILED" in str(e) or type(e).__name__ == "SSLError" for e in chain
    )


def _host(url: str) -> str:
    return urlsplit(url).netloc or url
