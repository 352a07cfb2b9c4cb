"""One HTTPS POST to a customer's URL (Slack, webhooks), safely.

- Only https, no credentials in the URL, no redirects followed.
- The host is resolved once and every address must be public: a webhook cannot reach Cloustral's own
  network (cloud metadata, databases). The connection goes to the checked address, with the TLS name
  and Host header of the URL, so a DNS answer that changes between the check and the request
  (rebinding) changes nothing. ``AUTOMATIONS_WEBHOOK_ALLOW_LOCAL`` lifts both rules for development
  and tests (http and loopback/private addresses).
- The outcome says whether trying again may help: 5xx answers, timeouts and connection errors may;
  a 4xx answer, a bad URL or a TLS failure will not.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import urllib3
from django.conf import settings

USER_AGENT = "Cloustral-Webhooks/1.0 (+https://cloustral.com)"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
ERROR_BODY_CHARS = 300


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why, for the person who entered it."""


@dataclass(frozen=True)
class HttpResult:
    ok: bool
    status: int | None = None
    retryable: bool = False
    error: str = ""


def allow_local() -> bool:
    return bool(getattr(settings, "AUTOMATIONS_WEBHOOK_ALLOW_LOCAL", False))


def check_url(url: str, *, hosts: tuple[str, ...] = ()) -> SplitResult:
    """The URL's parts, or UnsafeURL. ``hosts``: the only host names allowed (e.g. Slack's)."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        raise UnsafeURL("This is not a valid URL.") from None
    schemes = ("https", "http") if allow_local() else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeURL("The URL must start with https://.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeURL("Credentials in the URL are not accepted; use the signing secret instead.")
    if port is not None and not 0 < port < 65536:
        raise UnsafeURL("The URL's port is not valid.")
    host = parts.hostname.lower().rstrip(".")
    if hosts and host not in hosts and not (allow_local() and _is_loopback_name(host)):
        raise UnsafeURL(f"The URL must be on {' or '.join(hosts)}.")
    if not allow_local():
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not literal.is_global:
            raise UnsafeURL("The URL points to a private or local address.")
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise UnsafeURL("The URL points to a private or local address.")
    return parts


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve(host: str, port: int) -> str:
    """One address of ``host`` after checking all of them are public (UnsafeURL otherwise)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectionError(f"The host name {host} could not be resolved ({exc}).") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise ConnectionError(f"The host name {host} has no address.")
    if not allow_local():
        for address in addresses:
            if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
                raise UnsafeURL("The URL's host resolves to a private or local address.")
    return addresses[0]


def post(url: str, body: bytes, headers: dict[str, str], *, hosts: tuple[str, ...] = ()) -> HttpResult:
    """POST ``body`` (JSON) to ``url``; never raises."""
    try:
        parts = check_url(url, hosts=hosts)
        host = parts.hostname.lower().rstrip(".")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve(host, port)
    except UnsafeURL as exc:
        return HttpResult(ok=False, retryable=False, error=str(exc))
    except ConnectionError as exc:
        return HttpResult(ok=False, retryable=True, error=str(exc))
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            server_hostname=host,
            assert_hostname=host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    default_port = 443 if parts.scheme == "https" else 80
    request_headers = {
        "Host": host if port == default_port else f"{host}:{port}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers=request_headers,
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            snippet = response.read(ERROR_BODY_CHARS, decode_content=True).decode("utf-8", "replace")
        finally:
            response.release_conn()
    except urllib3.exceptions.TimeoutError:
        return HttpResult(ok=False, retryable=True, error="The request timed out.")
    except urllib3.exceptions.SSLError:
        return HttpResult(ok=False, retryable=False, error="The TLS connection failed (certificate or protocol).")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return HttpResult(ok=False, retryable=True, error=f"The connection failed: {type(exc).__name__}.")
    finally:
        pool.close()
    status = response.status
    if 200 <= status < 300:
        return HttpResult(ok=True, status=status)
    text = " ".join(snippet.split())[:ERROR_BODY_CHARS]
    error = f"HTTP {status}" + (f": {text}" if text else "")
    if 300 <= status < 400:
        return HttpResult(ok=False, status=status, retryable=False, error=error + " (redirects are not followed)")
    return HttpResult(ok=False, status=status, retryable=status >= 500, error=error)
