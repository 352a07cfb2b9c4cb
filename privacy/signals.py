"""Receivers: product events from the apps below, sign-ups after a purge, export files that go with
their job (also when an organization or a user is deleted and the job goes with it by cascade)."""

from __future__ import annotations

import logging

from allauth.account import signals as allauth_signals
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from cloustral.product_events import product_event
from privacy import events, exports
from privacy.models import ExportJob, Tombstone

logger = logging.getLogger(__name__)


@receiver(product_event)
def on_product_event(sender, request, name, properties, **kwargs):
    events.queue(request, name, properties)


@receiver(allauth_signals.user_signed_up)
def record_signup_after_purge(sender, request, user, sociallogin=None, **kwargs):
    """A sign-up with the address or Google account of a purged account is allowed, and recorded."""
    google_ids = [a.uid for a in getattr(sociallogin, "accounts", None) or [] if a.provider == "google"]
    if sociallogin is not None and getattr(sociallogin, "account", None) is not None:
        if sociallogin.account.provider == "google":
            google_ids.append(sociallogin.account.uid)
    matches = Tombstone.objects.filter(email__iexact=user.email)
    if google_ids:
        matches = matches | Tombstone.objects.filter(google_id__in=google_ids)
    found = matches.update(signed_up_again_at=timezone.now())
    if found:
        logger.info("sign-up matching %s tombstone(s) of purged accounts (user %s)", found, user.pk)


@receiver(post_delete, sender=ExportJob)
def remove_export_file(sender, instance: ExportJob, **kwargs):
    exports.remove_file(instance)
