"""Small writes on privacy rows made by staff from the support console (support/ audit-logs them)."""

from __future__ import annotations

from django.utils import timezone

from privacy.models import ContactRequest


def do_mark_contact_answered(contact: ContactRequest) -> bool:
    """Mark a contact request answered. False when it already was (nothing changes then)."""
    now = timezone.now()
    updated = ContactRequest.objects.filter(pk=contact.pk, handled_at__isnull=True).update(handled_at=now)
    if updated:
        contact.handled_at = now
    return bool(updated)
