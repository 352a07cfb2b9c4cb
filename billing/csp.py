"""The card pages load stripe.js, which talks to Stripe's API and frames its card fields: those pages
(only) extend the site's Content-Security-Policy with the origins of ``STRIPE_JS_URL`` and
``STRIPE_API_BASE`` (localstripe's in the demo and the end-to-end tests)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.views.decorators.csp import csp_override

# stripe.js opens 3-D Secure challenges in frames from here.
STRIPE_HOOKS_ORIGIN = "https://hooks.stripe.com"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def stripe_csp() -> dict:
    config = {key: list(value) for key, value in settings.SECURE_CSP.items()}
    js, api = _origin(settings.STRIPE_JS_URL), _origin(settings.STRIPE_API_BASE)
    frames = [js] + ([STRIPE_HOOKS_ORIGIN] if js == "https://js.stripe.com" else [])
    config["script-src"] = [*config.get("script-src", []), js]
    config["connect-src"] = [*config.get("connect-src", []), api, js]
    config["frame-src"] = [*config.get("frame-src", config.get("default-src", [])), *frames]
    return {key: list(dict.fromkeys(v for v in value if v)) for key, value in config.items()}


def with_stripe_csp(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return csp_override(stripe_csp())(view)(request, *args, **kwargs)

    return wrapper
