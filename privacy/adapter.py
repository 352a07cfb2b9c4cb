"""The account adapter (settings.ACCOUNT_ADAPTER): the project's, plus what account deletion needs.

A sign-up with the address of an account in its grace period creates nothing (the address is taken)
and, as allauth does for any taken address, shows the usual "check your email" page, so the page
tells nobody whether the address has an account. The email sent to the address then says what is
going on: the account is scheduled for deletion, and how to cancel that instead.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from accounts.adapter import AccountAdapter as BaseAccountAdapter
from privacy import deletion, mail
from privacy.models import DeletionRequest


class AccountAdapter(BaseAccountAdapter):
    def send_account_already_exists_mail(self, email: str) -> None:
        pending = DeletionRequest.objects.filter(user__email__iexact=email).first()
        if pending is None:
            return super().send_account_already_exists_mail(email)
        context = {
            "purge_after": pending.purge_after,
            "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
            "restore_url": mail.absolute(reverse("privacy:restore_request")),
            "contact_url": mail.absolute(reverse("privacy:contact")),
        }
        self.send_mail("privacy/email/signup_during_deletion", email, context)
        deletion.logger.info("sign-up refused: user %s is scheduled for deletion", pending.user_id)
