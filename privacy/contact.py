"""The contact page's messages: stored first (nothing is lost when email fails), then emailed to
SUPPORT_EMAIL through the configured provider, with a short acknowledgement to the sender.

The acknowledgement never repeats the message: the form is open to anyone, and an echo would let
them send any text to any address under our name. A failed delivery is logged (logger
``privacy.contact``, the error on the row for staff) and retried by ``retry_failed_deliveries``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from cloustral.logging import redact_value
from privacy import mail
from privacy.models import ContactRequest

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 6


def do_submit(*, name: str, email: str, topic: str, message: str, user=None) -> ContactRequest:
    contact = ContactRequest.objects.create(
        name=name, email=email, topic=topic, message=message, user=user if getattr(user, "pk", None) else None
    )
    deliver(contact.pk)
    acknowledge(contact.pk)
    return contact


def deliver(contact_id: int) -> bool:
    """Email the request to support. Idempotent: a delivered request is not sent again."""
    contact = ContactRequest.objects.filter(pk=contact_id, delivered_at__isnull=True).first()
    if contact is None:
        return True
    ContactRequest.objects.filter(pk=contact.pk).update(delivery_attempts=F("delivery_attempts") + 1)
    try:
        mail.send(
            "privacy/email/contact_support",
            settings.SUPPORT_EMAIL,
            {"contact": contact, "admin_path": f"/{settings.ADMIN_URL}privacy/contactrequest/{contact.pk}/change/"},
            reply_to=contact.email,
        )
    except Exception as exc:
        logger.error(
            "contact request %s could not be delivered to support: %s",
            contact.pk,
            type(exc).__name__,
            extra={"contact_request": contact.pk, "delivery": "failed"},
        )
        error = redact_value(f"{type(exc).__name__}: {exc}")
        ContactRequest.objects.filter(pk=contact.pk).update(last_error=str(error)[:300])
        return False
    ContactRequest.objects.filter(pk=contact.pk).update(delivered_at=timezone.now(), last_error="")
    return True


def acknowledge(contact_id: int) -> bool:
    contact = ContactRequest.objects.filter(pk=contact_id, acknowledged_at__isnull=True).first()
    if contact is None:
        return True
    try:
        mail.send("privacy/email/contact_ack", contact.email, {"contact": contact})
    except Exception as exc:
        logger.error(
            "acknowledgement of contact request %s could not be sent: %s",
            contact.pk,
            type(exc).__name__,
            extra={"contact_request": contact.pk, "delivery": "failed"},
        )
        return False
    ContactRequest.objects.filter(pk=contact.pk).update(acknowledged_at=timezone.now())
    return True


def retry_failed_deliveries(now=None) -> int:
    """Send again the requests support has not received (beat, every 10 minutes), up to MAX_ATTEMPTS."""
    now = now or timezone.now()
    pending = ContactRequest.objects.filter(
        delivered_at__isnull=True, delivery_attempts__lt=MAX_ATTEMPTS, created_at__gte=now - timedelta(days=7)
    ).values_list("pk", flat=True)
    return sum(1 for pk in list(pending) if deliver(pk))
