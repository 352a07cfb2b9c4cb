"""The context Azure collectors run in: one subscription of one connection, one SDK client per client kind,
every Resource Manager call counted and every HTTP attempt paced by the client-side rate limiter.

Clients are built the one way the product builds them (``connections.providers.azure``)::

    NetworkManagementClient(credential, subscription_id, **arm_client_kwargs(cloud))

so endpoints, TLS trust, timeouts and the SCAN retry policy (429 + Retry-After honoured, bounded) are
decided there. Two policies are added here, as ``AwsContext`` does with botocore's events:
- a per-call policy (before the retry policy, like ``before-call``) counts each operation call and each
  page of a list (each ``nextLink`` is its own call) once, however many times it is retried;
- a per-retry policy (after the retry policy, like ``before-send``) takes a token from the bucket of the
  call's resource provider before every HTTP attempt, the first and each retry, so a throttled call's
  retries are paced like any other call (on top of azure-core's own backoff and Retry-After).

Azure lists are subscription-wide, so the context's region is "global"; each record carries its own
region (the resource's location).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from azure.core.pipeline.policies import SansIOHTTPPolicy

from connections.providers.azure import SCAN, HttpProfile, arm_client_kwargs
from inventory.ratelimit import AZURE_QUOTAS


def _client_class(kind: str) -> Callable[..., Any]:
    # Imported on demand: each azure-mgmt-* package is large and a scan may not need them all.
    if kind == "resource":
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient
    if kind == "network":
        from azure.mgmt.network import NetworkManagementClient

        return NetworkManagementClient
    if kind == "compute":
        from azure.mgmt.compute import ComputeManagementClient

        return ComputeManagementClient
    if kind == "storage":
        from azure.mgmt.storage import StorageManagementClient

        return StorageManagementClient
    if kind == "sql":
        from azure.mgmt.sql import SqlManagementClient

        return SqlManagementClient
    if kind == "keyvault":
        from azure.mgmt.keyvault import KeyVaultManagementClient

        return KeyVaultManagementClient
    raise KeyError(f"Unknown Azure client kind {kind!r}")


CLIENT_KINDS = ("resource", "network", "compute", "storage", "sql", "keyvault")

_NAMESPACE = re.compile(r"/providers/([A-Za-z0-9.]+)/", re.I)


def namespace_of(url: str) -> str:
    """The resource provider a Resource Manager URL calls ("Microsoft.Network"); "Microsoft.Resources"
    for resource groups and the generic resource list, which have no ``/providers/`` segment. For an
    extension resource (``.../vaults/kv/providers/Microsoft.Insights/diagnosticSettings``) it is the last
    provider in the path: the one that answers."""
    path = url.split("?", 1)[0]
    found = _NAMESPACE.findall(path + "/")
    if not found:
        return "Microsoft.Resources"
    # Namespaces are case-insensitive and some paths are built lowercased: one provider, one bucket.
    return _CANONICAL_NAMESPACES.get(found[-1].lower(), found[-1])


_CANONICAL_NAMESPACES = {name.lower(): name for name in AZURE_QUOTAS}


class _NoLimit:
    def acquire(self, service: str, region: str) -> None:
        return None


class _CountCall(SansIOHTTPPolicy):
    """Counts every call a client makes (each page of a list included), once: it runs before the retries."""

    def __init__(self, ctx: AzureContext) -> None:
        super().__init__()
        self._ctx = ctx

    def on_request(self, request: Any) -> None:
        self._ctx._before_call()


class _PaceAttempt(SansIOHTTPPolicy):
    """Takes a token before every HTTP attempt (the retries included): it runs after the retry policy."""

    def __init__(self, ctx: AzureContext) -> None:
        super().__init__()
        self._ctx = ctx

    def on_request(self, request: Any) -> None:
        self._ctx._before_send(namespace_of(request.http_request.url))


@dataclass
class AzureContext:
    """What Azure collectors get: one subscription (``account_id``) of one connection.

    ``credential`` is the connection's ``ClientSecretCredential`` (``connections.providers.azure.credential``);
    the engine owns it and may share it between the contexts of a connection's subscriptions.
    """

    credential: Any = field(repr=False)
    account_id: str  # the subscription id (lowercase GUID)
    cloud: str = "public"
    limiter: Any = field(default_factory=_NoLimit)  # .acquire(service, region) before every call
    profile: HttpProfile = SCAN
    region: str = "global"  # Azure lists are subscription-wide; records carry their own location
    provider: str = "azure"
    api_calls: int = 0
    detail_concurrency: int = 4  # for per-resource detail calls (see inventory.collectors.aws._util.fan_out)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def subscription_id(self) -> str:
        return self.account_id

    def client(self, kind: str) -> Any:
        """The SDK client of ``kind`` (resource, network, compute, storage, sql, keyvault) for this
        subscription: built once, then shared by every collector of the context."""
        with self._lock:
            made = self._clients.get(kind)
            if made is None:
                cls = _client_class(kind)
                made = cls(
                    self.credential,
                    self.account_id,
                    per_call_policies=[_CountCall(self)],
                    per_retry_policies=[_PaceAttempt(self)],
                    **arm_client_kwargs(self.cloud, profile=self.profile),
                )
                self._clients[kind] = made
            return made

    def _before_call(self) -> None:
        with self._lock:
            self.api_calls += 1

    def _before_send(self, service: str) -> None:
        self.limiter.acquire(service, self.region)

    def _operation(self, kind: str, operation: str) -> Callable[..., Any]:
        target: Any = self.client(kind)
        for part in operation.split("."):  # "virtual_networks.list_all"
            target = getattr(target, part)
        return target

    def items(self, kind: str, operation: str, *args: Any, **kwargs: Any) -> Iterator[dict]:
        """Every item of a list operation (following nextLink), as the ARM JSON of the item."""
        for item in self._operation(kind, operation)(*args, **kwargs):
            yield as_json(item)

    def paginate(self, service: str, operation: str, *args: Any, **kwargs: Any) -> Iterator[dict]:
        """Every page of a list operation as ``{"value": [item JSON, ...]}``."""
        for page in self._operation(service, operation)(*args, **kwargs).by_page():
            yield {"value": [as_json(item) for item in page]}

    def call(self, service: str, operation: str, *args: Any, **kwargs: Any) -> dict:
        """One call; the answer as ARM JSON."""
        return as_json(self._operation(service, operation)(*args, **kwargs))

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for made in clients:
            made.close()


def as_json(model: Any) -> dict:
    """An SDK model as the ARM JSON it was read from (camelCase wire names, unknown fields kept).

    Collectors normalize from that JSON rather than from model attributes: it is what the REST
    reference documents, it does not change between SDK generations, and the fake serves it."""
    if model is None:
        return {}
    if isinstance(model, dict):
        return model
    as_dict = getattr(model, "as_dict", None)
    if as_dict is not None:
        try:
            return as_dict(exclude_readonly=False)
        except TypeError:
            pass
    serialize = getattr(model, "serialize", None)  # msrest-generation models
    if serialize is not None:
        return serialize(keep_readonly=True)
    return dict(model)
