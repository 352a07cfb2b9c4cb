"""``{% action_link "start-scan" connection.pk "Scan now" %}``: a link to a safe action's confirmation
page, shown only to staff who may take it."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html

from support.safe_actions import ACTIONS

register = template.Library()


@register.simple_tag(takes_context=True)
def action_link(context, key: str, object_id: int, label: str) -> str:
    action = ACTIONS[key]
    user = context["request"].user
    if not user.has_perm(action.permission):
        return ""
    url = reverse("admin:support_action", args=[key, object_id])
    return format_html('<a class="button" href="{}" data-testid="action-{}">{}</a>', url, key, label)
