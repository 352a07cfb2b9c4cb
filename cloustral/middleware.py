"""Response headers Django's SecurityMiddleware does not send.

- ``Permissions-Policy`` on every response: no page of Cloustral uses the camera, microphone,
  location, USB & co., so a script injected into one (or a framed third party) cannot either.
  ``payment=(self)`` leaves room for Stripe Elements on our own pages.
- ``Cache-Control: no-store`` on everything answered to a signed-in user (pages, htmx partials, a
  resource's raw JSON, exports: an inventory, findings, a connection's settings): neither the
  browser's back/forward cache nor a shared proxy keeps a copy for
  the next person at that computer. A response that already chose its caching keeps it, and static
  files (served by WhiteNoise before authentication, with their own long-lived caching) never get it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers

PERMISSIONS_POLICY = ", ".join(
    f"{feature}={allow}"
    for feature, allow in (
        ("accelerometer", "()"),
        ("autoplay", "()"),
        ("camera", "()"),
        ("display-capture", "()"),
        ("geolocation", "()"),
        ("gyroscope", "()"),
        ("hid", "()"),
        ("magnetometer", "()"),
        ("microphone", "()"),
        ("midi", "()"),
        ("payment", "(self)"),
        ("publickey-credentials-get", "()"),
        ("screen-wake-lock", "()"),
        ("serial", "()"),
        ("usb", "()"),
        ("xr-spatial-tracking", "()"),
    )
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if response.has_header("Cache-Control"):
            return response
        # request.user exists only once AuthenticationMiddleware ran (not for WhiteNoise's static files).
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
