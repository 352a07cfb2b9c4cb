"""Requests per minute, per key, counted on the shared cache (Redis in production), so the limit
holds across every web process. A fixed one-minute window: ``incr`` is atomic in Redis, and the
answer past the limit is 429 with ``Retry-After`` (seconds until the window ends)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

WINDOW = 60


def limit_per_minute() -> int:
    return int(getattr(settings, "API_RATE_LIMIT_PER_MINUTE", 600))


def hit(key_id: int, now: float | None = None) -> tuple[bool, int]:
    """Count one request of ``key_id``: (allowed, seconds until the window ends)."""
    now = time.time() if now is None else now
    window = int(now // WINDOW)
    name = f"api:rate:{key_id}:{window}"
    cache.add(name, 0, timeout=WINDOW * 2)
    try:
        count = cache.incr(name)
    except ValueError:  # evicted between add and incr: start the window again
        cache.set(name, 1, timeout=WINDOW * 2)
        count = 1
    retry_after = max(1, int((window + 1) * WINDOW - now + 0.999))
    return count <= limit_per_minute(), retry_after


class PerKeyRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        principal = request.auth
        if principal is None:
            return True  # refused with 401 anyway
        allowed, self._wait = hit(principal.key.pk)
        return allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
