from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.ratelimit import respond_429
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.template.loader import render_to_string

from cloustral.env import env_bool


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return env_bool("SIGNUP_OPEN", True)

    def pre_authenticate(self, request, **credentials) -> None:
        """Too many failed logins is an HTTP 429 with our page, not a form error."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as exc:
            if getattr(exc, "code", None) == "too_many_login_attempts":
                raise ImmediateHttpResponse(respond_429(request)) from None
            raise

    def add_message(self, request, level, message_template=None, message_context=None, extra_tags="", message=None):
        """No "Successfully signed in" while the second factor is still to come: the MFA page says it
        once the code is accepted."""
        if message_template == "account/messages/logged_in.txt":
            from accounts.mfa import needs_second_step

            if needs_second_step(request):
                return
        super().add_message(request, level, message_template, message_context, extra_tags, message)

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

    def get_app(self, request, provider, client_id=None):
        """A provider with no credentials (Google without GOOGLE_CLIENT_ID/SECRET) is off: its login
        and callback URLs are a 404, not allauth's SocialApp.DoesNotExist (a 500)."""
        from allauth.socialaccount.models import SocialApp

        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            raise Http404("This sign-in method is not available.") from None
