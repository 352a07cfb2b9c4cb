"""The support console keeps no data of its own: its staff views and actions go to the audit log
(accounts.AuditEvent). ``SupportConsole`` has no table; the console's permissions hang on it."""

from __future__ import annotations

from django.db import models


class SupportConsole(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("use_console", "Can use the support console (search, organization and person pages)"),
            ("resend_verification", "Can resend a verification email"),
            ("start_scan", "Can start a connection's scan"),
            ("cancel_scan", "Can cancel a scan"),
            ("clear_suppression", "Can clear a suppressed email address"),
            ("extend_trial", "Can extend a trial"),
            ("cancel_deletion", "Can cancel a pending account deletion"),
            ("answer_contact", "Can mark a contact request answered"),
        ]

    def __str__(self) -> str:
        return "Support console"
