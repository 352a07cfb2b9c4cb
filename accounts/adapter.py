from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.template.loader import render_to_string

from cloustral.env import env_bool


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return env_bool("SIGNUP_OPEN", True)

    def render_mail(self, template_prefix, email, context, headers=None):
        """Every email has a text and an HTML version; the HTML one is the text body in our layout
        unless the template set has its own ``_message.html``."""
        msg = super().render_mail(template_prefix, email, context, headers=headers)
        if not getattr(msg, "alternatives", None) and msg.content_subtype != "html":
            html = render_to_string(
                "email/layout.html", {"subject": msg.subject, "body": msg.body, "site_url": settings.SITE_URL}
            )
            msg.attach_alternative(html, "text/html")
        return msg


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return env_bool("SIGNUP_OPEN", True)
