"""Plain Resource Manager reads (``GET {path}?api-version=...``) for the resource providers that have no
azure-mgmt-* package here (AKS, App Service, Cosmos DB, Container Registry, Azure Monitor, Defender for
Cloud, authorization...): one more SDK package per provider would add megabytes for a handful of GETs.

The calls go through the ``resource`` client's pipeline (``send_request``): the same credential, retry
policy (429 + Retry-After), timeouts and TLS trust as every SDK call, and the context's policies, so each
call and each page is counted once and each of its HTTP attempts (retries included) is paced by its
resource provider's quota (the provider in the path, not the ``resource`` client's). Errors are raised as
the SDKs raise them (``HttpResponseError`` with the ARM error code), for ``Details`` and the engine to
classify. Answers are the ARM JSON the REST reference documents, which is what collectors normalize."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    map_error,
)
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat

from connections.providers.azure import endpoints
from inventory.collectors.azure._util import Details

_ERROR_MAP = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}
MAX_PAGES = 1000  # a nextLink loop must end


def _send(ctx: Any, url: str, params: dict[str, str]) -> dict:
    response = ctx.client("resource").send_request(HttpRequest("GET", url, params=params))
    if response.status_code != 200:
        map_error(status_code=response.status_code, response=response, error_map=_ERROR_MAP)
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    body = response.json()
    return body if isinstance(body, dict) else {}


def get(ctx: Any, path: str, api_version: str, **query: str) -> dict:
    """One resource (or one answer) at ``path`` (``/subscriptions/...``, or a tenant-level ``/providers/...``)."""
    return _send(ctx, path, {"api-version": api_version, **query})


def items(ctx: Any, path: str, api_version: str, **query: str) -> Iterator[dict]:
    """Every item of the list at ``path``, following ``nextLink`` (only to the Resource Manager endpoint
    the connection uses: the bearer token is never sent elsewhere)."""
    arm_host = urlsplit(endpoints(ctx.cloud)[0]).netloc.lower()
    page = _send(ctx, path, {"api-version": api_version, **query})
    for _ in range(MAX_PAGES):
        for item in page.get("value") or []:
            if isinstance(item, dict):
                yield item
        next_link = page.get("nextLink")
        if not next_link:
            return
        parts = urlsplit(str(next_link))
        if parts.netloc.lower() != arm_host:
            raise HttpResponseError(message=f"Resource Manager sent a nextLink to another host ({parts.netloc}).")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        params["api-version"] = api_version
        page = _send(ctx, urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), "")), {})


class ArmDetails(Details):
    """``Details`` (per-resource calls whose failure makes only their fields unknown) over plain GETs.
    ``fields`` names the config keys one answer fills: all of them are listed as unreadable when it fails."""

    def _failed_all(self, fields: str | tuple[str, ...], error: HttpResponseError) -> None:
        for field in (fields,) if isinstance(fields, str) else fields:
            self._failed(field, error)

    def get_path(self, fields: str | tuple[str, ...], path: str, api_version: str, **query: str) -> dict | None:
        try:
            return get(self.ctx, path, api_version, **query)
        except HttpResponseError as error:
            self._failed_all(fields, error)
            return None

    def items_path(self, fields: str | tuple[str, ...], path: str, api_version: str, **query: str) -> list[dict] | None:
        """The list, or None when it could not be read. A resource provider the subscription has not
        registered has nothing to list: an empty list, not an unknown."""
        try:
            return list(items(self.ctx, path, api_version, **query))
        except HttpResponseError as error:
            if error_code(error) in UNREGISTERED_CODES:
                return []
            self._failed_all(fields, error)
            return None


UNREGISTERED_CODES = frozenset({"MissingSubscriptionRegistration", "NoRegisteredProviderFound"})


def error_code(error: HttpResponseError) -> str:
    return str(getattr(getattr(error, "error", None), "code", None) or "")
