from __future__ import annotations

from datetime import datetime

from django import template

from automations.render import local

register = template.Library()


@register.filter
def in_tz(value: datetime | None, tz: str):
    """The moment in the timezone ``tz`` (an automation's schedule), for display."""
    if value is None:
        return None
    return local(value, tz or "UTC")


@register.filter
def usd(value) -> str:
    try:
        return f"${float(value):,.2f}"
    except (TypeError, ValueError):
        return ""


@register.filter
def signed_usd(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return f"{'+' if number >= 0 else '−'}${abs(number):,.2f}"
