"""One-click unsubscribe links (RFC 8058): a signed token naming a person and an automation, which works
without logging in. Mail clients POST ``List-Unsubscribe=One-Click`` to it; a person following the link
sees a confirmation button (link scanners that fetch every URL unsubscribe no one)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "automations.unsubscribe.v1"


@dataclass(frozen=True)
class UnsubscribeToken:
    user_id: int
    automation_id: int


def make_token(user_id: int, automation_id: int) -> str:
    return signing.dumps([user_id, automation_id], salt=SALT, compress=True)


def read_token(token: str) -> UnsubscribeToken | None:
    try:
        user_id, automation_id = signing.loads(token, salt=SALT)
        return UnsubscribeToken(int(user_id), int(automation_id))
    except (signing.BadSignature, ValueError, TypeError):
        return None


def unsubscribe_url(user_id: int, automation_id: int) -> str:
    path = reverse("automations:unsubscribe", kwargs={"token": make_token(user_id, automation_id)})
    return settings.SITE_URL.rstrip("/") + path


def headers(url: str) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers that make mail clients show "Unsubscribe" and POST to it."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
