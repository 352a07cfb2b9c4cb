"""The email backend every email of the product goes through (``EMAIL_BACKEND``): it records each
recipient's delivery and never sends to a suppressed address, then hands the message to the real
backend (``DELIVERY_EMAIL_BACKEND``: anymail's in production, the console in development, locmem in
tests).

So sign-up and password emails (allauth), security alerts, invitations, billing and privacy emails are
logged and protected from bounced addresses without their apps knowing about automations. A sender can
say more about a message through optional attributes (docs/automations.md):

- ``message.delivery_category``: "system" (default), "digest" or "test";
- ``message.delivery_org_id``: the organization the email belongs to (shown in its delivery log);
- ``message.deliveries``: {address: Delivery} rows created by the sender (automations' own emails): the
  backend then reports into ``message.delivery_results`` instead of creating rows.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from cloustral.logging import redact_value

logger = logging.getLogger(__name__)
ERROR_CHARS = 1000

SENT = "sent"
SUPPRESSED = "suppressed"
FAILED = "failed"
REJECTED = "rejected"


def suppressed_addresses(addresses: list[str]) -> set[str]:
    from automations.models import Suppression

    if not addresses:
        return set()
    return set(Suppression.objects.active().filter(address__in=addresses).values_list("address", flat=True))


def _norm(address: str) -> str:
    from email.utils import parseaddr

    return parseaddr(address)[1].strip().lower()


def _clean_error(exc: BaseException) -> str:
    return str(redact_value(f"{type(exc).__name__}: {exc}"))[:ERROR_CHARS]


def _provider_ids(message) -> dict[str, tuple[str, str]]:
    """{address: (provider message id, anymail status)} after an anymail send; {} otherwise."""
    status = getattr(message, "anymail_status", None)
    out: dict[str, tuple[str, str]] = {}
    for address, recipient in (getattr(status, "recipients", None) or {}).items():
        out[_norm(address)] = (str(recipient.message_id or ""), str(recipient.status or ""))
    return out


class TrackingBackend(BaseEmailBackend):
    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        inner = getattr(settings, "DELIVERY_EMAIL_BACKEND", "") or "django.core.mail.backends.smtp.EmailBackend"
        if inner == f"{__name__}.TrackingBackend":
            raise ValueError("DELIVERY_EMAIL_BACKEND must be the real backend, not the tracking one.")
        self.inner = get_connection(inner, fail_silently=fail_silently, **kwargs)

    def open(self):
        return self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages or []:
            sent += self._send(message)
        return sent

    def _send(self, message) -> int:
        recipients = [a for a in (_norm(r) for r in message.recipients()) if a]
        if not recipients:
            return 0
        linked = getattr(message, "deliveries", None)
        rows = linked if linked is not None else self._record(message, recipients)
        results: dict[str, tuple[str, str, str]] = {}  # address: (status, provider id, error)
        message.delivery_results = results

        blocked = suppressed_addresses(recipients)
        for address in blocked:
            results[address] = (SUPPRESSED, "", "The address is suppressed after a bounce or complaint.")
        if blocked:
            for attr in ("to", "cc", "bcc"):
                setattr(message, attr, [r for r in getattr(message, attr) if _norm(r) not in blocked])
        allowed = [a for a in recipients if a not in blocked]
        sent = 0
        if allowed:
            try:
                sent = self.inner.send_messages([message]) or 0
            except Exception as exc:
                error = _clean_error(exc)
                for address in allowed:
                    results[address] = (FAILED, "", error)
                if linked is None:
                    self._update(rows, results)
                if not self.fail_silently:
                    raise
                return 0
            ids = _provider_ids(message)
            for address in allowed:
                provider_id, status = ids.get(address, ("", ""))
                if status in ("rejected", "invalid", "failed"):
                    results[address] = (REJECTED, provider_id, f"The provider refused this recipient ({status}).")
                else:
                    results[address] = (SENT, provider_id, "")
        if linked is None:
            self._update(rows, results)
        return sent

    # -- rows for emails of other apps --------------------------------------------------------------
    def _record(self, message, recipients: list[str]) -> dict[str, Any]:
        from automations.models import Delivery

        category = getattr(message, "delivery_category", Delivery.Category.SYSTEM)
        org_id = getattr(message, "delivery_org_id", None)
        now = timezone.now()
        rows = [
            Delivery(
                org_id=org_id,
                kind=Delivery.Kind.EMAIL,
                category=category,
                recipient=address[:254],
                subject=str(message.subject or "")[:300],
                status=Delivery.Status.SENDING,
                attempts=1,
                claimed_at=now,
                created_at=now,
                updated_at=now,
            )
            for address in dict.fromkeys(recipients)
        ]
        Delivery.objects.bulk_create(rows)
        return {row.recipient: row for row in rows}

    def _update(self, rows: dict[str, Any], results: dict[str, tuple[str, str, str]]) -> None:
        from automations.models import Delivery

        now = timezone.now()
        for address, row in rows.items():
            status, provider_id, error = results.get(address, (FAILED, "", "Not sent."))
            row.status = status
            row.provider_message_id = provider_id[:255]
            row.error = error
            row.sent_at = now if status == SENT else None
            row.updated_at = now
        Delivery.objects.unscoped().bulk_update(
            list(rows.values()), ["status", "provider_message_id", "error", "sent_at", "updated_at"]
        )
        for address, row in rows.items():
            if row.status != SENT:
                logger.warning("email to %s not sent: %s", address, row.status)
