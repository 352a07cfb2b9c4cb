"""Channels: who receives a summary, and one attempt at sending it through each kind of channel.

Secrets: a channel's URL (Slack's incoming-webhook URL is itself a credential) and its webhook signing
secret are encrypted with ``cloustral.crypto`` under associated data naming the channel; only this
module decrypts them, when sending. Pages show ``url_hint`` (scheme and host) and never the secret,
which is shown once when it is created (``new_secret``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from automations import http, render, signing, unsubscribe
from automations.digest import Digest
from automations.models import Channel, Delivery, EmailPreference, Unsubscription
from cloustral import crypto
from orgs.models import Membership

S = Delivery.Status


# --- secrets ---------------------------------------------------------------------------------------


def slack_hosts() -> tuple[str, ...]:
    return tuple(getattr(settings, "SLACK_WEBHOOK_HOSTS", ("hooks.slack.com",)))


def check_channel_url(kind: str, url: str) -> str:
    """The URL, stripped, or http.UnsafeURL with a message for the form."""
    url = (url or "").strip()
    http.check_url(url, hosts=slack_hosts() if kind == Channel.Kind.SLACK else ())
    return url


def set_url(channel: Channel, url: str) -> None:
    parts = urlsplit(url)
    channel.encrypted_url = crypto.encrypt(url, aad=channel.url_aad())
    channel.url_hint = f"{parts.scheme}://{parts.netloc}/…"[:200]


def read_url(channel: Channel) -> str:
    return crypto.decrypt(channel.encrypted_url, aad=channel.url_aad()) if channel.encrypted_url else ""


def new_secret(channel: Channel) -> str:
    """A new signing secret on the channel (not saved); the caller shows it once."""
    secret = signing.new_secret()
    channel.encrypted_secret = crypto.encrypt(secret, aad=channel.secret_aad())
    channel.secret_created_at = timezone.now()
    return secret


def read_secret(channel: Channel) -> str:
    return crypto.decrypt(channel.encrypted_secret, aad=channel.secret_aad())


# --- recipients ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str
    name: str


def email_recipients(channel: Channel, automation=None) -> list[Recipient]:
    """The organization's current members the channel names (by role or by person), active, with their
    digest emails on and not unsubscribed from ``automation``. Never an address outside the organization."""
    roles = [r for r in channel.roles or [] if isinstance(r, str)]
    user_ids = [u for u in channel.member_ids or [] if isinstance(u, int)]
    if not roles and not user_ids:
        return []
    memberships = list(
        Membership.objects.for_org(channel.org_id)
        .filter(Q(role__in=roles) | Q(user_id__in=user_ids), user__is_active=True)
        .select_related("user")
        .order_by("user__email")
    )
    people = [m.user_id for m in memberships]
    opted_out = set(EmailPreference.objects.filter(user_id__in=people, digests=False).values_list("user_id", flat=True))
    if automation is not None:
        opted_out |= set(
            Unsubscription.objects.for_org(channel.org_id)
            .filter(automation=automation)
            .values_list("user_id", flat=True)
        )
    seen: set[str] = set()
    out = []
    for membership in memberships:
        user = membership.user
        email = (user.email or "").strip().lower()
        if not email or user.pk in opted_out or email in seen:
            continue
        seen.add(email)
        out.append(Recipient(user.pk, email, user.get_full_name()))
    return out


def targets(channel: Channel, automation=None) -> list[tuple[str, int | None]]:
    """(recipient, user id) of each delivery the channel makes for one summary."""
    if channel.kind == Channel.Kind.EMAIL:
        return [(r.email, r.user_id) for r in email_recipients(channel, automation)]
    return [(channel.url_hint or channel.kind, None)]


# --- one attempt -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str  # a Delivery.Status
    retryable: bool = False
    error: str = ""
    provider_message_id: str = ""
    http_status: int | None = None


@dataclass(frozen=True)
class Content:
    """What is being sent, whichever the channel."""

    digest: Digest
    automation_id: int | None
    automation_name: str
    tz: str
    test: bool = False


def send(delivery: Delivery, channel: Channel, content: Content) -> Outcome:
    """One attempt at ``delivery``. Never raises for a delivery problem (an unreadable secret included)."""
    try:
        if channel.kind == Channel.Kind.EMAIL:
            return _send_email(delivery, channel, content)
        if channel.kind == Channel.Kind.SLACK:
            return _send_slack(channel, content)
        return _send_webhook(delivery, channel, content)
    except crypto.DecryptionError:
        return Outcome(S.FAILED, error="The channel's stored URL or secret cannot be read: edit the channel.")


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _send_email(delivery: Delivery, channel: Channel, content: Content) -> Outcome:
    extra = {"test": content.test, "channel_name": channel.name}
    headers = {"X-Cloustral-Delivery": str(delivery.uid)}
    if content.automation_id is not None and delivery.user_id is not None and not content.test:
        url = unsubscribe.unsubscribe_url(delivery.user_id, content.automation_id)
        extra.update(unsubscribe_url=url, preferences_url=_site(reverse("automations:notifications")))
        headers.update(unsubscribe.headers(url))
    context = render.email_context(content.digest, automation_name=content.automation_name, tz=content.tz, **extra)
    text, html = render.email_bodies(context)
    message = EmailMultiAlternatives(
        subject=delivery.subject or render.subject(content.digest, content.automation_name, test=content.test),
        body=text,
        to=[delivery.recipient],
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    message.deliveries = {delivery.recipient: delivery}
    message.delivery_category = delivery.category
    message.delivery_org_id = delivery.org_id
    try:
        message.send()
    except Exception:
        status, provider_id, error = message.delivery_results.get(delivery.recipient, (S.FAILED, "", "Not sent."))
        return Outcome(S.FAILED, retryable=True, error=error, provider_message_id=provider_id)
    status, provider_id, error = message.delivery_results.get(delivery.recipient, (S.FAILED, "", "Not sent."))
    return Outcome(status, error=error, provider_message_id=provider_id)


def _send_slack(channel: Channel, content: Content) -> Outcome:
    payload = render.slack_payload(
        content.digest, automation_name=content.automation_name, tz=content.tz, test=content.test
    )
    result = http.post(read_url(channel), render.json_body(payload), {}, hosts=slack_hosts())
    return _from_http(result)


def _send_webhook(delivery: Delivery, channel: Channel, content: Content) -> Outcome:
    payload = render.webhook_payload(
        content.digest,
        automation_id=content.automation_id,
        automation_name=content.automation_name,
        delivery=str(delivery.uid),
        test=content.test,
    )
    body = render.json_body(payload)
    headers = signing.signed_headers(
        read_secret(channel), body, delivery=str(delivery.uid), event="test" if content.test else "digest"
    )
    return _from_http(http.post(read_url(channel), body, headers))


def _from_http(result: http.HttpResult) -> Outcome:
    if result.ok:
        return Outcome(S.SENT, http_status=result.status)
    return Outcome(S.FAILED, retryable=result.retryable, error=result.error, http_status=result.status)
