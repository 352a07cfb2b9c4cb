"""A fake Microsoft Entra ID and Azure Resource Manager, over HTTPS on 127.0.0.1.

The real SDK clients talk to it unchanged: azure-identity's ClientSecretCredential (through MSAL) gets
its token from the Entra endpoints, and the azure-mgmt-* clients read Resource Manager paths with it.
Point Cloustral at it with the settings AZURE_AUTHORITY_HOST (``authority_url``), AZURE_ARM_ENDPOINT
(``arm_url``) and AZURE_CA_BUNDLE (``ca_bundle``: a test CA made at start-up, never committed).

Entra is served on ``https://localhost:<port>`` and Resource Manager on ``https://127.0.0.1:<port>``
(one socket, told apart by the Host header), so code that mixes up the two endpoints fails here as it
would against Azure.

What it answers, for any api-version:
- Entra, per tenant (GUID or verified domain): ``GET /{tenant}/v2.0/.well-known/openid-configuration``
  and ``POST /{tenant}/oauth2/v2.0/token`` (client_credentials), with the real AADSTS error bodies for
  an unknown tenant (90002), unknown app (700016), wrong secret (7000215), expired secret (7000222),
  no secret (7000216) and an unknown resource in the scope (500011).
- Resource Manager, with a bearer token from the fake (401 otherwise; a token only sees its tenant):
  ``/subscriptions``, ``/subscriptions/{id}``, ``/tenants``, and a resource tree per subscription:
  resource groups, the generic ``/resources`` lists, provider lists (``/providers/{ns}/{type}``, per
  subscription or resource group), child collections (``.../virtualNetworks/v/subnets``) and each
  resource by id. Lists page with ``nextLink`` (``page_size``). Anything else can be registered as JSON.
- Faults: 429 with Retry-After for the first N calls of a path, 403 AuthorizationFailed for a resource
  provider namespace or a whole subscription, any status/body for a path, and a stall (to test timeouts).

Standalone, for the demo: ``python -m tests.fakes.azure_arm --port 8443 --seed-demo`` serves ``demo.azure.seed_demo``'s
tenant (one app, two subscriptions, each with ``add_demo_estate``'s web tier) and prints the settings and
the principal; scripts/demo reads them. Tests use the same estate (tests/inventory/sync_helpers.py: ``azure``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import re
import secrets
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ENTRA_HOST = "localhost"
ARM_HOST = "127.0.0.1"
TOKEN_LIFETIME = 3599


# --- Certificates ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CertFiles:
    ca_cert: Path  # the bundle clients are told to trust
    server_cert: Path
    server_key: Path


def generate_certificates(directory: Path) -> CertFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cloustral fake Azure test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = CertFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files.server_key.chmod(0o600)
    return files


# --- State -----------------------------------------------------------------------------------------
@dataclass
class Tenant:
    tenant_id: str
    domain: str
    display_name: str


@dataclass
class App:
    tenant_id: str
    client_id: str
    secret: str = field(repr=False)
    expired: bool = False
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    display_name: str = "cloustral-reader"


@dataclass
class Subscription:
    subscription_id: str
    tenant_id: str
    display_name: str
    state: str = "Enabled"
    denied_clients: set[str] = field(default_factory=set)  # "*" denies every app

    def to_json(self) -> dict:
        return {
            "id": f"/subscriptions/{self.subscription_id}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "tags": {},
            "subscriptionId": self.subscription_id,
            "tenantId": self.tenant_id,
            "displayName": self.display_name,
            "state": self.state,
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
        }


@dataclass
class IssuedToken:
    tenant_id: str
    client_id: str
    resource: str
    expires_at: float


@dataclass
class Fault:
    path: str  # normalized
    prefix: bool
    method: str | None
    status: int
    body: Any
    headers: dict[str, str]
    times: int | None  # None: every time
    delay: float = 0.0  # seconds to stall before answering (status 0: then answer normally)
    hits: int = 0


@dataclass
class RecordedRequest:
    method: str
    host: str
    path: str
    query: dict[str, str]
    status: int
    at: float
    client_id: str | None  # the app whose token was presented, if any


def _norm(path: str) -> str:
    """Resource Manager paths are case-insensitive and ignore a trailing slash."""
    return "/" + unquote(path).strip("/").lower()


def _entra_error(status: int, error: str, code: int, description: str) -> tuple[int, dict]:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return status, {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
        f"Timestamp: {now}",
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def arm_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


class FakeAzure:
    """The fake's state and server. Use as a context manager, or start()/stop()."""

    def __init__(self, *, port: int = 0, cert_dir: Path | str | None = None, page_size: int = 100):
        self._lock = threading.RLock()
        self._requested_port = port
        self._tmp: tempfile.TemporaryDirectory | None = None
        if cert_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="cloustral-fake-azure-")
            cert_dir = self._tmp.name
        self.certs = generate_certificates(Path(cert_dir))
        self._default_page_size = page_size
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[ssl.SSLSocket] = set()
        self.reset()

    # -- lifecycle
    def start(self) -> FakeAzure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certs.server_cert, self.certs.server_key)
        self._stop.clear()
        self._server = _Server((ARM_HOST, self._requested_port), _Handler, self, context)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.name = f"fake-azure-{self.port}"
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()  # wakes stalled handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with self._lock:
                connections, self._connections = list(self._connections), set()
            for conn in connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> FakeAzure:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake is not running"
        return self._server.server_address[1]

    @property
    def arm_url(self) -> str:
        return f"https://{ARM_HOST}:{self.port}"

    @property
    def authority_url(self) -> str:
        return f"https://{ENTRA_HOST}:{self.port}"

    @property
    def ca_bundle(self) -> str:
        return str(self.certs.ca_cert)

    @property
    def arm_scope(self) -> str:
        return self.arm_url + "/.default"

    def reset(self) -> None:
        """Forget every tenant, app, subscription, resource, fault and recorded request."""
        with self._lock:
            # Requests still in flight from before (a stalled one) are dropped, not recorded in the new state.
            previous_wake = getattr(self, "_wake", None)
            self._wake = threading.Event()
            self._generation = getattr(self, "_generation", 0) + 1
            if previous_wake is not None:
                previous_wake.set()
            self.page_size = self._default_page_size
            self.tenants: dict[str, Tenant] = {}
            self.apps: dict[tuple[str, str], App] = {}
            self.subscriptions: dict[str, Subscription] = {}
            self.resource_groups: dict[str, dict] = {}  # normalized id -> json
            self.resources: dict[str, dict] = {}  # normalized id -> json
            self.registered: dict[tuple[str, str], tuple[int, Any, dict[str, str]]] = {}
            self.registered_queries: dict[tuple, tuple[int, Any, dict[str, str]]] = {}
            self.faults: list[Fault] = []
            self.denied_providers: set[tuple[str, str | None]] = set()
            self.tokens: dict[str, IssuedToken] = {}
            self.requests: list[RecordedRequest] = []

    # -- directory
    def add_tenant(self, tenant_id: str | None = None, *, domain: str | None = None, display_name: str = "") -> Tenant:
        tenant_id = (tenant_id or str(uuid.uuid4())).lower()
        domain = (domain or f"tenant{tenant_id[:8]}.onmicrosoft.com").lower()
        tenant = Tenant(tenant_id, domain, display_name or domain.split(".")[0].title())
        with self._lock:
            self.tenants[tenant_id] = tenant
        return tenant

    def add_app(
        self, tenant_id: str, client_id: str | None = None, secret: str | None = None, *, expired: bool = False
    ) -> App:
        """A service principal in ``tenant_id`` with one client secret (``expired`` answers AADSTS7000222)."""
        app = App(tenant_id.lower(), (client_id or str(uuid.uuid4())).lower(), secret or secrets.token_urlsafe(30))
        app.expired = expired
        with self._lock:
            self._tenant(tenant_id, required=True)
            self.apps[(app.tenant_id, app.client_id)] = app
        return app

    add_client = add_app

    def set_secret(self, tenant_id: str, client_id: str, secret: str, *, expired: bool = False) -> None:
        with self._lock:
            app = self.apps[(tenant_id.lower(), client_id.lower())]
            app.secret, app.expired = secret, expired

    def add_subscription(
        self,
        tenant_id: str,
        subscription_id: str | None = None,
        display_name: str = "Production",
        *,
        state: str = "Enabled",
    ) -> Subscription:
        sub = Subscription((subscription_id or str(uuid.uuid4())).lower(), tenant_id.lower(), display_name, state)
        with self._lock:
            self._tenant(tenant_id, required=True)
            self.subscriptions[sub.subscription_id] = sub
        return sub

    def deny_subscription(self, subscription_id: str, client_id: str = "*") -> None:
        """The app (every app by default) has no role on the subscription: 403 AuthorizationFailed."""
        with self._lock:
            self.subscriptions[subscription_id.lower()].denied_clients.add(client_id.lower())

    def deny_provider(self, namespace: str, subscription_id: str | None = None) -> None:
        """403 AuthorizationFailed for every path under ``/providers/{namespace}/`` (in one subscription or all)."""
        with self._lock:
            self.denied_providers.add((namespace.lower(), subscription_id.lower() if subscription_id else None))

    # -- resources
    def add_resource_group(
        self, subscription_id: str, name: str, location: str = "eastus", tags: dict | None = None
    ) -> dict:
        rg = {
            "id": f"/subscriptions/{subscription_id}/resourceGroups/{name}",
            "name": name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "tags": tags or {},
            "properties": {"provisioningState": "Succeeded"},
        }
        with self._lock:
            self.resource_groups[_norm(rg["id"])] = rg
        return rg

    def add_resource(
        self,
        subscription_id: str,
        resource_group: str,
        resource_type: str,
        name: str,
        *,
        location: str | None = "eastus",
        tags: dict | None = None,
        properties: dict | None = None,
        **extra: Any,
    ) -> dict:
        """A resource (``Microsoft.Network/virtualNetworks``, ``vnet1``) or a child resource
        (``Microsoft.Network/virtualNetworks/subnets``, ``vnet1/default``). Its resource group is created
        when missing. ``extra`` adds top-level fields (kind, sku, identity, managedBy, zones, etag...)."""
        namespace, *types = resource_type.split("/")
        names = name.split("/")
        if len(types) != len(names) or not types:
            raise ValueError(f"{resource_type!r} needs {len(types)} name segment(s), got {name!r}")
        rg_id = f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        if _norm(rg_id) not in self.resource_groups:
            self.add_resource_group(subscription_id, resource_group, location or "eastus")
        tail = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))
        body: dict[str, Any] = {"id": f"{rg_id}/providers/{namespace}/{tail}", "name": names[-1], "type": resource_type}
        if location is not None and len(types) == 1:
            body["location"] = location
        if len(types) == 1:
            body["tags"] = tags or {}
        body.update(extra)
        body["properties"] = {"provisioningState": "Succeeded", **(properties or {})}
        with self._lock:
            self.resources[_norm(body["id"])] = body
        return body

    def register(
        self,
        path: str,
        body: Any,
        *,
        status: int = 200,
        method: str = "GET",
        headers: dict | None = None,
        query: dict[str, str] | None = None,
    ):
        """Answer ``method path`` (any api-version) with this JSON, ahead of the built-in routes.
        A dict with a ``value`` list is paged like any list. With ``query``, only requests carrying those
        query parameters (values compared case-insensitively) get this answer, ahead of one without
        (``statusOnly=true``, ``$expand=...``)."""
        key = (method.upper(), _norm(path))
        answer = (status, body, dict(headers or {}))
        with self._lock:
            if query:
                wanted = tuple(sorted((k, str(v).lower()) for k, v in query.items()))
                self.registered_queries[(*key, wanted)] = answer
            else:
                self.registered[key] = answer

    def register_list(self, path: str, items: list[dict]) -> None:
        self.register(path, {"value": list(items)})

    # -- faults
    def fail(
        self,
        path: str,
        status: int,
        body: Any = None,
        *,
        times: int | None = None,
        method: str | None = None,
        headers: dict | None = None,
        prefix: bool = False,
        delay: float = 0.0,
    ) -> Fault:
        """Answer ``path`` (or every path under it with ``prefix``) with ``status`` and ``body``, for the
        first ``times`` calls (every call when None). Works on the Entra paths too."""
        fault = Fault(
            _norm(path), prefix, method.upper() if method else None, status, body, dict(headers or {}), times, delay
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def throttle(self, path: str, *, times: int = 1, retry_after: int = 1, prefix: bool = False) -> Fault:
        """429 with Retry-After for the first ``times`` calls of ``path``, as ARM throttles reads."""
        message = (
            "Number of 'read' requests for subscription actor exceeded. Please try again after "
            f"'{retry_after}' seconds after the additional tokens are available. "
            "Refer to https://aka.ms/arm-throttling for additional information."
        )
        return self.fail(
            path,
            429,
            arm_error("SubscriptionRequestsThrottled", message),
            times=times,
            prefix=prefix,
            headers={"Retry-After": str(retry_after), "x-ms-ratelimit-remaining-subscription-reads": "0"},
        )

    def stall(self, path: str, seconds: float, *, times: int | None = None, prefix: bool = False) -> Fault:
        """Hold the answer to ``path`` for ``seconds`` (then answer normally): for timeout tests."""
        return self.fail(path, 0, times=times, prefix=prefix, delay=seconds)

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self.tokens.values():
                token.expires_at = 0

    # -- inspection
    def calls(self, path: str | None = None, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (path is None or _norm(r.path) == _norm(path)) and (method is None or r.method == method.upper())
            ]

    # -- helpers for the handler
    def _tenant(self, tenant: str, required: bool = False) -> Tenant | None:
        tenant = tenant.lower()
        found = self.tenants.get(tenant) or next((t for t in self.tenants.values() if t.domain == tenant), None)
        if required and found is None:
            raise KeyError(f"no tenant {tenant!r}: add_tenant() first")
        return found

    def _take_fault(self, method: str, path: str) -> Fault | None:
        normalized = _norm(path)
        with self._lock:
            for fault in self.faults:
                if fault.method and fault.method != method:
                    continue
                matches = normalized == fault.path or (fault.prefix and normalized.startswith(fault.path + "/"))
                if matches and (fault.times is None or fault.hits < fault.times):
                    fault.hits += 1
                    return fault
        return None

    def _track(self, conn: ssl.SSLSocket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)


# --- HTTP ------------------------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler, fake: FakeAzure, context: ssl.SSLContext):
        self.fake = fake
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address):  # runs in the connection's own thread
        request.settimeout(10)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle/delayed-ACK stalls
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # e.g. a client that does not trust the test CA: it sees the TLS error
        self.fake._track(conn, True)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except OSError:
            pass
        finally:
            self.fake._track(conn, False)
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):  # keep test output quiet
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeAzure/1.0"
    timeout = 10
    server: _Server

    def log_message(self, format, *args):  # the stdlib signature; quiet
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    # -- plumbing
    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        self._path = url.path
        self._query = dict(parse_qsl(url.query, keep_blank_values=True))
        self._client_id: str | None = None
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        generation, wake = fake._generation, fake._wake
        fault = fake._take_fault(method, url.path)
        if fault is not None and fault.delay:
            wake.wait(fault.delay)
            if fake._stop.is_set() or fake._generation != generation:
                self.close_connection = True
                return
        if fault is not None and fault.status:
            status, body, headers = fault.status, fault.body, fault.headers
        elif host == ENTRA_HOST:
            status, body, headers = self._entra(method)
        elif host == ARM_HOST:
            status, body, headers = self._arm(method)
        else:
            status, body, headers = 404, arm_error("UnknownHost", f"Use {ENTRA_HOST} or {ARM_HOST}."), {}
        with fake._lock:
            if fake._generation == generation:
                fake.requests.append(
                    RecordedRequest(method, host, url.path, self._query, status, time.time(), self._client_id)
                )
        self._send(status, body, headers)

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-correlation-request-id", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    # -- Microsoft Entra ID
    def _entra(self, method: str) -> tuple[int, Any, dict]:
        fake = self.server.fake
        parts = self._path.strip("/").split("/")
        tenant_ref = parts[0] if parts else ""
        rest = "/".join(parts[1:])
        with fake._lock:
            tenant = fake._tenant(tenant_ref) if tenant_ref else None
        not_found = _entra_error(
            400,
            "invalid_tenant" if rest.endswith("openid-configuration") else "invalid_request",
            90002,
            f"Tenant '{tenant_ref}' not found. Check to make sure you have the correct tenant ID and are signing into "
            "the correct cloud. Check with your subscription administrator, this may happen if there are no active "
            "subscriptions for the tenant.",
        )
        if method == "GET" and rest == "v2.0/.well-known/openid-configuration":
            if tenant is None:
                return (*not_found, {})
            return 200, self._openid_configuration(tenant), {}
        if method == "GET" and rest == "discovery/v2.0/keys":
            return (200, {"keys": []}, {}) if tenant else (*not_found, {})
        if method == "POST" and rest == "oauth2/v2.0/token":
            if tenant is None:
                return (*not_found, {})
            return (*self._token(tenant), {})
        return 404, {"error": "not_found", "error_description": f"{method} {self._path} is not served"}, {}

    def _openid_configuration(self, tenant: Tenant) -> dict:
        base = f"{self.server.fake.authority_url}/{tenant.tenant_id}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def _token(self, tenant: Tenant) -> tuple[int, dict]:
        fake = self.server.fake
        form = dict(parse_qsl(self._body.decode(errors="replace"), keep_blank_values=True))
        client_id = form.get("client_id", "").lower()
        if form.get("grant_type") != "client_credentials":
            return _entra_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type 'client_credentials' only.",
            )
        with fake._lock:
            app = fake.apps.get((tenant.tenant_id, client_id))
        if app is None:
            return _entra_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant.display_name}'. "
                "This can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You may have sent your authentication request to the wrong "
                "tenant.",
            )
        secret = form.get("client_secret")
        if not secret:
            return _entra_error(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            )
        if not secrets.compare_digest(secret.encode(), app.secret.encode()):
            return _entra_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            )
        if app.expired:
            return _entra_error(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{app.client_id}' are expired. Visit the Azure portal to "
                "create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
                "credentials for added security: https://aka.ms/certCreds.",
            )
        scope = form.get("scope", "")
        resources = [s.removesuffix("/.default").rstrip("/") for s in scope.split() if s.endswith("/.default")]
        if len(resources) != 1 or resources[0].lower() != fake.arm_url:
            return _entra_error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {scope} was not found in the tenant named {tenant.display_name}. "
                "This can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You might have sent your authentication request to the "
                "wrong tenant.",
            )
        token = "fake-arm-" + secrets.token_urlsafe(32)
        with fake._lock:
            fake.tokens[token] = IssuedToken(
                tenant.tenant_id, app.client_id, resources[0], time.time() + TOKEN_LIFETIME
            )
        self._client_id = app.client_id
        return 200, {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME,
            "access_token": token,
        }

    # -- Azure Resource Manager
    def _arm(self, method: str) -> tuple[int, Any, dict]:
        fake = self.server.fake
        auth = self.headers.get("Authorization") or ""
        challenge = {
            "WWW-Authenticate": f'Bearer authorization_uri="{fake.authority_url}/", error="invalid_token", '
            "error_description=\"The authentication failed because of missing 'Authorization' header.\""
        }
        if not auth.startswith("Bearer "):
            return (
                401,
                arm_error("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."),
                challenge,
            )
        with fake._lock:
            token = fake.tokens.get(auth.removeprefix("Bearer ").strip())
        if token is None:
            return 401, arm_error("InvalidAuthenticationToken", "The access token is invalid."), challenge
        self._client_id = token.client_id
        if token.expires_at < time.time():
            return (
                401,
                arm_error(
                    "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time."
                ),
                challenge,
            )
        if "api-version" not in self._query:
            return (
                400,
                arm_error(
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                ),
                {},
            )
        path = _norm(self._path)
        with fake._lock:
            registered = next(
                (
                    answer
                    for (m, p, wanted), answer in fake.registered_queries.items()
                    if m == method and p == path and all(str(self._query.get(k, "")).lower() == v for k, v in wanted)
                ),
                None,
            ) or fake.registered.get((method, path))
        if method != "GET" and registered is None:
            return 405, arm_error("MethodNotAllowed", f"The fake is read-only: {method} {self._path}"), {}
        segments = path.strip("/").split("/") if path != "/" else []
        if segments and segments[0] == "subscriptions" and len(segments) >= 2:
            denied = self._check_subscription(token, segments[1], path)
            if denied is not None:
                return (*denied, {})
        if registered is not None:
            status, body, headers = registered
            if status == 200 and isinstance(body, dict) and isinstance(body.get("value"), list):
                return 200, self._page(body["value"]), headers
            return status, body, headers
        if path == "/subscriptions":
            with fake._lock:
                visible = [
                    s.to_json()
                    for s in fake.subscriptions.values()
                    if s.tenant_id == token.tenant_id and not ({"*", token.client_id} & s.denied_clients)
                ]
            return 200, self._page(visible), {}
        if path == "/tenants":
            with fake._lock:
                tenant = fake.tenants.get(token.tenant_id)
            value = (
                [
                    {
                        "id": f"/tenants/{tenant.tenant_id}",
                        "tenantId": tenant.tenant_id,
                        "tenantCategory": "Home",
                        "displayName": tenant.display_name,
                        "defaultDomain": tenant.domain,
                        "domains": [tenant.domain],
                    }
                ]
                if tenant
                else []
            )
            return 200, self._page(value), {}
        if segments and segments[0] == "subscriptions" and len(segments) >= 2:
            return (*self._resource_tree(segments), {})
        return 404, arm_error("InvalidResourceType", f"The resource type could not be found for {self._path}."), {}

    def _check_subscription(self, token: IssuedToken, subscription_id: str, path: str) -> tuple[int, dict] | None:
        fake = self.server.fake
        with fake._lock:
            sub = fake.subscriptions.get(subscription_id)
            denied_providers = set(fake.denied_providers)
        if sub is None:
            return 404, arm_error("SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")
        if sub.tenant_id != token.tenant_id:
            return 401, arm_error(
                "InvalidAuthenticationTokenTenant",
                f"The access token is from the wrong issuer '{fake.authority_url}/{token.tenant_id}/'. It must match "
                f"the tenant '{fake.authority_url}/{sub.tenant_id}/' associated with this subscription. Please use "
                f"the authority (URL) 'https://login.windows.net/{sub.tenant_id}' to get the token.",
            )
        action = "Microsoft.Resources/subscriptions/read"
        denied = bool({"*", token.client_id} & sub.denied_clients)
        # An extension resource (.../vaults/kv/providers/Microsoft.Insights/...) is its last provider's.
        match = ([None, *re.finditer(r"/providers/([^/]+)/([^/]+)", path)])[-1]
        if match and not denied:
            namespace = match.group(1)
            denied = (namespace, None) in denied_providers or (namespace, subscription_id) in denied_providers
            action = f"{self._original_case(namespace)}/{self._original_case(match.group(2))}/read"
        if denied:
            with fake._lock:
                app = fake.apps.get((token.tenant_id, token.client_id))
            object_id = app.object_id if app else token.client_id
            return 403, arm_error(
                "AuthorizationFailed",
                f"The client '{token.client_id}' with object id '{object_id}' does not have authorization to perform "
                f"action '{action}' over scope '{unquote(self._path).rstrip('/')}' or the scope is invalid. If access "
                "was recently granted, please refresh your credentials.",
            )
        return None

    def _original_case(self, lowered: str) -> str:
        for segment in unquote(self._path).split("/"):
            if segment.lower() == lowered:
                return segment
        return lowered

    def _resource_tree(self, segments: list[str]) -> tuple[int, Any]:
        fake = self.server.fake
        sid = segments[1]
        path = "/" + "/".join(segments)
        with fake._lock:
            sub = fake.subscriptions[sid]
            groups = {k: v for k, v in fake.resource_groups.items() if k.startswith(f"/subscriptions/{sid}/")}
            resources = {k: v for k, v in fake.resources.items() if k.startswith(f"/subscriptions/{sid}/")}
        if len(segments) == 2:
            return 200, sub.to_json()
        rg_path = "/".join(segments[:4])
        if len(segments) >= 4 and segments[2] == "resourcegroups" and "/" + rg_path not in groups:
            return 404, arm_error(
                "ResourceGroupNotFound", f"Resource group '{self._original_case(segments[3])}' could not be found."
            )
        # Collections have an odd number of segments once each "providers/{namespace}" pair is dropped.
        significant = [
            s for i, s in enumerate(segments) if not (s == "providers" or (i and segments[i - 1] == "providers"))
        ]
        if len(significant) % 2 == 0:  # one object
            if len(segments) == 4 and segments[2] == "resourcegroups":
                return 200, groups["/" + rg_path]
            if path in resources:
                return 200, resources[path]
            type_name = "/".join(self._original_case(s) for s in segments[5:]) if len(segments) > 5 else path
            return 404, arm_error(
                "ResourceNotFound",
                f"The Resource '{type_name}' under resource group '{self._original_case(segments[3])}' was not found. "
                "For more details please go to https://aka.ms/ARMResourceNotFoundFix"
                if len(segments) > 5
                else f"The Resource '{unquote(self._path)}' was not found.",
            )
        if path == f"/subscriptions/{sid}/resourcegroups":
            return 200, self._page(list(groups.values()))
        generic_fields = (
            "id",
            "name",
            "type",
            "location",
            "tags",
            "kind",
            "sku",
            "identity",
            "managedBy",
            "plan",
            "zones",
            "extendedLocation",
        )
        if segments[-1] == "resources" and len(segments) in (3, 5):
            prefix = path.removesuffix("/resources") + "/"
            top_level = [r for k, r in resources.items() if k.startswith(prefix) and r["type"].count("/") == 1]
            expand = self._query.get("$expand", "")
            return 200, self._page(
                [
                    {f: r[f] for f in generic_fields + (("properties",) if "properties" in expand else ()) if f in r}
                    for r in top_level
                ]
            )
        if len(segments) == 5 and segments[2] == "providers":  # /subscriptions/{id}/providers/{ns}/{type}
            wanted = f"{segments[3]}/{segments[4]}"
            return 200, self._page([r for r in resources.values() if r["type"].lower() == wanted])
        return 200, self._page([r for k, r in resources.items() if k.rsplit("/", 1)[0] == path])

    def _page(self, items: list) -> dict:
        size = max(1, self.server.fake.page_size)
        try:
            start = int(self._query.get("$skiptoken", "0"))
        except ValueError:
            start = 0
        page: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            query = {k: v for k, v in self._query.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(start + size)
            page["nextLink"] = f"{self.server.fake.arm_url}{self._path}?{urlencode(query)}"
        return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--cert-dir", help="where to write the test CA and server certificate (default: a temp dir)")
    parser.add_argument("--seed-demo", action="store_true", help="serve a demo tenant, app and subscriptions")
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args(argv)
    fake = FakeAzure(port=args.port, cert_dir=args.cert_dir, page_size=args.page_size).start()
    print(f"AZURE_ARM_ENDPOINT={fake.arm_url}")
    print(f"AZURE_AUTHORITY_HOST={fake.authority_url}")
    print(f"AZURE_CA_BUNDLE={fake.ca_bundle}")
    if args.seed_demo:
        from demo.azure import seed_demo

        for key, value in seed_demo(fake).items():
            print(f"demo {key}={value}")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # clean up the certificates on `kill` too
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
