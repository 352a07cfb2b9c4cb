"""The calls localstripe (the demo's and the end-to-end tests' Stripe) answers differently from Stripe,
translated at the HTTP boundary. Used only when ``STRIPE_LOCALSTRIPE`` is on; docs/billing.md lists them.

- A subscription item names its price as ``items[N][price]``; localstripe only knows the older
  ``items[N][plan]`` (a Stripe "plan" id is also a price id), and ignores or refuses ``price``.
- A subscription created with a trial stays ``incomplete`` in localstripe (it has no ``trialing``
  state): an incomplete subscription with a future ``trial_end`` and no invoice is reported as
  ``trialing``, as Stripe reports it.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import stripe
from stripe._http_client import HTTPClient

_SUBSCRIPTION_PATH = re.compile(r"^/v1/(subscriptions(/[^/]+)?|customers/[^/]+/subscriptions(/[^/]+)?)$")
_PRICE_KEY = re.compile(r"^(items\[\d+\])\[price\]$")


def translate_request(method: str, url: str, post_data: Any) -> Any:
    if method.upper() != "POST" or not isinstance(post_data, str | bytes) or not post_data:
        return post_data
    if not _SUBSCRIPTION_PATH.match(urlsplit(url).path):
        return post_data
    text = post_data.decode() if isinstance(post_data, bytes) else post_data
    pairs = [(_PRICE_KEY.sub(r"\1[plan]", key), value) for key, value in parse_qsl(text, keep_blank_values=True)]
    return urlencode(pairs)


def _fix_subscription(obj: dict) -> None:
    trial_end = obj.get("trial_end")
    if (
        obj.get("status") == "incomplete"
        and isinstance(trial_end, int)
        and trial_end > time.time()
        and not obj.get("latest_invoice")
    ):
        obj["status"] = "trialing"
        obj.setdefault("trial_start", obj.get("created"))


def _walk(value: Any) -> None:
    if isinstance(value, dict):
        if value.get("object") == "subscription":
            _fix_subscription(value)
        for child in value.values():
            _walk(child)
    elif isinstance(value, list):
        for child in value:
            _walk(child)


def translate_response(body: bytes | str) -> bytes | str:
    text = body.decode() if isinstance(body, bytes) else body
    if '"subscription"' not in text:
        return body
    try:
        data = json.loads(text)
    except ValueError:
        return body
    _walk(data)
    out = json.dumps(data)
    return out.encode() if isinstance(body, bytes) else out


class LocalstripeHTTPClient(HTTPClient):
    """stripe's default HTTP client, with the translations above."""

    name = "localstripe-compat"

    def __init__(self, inner: HTTPClient | None = None) -> None:
        super().__init__()
        self._inner = inner or stripe.new_default_http_client()

    def request(self, method, url, headers, post_data=None, **kwargs):
        post_data = translate_request(method, url, post_data)
        body, status, response_headers = self._inner.request(method, url, headers, post_data)
        return translate_response(body), status, response_headers

    def close(self) -> None:
        self._inner.close()
