"""The summary as it would be sent now, for the browser (the form's preview, an automation's Preview
page) and the demo: built like a real run's (since the automation's last summary), sent to no one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from automations import sending
from automations.digest import DigestFilters, build_digest
from automations.models import Automation
from automations.render import email_bodies, email_context, subject


def preview(org, filters: DigestFilters, automation: Automation | None, *, name: str, tz: str) -> dict[str, Any]:
    """{"digest", "preview_subject", "preview_text", and the email template's context}."""
    now = timezone.now()
    start = sending.previous_period_end(automation) if automation is not None else None
    if start is None:
        start = now - (sending.lookback(automation) if automation is not None else timedelta(days=1))
    name = name or "New automation"
    digest = build_digest(org, filters, start, now)
    context = email_context(digest, automation_name=name, tz=tz)
    text, _html = email_bodies(context)
    return {"digest": digest, "preview_text": text, "preview_subject": subject(digest, name), **context}


def preview_of(automation: Automation) -> dict[str, Any]:
    return preview(
        automation.org, DigestFilters.of(automation), automation, name=automation.name, tz=automation.timezone
    )
