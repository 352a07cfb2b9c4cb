"""The privacy app's emails, through the account adapter like every email of the product: a text body
and an HTML version (templates/email/layout.html), sent by the configured backend (django-anymail in
production)."""

from __future__ import annotations

import contextlib
import zoneinfo

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone


def _zone(name: str | None):
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def build(
    template_prefix: str, to: str, context: dict, *, reply_to: str | None = None, tz: str | None = None
) -> EmailMessage:
    """``tz``: the recipient's timezone, for the times in the email (else the current one)."""
    context = {"site_url": settings.SITE_URL.rstrip("/"), "email": to, **context}
    zone = _zone(tz)
    with timezone.override(zone) if zone is not None else contextlib.nullcontext():
        msg = get_adapter().render_mail(template_prefix, to, context)
    if reply_to:
        msg.reply_to = [reply_to]
    return msg


def send(template_prefix: str, to: str, context: dict, *, reply_to: str | None = None, tz: str | None = None) -> None:
    """Render and send; a delivery failure raises (callers decide what to keep and log)."""
    build(template_prefix, to, context, reply_to=reply_to, tz=tz).send()


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path
