"""Email delivery failures, as the email provider reports them (the privacy policy promises they are
logged): anymail's tracking webhooks, with their authenticity checked, become ``EmailEvent`` rows
against the delivery and the address; a hard bounce or a complaint suppresses the address.

Amazon SES (the default provider) reports through Amazon SNS. anymail checks the webhook's basic auth
(``ANYMAIL_WEBHOOK_SECRET``) and that SNS's headers match the body; this view also verifies the SNS
message signature (the certificate comes from an ``https://sns.<region>.amazonaws.com/…pem`` URL only),
and, when ``AWS_SES_SNS_TOPIC_ARNS`` is set, that the message comes from one of those topics. Anything
forged or malformed is a 400 and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from urllib.parse import urlsplit

import urllib3
from anymail.exceptions import AnymailAPIError, AnymailWebhookValidationFailure
from anymail.signals import EventType
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpResponseBadRequest
from django.utils import timezone

from automations.models import Delivery, EmailEvent, Suppression

logger = logging.getLogger(__name__)

# The provider's events worth keeping: the failures (and what makes an address unusable).
RECORDED = {EventType.BOUNCED, EventType.COMPLAINED, EventType.REJECTED, EventType.FAILED}
DELIVERY_STATUS = {
    EventType.BOUNCED: Delivery.Status.BOUNCED,
    EventType.COMPLAINED: Delivery.Status.COMPLAINED,
    EventType.REJECTED: Delivery.Status.REJECTED,
    EventType.FAILED: Delivery.Status.FAILED,
}

SNS_CERT_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
CERT_CACHE_SECONDS = 24 * 3600
MAX_CERT_BYTES = 16 * 1024


# --- SNS signatures ---------------------------------------------------------------------------------


def sns_string_to_sign(message: dict) -> bytes:
    fields = SNS_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise AnymailWebhookValidationFailure("Unknown SNS message type.")
    return "".join(f"{name}\n{message[name]}\n" for name in fields if message.get(name) is not None).encode()


def fetch_certificate(url: str) -> bytes:
    """The PEM at ``url`` (already checked to be SNS's), cached for a day."""
    key = "automations:sns-cert:" + hashlib.sha256(url.encode()).hexdigest()
    pem = cache.get(key)
    if pem is None:
        response = urllib3.request("GET", url, timeout=urllib3.Timeout(connect=5, read=10), retries=2, redirect=False)
        if response.status != 200 or len(response.data) > MAX_CERT_BYTES:
            raise AnymailWebhookValidationFailure("The SNS signing certificate could not be fetched.")
        pem = response.data
        cache.set(key, pem, CERT_CACHE_SECONDS)
    return pem


def verify_sns_message(message: dict) -> None:
    """Raise AnymailWebhookValidationFailure unless ``message`` is signed by Amazon SNS (and comes from an
    allowed topic, when a list is configured)."""
    if not isinstance(message, dict):
        raise AnymailWebhookValidationFailure("Not an SNS message.")
    version = str(message.get("SignatureVersion", ""))
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)  # noqa: S303 (SNS's version 1 is SHA1)
    if algorithm is None:
        raise AnymailWebhookValidationFailure("Unsupported SNS signature version.")
    cert_url = str(message.get("SigningCertURL", ""))
    parts = urlsplit(cert_url)
    if parts.scheme != "https" or not SNS_CERT_HOST.match(parts.hostname or "") or not parts.path.endswith(".pem"):
        raise AnymailWebhookValidationFailure("The SNS signing certificate URL is not Amazon SNS's.")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        certificate = x509.load_pem_x509_certificate(fetch_certificate(cert_url))
        certificate.public_key().verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        raise AnymailWebhookValidationFailure("The SNS message signature is not valid.") from None
    topics = list(getattr(settings, "AWS_SES_SNS_TOPIC_ARNS", []) or [])
    if topics and message.get("TopicArn") not in topics:
        raise AnymailWebhookValidationFailure("The SNS topic is not one of ours.")


class SESTrackingWebhookView(AmazonSESTrackingWebhookView):
    """anymail's Amazon SES tracking webhook, plus SNS signature verification; malformed input is a 400."""

    # The SNS signature authenticates every message, so an unset basic-auth secret is not "insecure".
    warn_if_no_basic_auth = False

    def validate_request(self, request):
        verify_sns_message(self._parse_sns_message(request))

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except AnymailAPIError as exc:  # a body that is not an SNS message
            logger.warning("email tracking webhook refused: %s", type(exc).__name__)
            return HttpResponseBadRequest("Malformed notification.")


# --- events ---------------------------------------------------------------------------------------------


def is_hard(event) -> bool:
    """A complaint, or a bounce that is permanent (SES also reports transient ones as bounces)."""
    if event.event_type == EventType.COMPLAINED:
        return True
    if event.event_type != EventType.BOUNCED:
        return False
    esp = event.esp_event if isinstance(event.esp_event, dict) else {}
    bounce_type = (esp.get("bounce") or {}).get("bounceType")
    return bounce_type in (None, "Permanent")


def record_tracking_event(sender, event, esp_name: str = "", **kwargs) -> EmailEvent | None:
    """anymail's ``tracking`` signal: keep a failure against its delivery and address; suppress the address
    after a hard bounce or a complaint. A provider repeating an event changes nothing."""
    if event.event_type not in RECORDED:
        return None
    address = (event.recipient or "").strip().lower()[:254]
    if not address:
        return None
    message_id = str(event.message_id or "")[:255]
    delivery = None
    if message_id:
        delivery = Delivery.objects.unscoped().filter(provider_message_id=message_id, recipient=address).first()
    try:
        with transaction.atomic():
            recorded = EmailEvent.objects.create(
                delivery=delivery,
                org_id=delivery.org_id if delivery else None,
                address=address,
                event_type=event.event_type,
                esp_name=str(esp_name or "")[:64],
                event_id=str(event.event_id or "")[:255],
                message_id=message_id,
                description=str(event.description or "")[:2000],
                mta_response=str(event.mta_response or "")[:2000],
                occurred_at=event.timestamp or timezone.now(),
            )
            if delivery is not None:
                Delivery.objects.unscoped().filter(pk=delivery.pk).update(
                    status=DELIVERY_STATUS[event.event_type],
                    error=(recorded.description or recorded.mta_response or event.event_type)[:2000],
                    updated_at=timezone.now(),
                )
            if is_hard(event):
                reason = (
                    Suppression.Reason.COMPLAINED
                    if event.event_type == EventType.COMPLAINED
                    else (Suppression.Reason.BOUNCED)
                )
                if not Suppression.objects.active().filter(address=address).exists():
                    Suppression.objects.create(address=address, reason=reason, event=recorded)
    except IntegrityError:
        return None  # the same event again (or a suppression created meanwhile by its twin)
    logger.warning(
        "email delivery event %s from %s (delivery %s)", event.event_type, esp_name, getattr(delivery, "pk", None)
    )
    return recorded
