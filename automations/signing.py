"""Signed webhooks: each request carries a timestamp and an HMAC-SHA256 of "<timestamp>.<body>" under the
channel's secret, so a receiver can check it came from Cloustral, unaltered, and recently (a replayed
request carries an old timestamp). docs/automations.md shows how to verify it; a test runs that snippet.

Headers::

    X-Cloustral-Timestamp: 1767225600
    X-Cloustral-Signature: v1=5f2b...(64 hex)
    X-Cloustral-Delivery: 0b8e...(uuid, the same on every retry of one delivery: dedupe on it)
    X-Cloustral-Event: digest | test
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-Cloustral-Signature"
TIMESTAMP_HEADER = "X-Cloustral-Timestamp"
DELIVERY_HEADER = "X-Cloustral-Delivery"
EVENT_HEADER = "X-Cloustral-Event"
SCHEME = "v1"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, *, delivery: str, event: str, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        DELIVERY_HEADER: delivery,
        EVENT_HEADER: event,
    }


def verify(
    secret: str, body: bytes, timestamp: str, sig: str, *, now: float | None = None, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """The receiver's check (the same as the documented snippet)."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance and hmac.compare_digest(signature(secret, timestamp, body), sig or "")
