from __future__ import annotations

import hashlib
import hmac
import secrets
import zoneinfo
from functools import cache

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as dj_tz
from django_otp.models import Device, ThrottlingMixin
from django_otp.oath import TOTP

from cloustral import crypto


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [
        (name, name.replace("_", " "))
        for name in sorted(zoneinfo.available_timezones())
        if "/" in name or name == "UTC"
    ]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known IANA timezone.")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person, keyed by email. Organizations and roles live in the orgs app."""

    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=dj_tz.now)
    age_confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the user confirmed being 18 or older."
    )
    signup_org_name = models.CharField(
        max_length=120, blank=True, help_text="Organization name given at sign-up; the organization is created from it."
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def has_mfa(self) -> bool:
        return TOTPDevice.objects.filter(user=self, confirmed=True).exists()


class AuditEvent(models.Model):
    """Who did what, when, from where. Never holds a secret: metadata is descriptive only."""

    class Action(models.TextChoices):
        SIGNUP = "signup", "Signed up"
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOGOUT = "logout", "Logged out"
        EMAIL_CONFIRMED = "email_confirmed", "Email confirmed"
        EMAIL_CHANGED = "email_changed", "Email changed"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PASSWORD_RESET = "password_reset", "Password reset"
        MFA_ENABLED = "mfa_enabled", "MFA enabled"
        MFA_DISABLED = "mfa_disabled", "MFA disabled"
        MFA_VERIFIED = "mfa_verified", "MFA verified"
        MFA_FAILED = "mfa_failed", "MFA code refused"
        RECOVERY_CODES_GENERATED = "recovery_codes_generated", "Recovery codes generated"
        RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
        PROFILE_UPDATED = "profile_updated", "Profile updated"
        # Re-authentication ("sudo mode", accounts/sudo.py); metadata says which proof
        REAUTHENTICATED = "reauthenticated", "Identity confirmed"
        REAUTHENTICATION_FAILED = "reauthentication_failed", "Identity confirmation refused"
        REAUTHENTICATION_CODE_SENT = "reauthentication_code_sent", "Confirmation code sent by email"
        # Organizations (recorded with ``org`` set; shown in the org's audit log)
        ORG_CREATED = "org_created", "Organization created"
        ORG_RENAMED = "org_renamed", "Organization renamed"
        ORG_MFA_REQUIRED = "org_mfa_required", "Two-factor authentication required"
        ORG_MFA_NOT_REQUIRED = "org_mfa_not_required", "Two-factor authentication no longer required"
        ORG_DELETED = "org_deleted", "Organization deleted"
        MEMBER_JOINED = "member_joined", "Member joined"
        MEMBER_REMOVED = "member_removed", "Member removed"
        MEMBER_LEFT = "member_left", "Member left"
        MEMBER_ROLE_CHANGED = "member_role_changed", "Role changed"
        OWNERSHIP_TRANSFERRED = "ownership_transferred", "Ownership transferred"
        INVITATION_SENT = "invitation_sent", "Invitation sent"
        INVITATION_RESENT = "invitation_resent", "Invitation resent"
        INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
        INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
        # Cloud connections (never with the secret itself)
        CONNECTION_CREATED = "connection_created", "Connection added"
        CONNECTION_UPDATED = "connection_updated", "Connection edited"
        CONNECTION_SECRET_ROTATED = "connection_secret_rotated", "Connection credentials changed"
        CONNECTION_TESTED = "connection_tested", "Connection tested"
        CONNECTION_ENABLED = "connection_enabled", "Connection enabled"
        CONNECTION_DISABLED = "connection_disabled", "Connection disabled"
        CONNECTION_DELETED = "connection_deleted", "Connection deleted"
        # Findings: suppressions, rules, policies and baselines
        FINDING_SUPPRESSED = "finding_suppressed", "Finding suppressed"
        FINDING_UNSUPPRESSED = "finding_unsuppressed", "Finding suppression lifted"
        RULE_CREATED = "rule_created", "Custom rule created"
        RULE_UPDATED = "rule_updated", "Custom rule edited"
        RULE_ENABLED = "rule_enabled", "Custom rule enabled"
        RULE_DISABLED = "rule_disabled", "Custom rule disabled"
        RULE_DELETED = "rule_deleted", "Custom rule deleted"
        POLICY_CREATED = "policy_created", "Policy created"
        POLICY_UPDATED = "policy_updated", "Policy edited"
        POLICY_DELETED = "policy_deleted", "Policy deleted"
        BASELINE_APPROVED = "baseline_approved", "Baseline approved"
        BASELINE_REMOVED = "baseline_removed", "Baseline removed"
        # Triage at scale (findings/bulk.py): bulk decisions and suppressions by rule and scope
        FINDINGS_EXPORTED = "findings_exported", "Findings exported"
        SCOPE_SUPPRESSION_CREATED = "scope_suppression_created", "Findings accepted by rule and scope"
        SCOPE_SUPPRESSION_LIFTED = "scope_suppression_lifted", "Acceptance by rule and scope lifted"
        # Privacy (privacy/): exports, account deletion and its grace period, restriction of processing
        DATA_EXPORT_REQUESTED = "data_export_requested", "Data export requested"
        DATA_EXPORT_DOWNLOADED = "data_export_downloaded", "Data export downloaded"
        ACCOUNT_DELETION_REQUESTED = "account_deletion_requested", "Account deletion requested"
        ACCOUNT_DELETION_CANCELLED = "account_deletion_cancelled", "Account deletion cancelled"
        ACCOUNT_PURGED = "account_purged", "Account deleted for good"
        ORG_PROCESSING_PAUSED = "org_processing_paused", "Processing paused"
        ORG_PROCESSING_RESUMED = "org_processing_resumed", "Processing resumed"
        # API keys (api/): the key's prefix and name, never the key itself
        API_KEY_CREATED = "api_key_created", "API key created"
        API_KEY_REVOKED = "api_key_revoked", "API key revoked"
        # Billing (billing/): plan changes, cancellations and payment failures; never card data
        BILLING_SUBSCRIBED = "billing_subscribed", "Plan subscribed"
        BILLING_PLAN_CHANGED = "billing_plan_changed", "Plan changed"
        BILLING_CANCEL_SCHEDULED = "billing_cancel_scheduled", "Plan cancellation scheduled"
        BILLING_CANCEL_UNDONE = "billing_cancel_undone", "Plan cancellation undone"
        BILLING_PAYMENT_METHOD_CHANGED = "billing_payment_method_changed", "Payment method changed"
        BILLING_PAYMENT_FAILED = "billing_payment_failed", "Payment failed"
        BILLING_DOWNGRADED = "billing_downgraded", "Moved to Free limits after unpaid invoices"
        BILLING_RESTORED = "billing_restored", "Plan restored after payment"
        BILLING_TRIAL_EXTENDED = "billing_trial_extended", "Trial extended"
        # Automations (automations/): never a channel's URL or signing secret
        AUTOMATION_CREATED = "automation_created", "Automation created"
        AUTOMATION_UPDATED = "automation_updated", "Automation edited"
        AUTOMATION_ENABLED = "automation_enabled", "Automation resumed"
        AUTOMATION_PAUSED = "automation_paused", "Automation paused"
        AUTOMATION_DELETED = "automation_deleted", "Automation deleted"
        AUTOMATION_RUN = "automation_run", "Automation run by hand"
        CHANNEL_CREATED = "channel_created", "Channel added"
        CHANNEL_UPDATED = "channel_updated", "Channel edited"
        CHANNEL_SECRET_ROTATED = "channel_secret_rotated", "Channel signing secret replaced"
        CHANNEL_TESTED = "channel_tested", "Channel tested"
        CHANNEL_DELETED = "channel_deleted", "Channel deleted"
        EMAIL_SUPPRESSION_CLEARED = "email_suppression_cleared", "Email address suppression cleared"
        # Sign-ins (accounts/devices.py)
        NEW_SIGN_IN_ALERT = "new_sign_in_alert", "Sign-in from a new device or network"
        # Support console (support/): staff looking at an organization's data, and their safe actions
        # (a trial extended is BILLING_TRIAL_EXTENDED, a suppression cleared EMAIL_SUPPRESSION_CLEARED).
        # Recorded with ``org`` when there is one, so the organization's owners see them in their log.
        SUPPORT_VIEWED = "support_viewed", "Cloustral support viewed"
        SUPPORT_CHANGED = "support_changed", "Cloustral support changed a record"
        SUPPORT_VERIFICATION_RESENT = "support_verification_resent", "Cloustral support resent a verification email"
        SUPPORT_SCAN_STARTED = "support_scan_started", "Cloustral support started a scan"
        SUPPORT_SCAN_CANCELLED = "support_scan_cancelled", "Cloustral support cancelled a scan"
        SUPPORT_DELETION_CANCELLED = "support_deletion_cancelled", "Cloustral support cancelled an account deletion"
        SUPPORT_CONTACT_ANSWERED = "support_contact_answered", "Cloustral support marked a contact request answered"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    actor_email = models.EmailField(blank=True, help_text="Kept when the user is gone, or for failed logins.")
    org = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
        db_index=False,  # covered by the (org, -created_at) index
        help_text="The organization the event belongs to (shown in its audit log); empty for personal events.",
    )
    action = models.CharField(max_length=64, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=dj_tz.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["actor", "-created_at"]), models.Index(fields=["org", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_email or self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def action_label(self) -> str:
        return self.Action(self.action).label if self.action in self.Action.values else self.action

    @property
    def target(self) -> str:
        """Who or what the event was about (an email address, an organization name), if anyone."""
        return str(self.metadata.get("target", "")) if isinstance(self.metadata, dict) else ""


class TOTPDevice(ThrottlingMixin, Device):
    """A TOTP authenticator whose shared secret is stored encrypted (cloustral.crypto), never in clear.

    django-otp's stock TOTPDevice keeps the key in plaintext; this one keeps the same semantics
    (drift tolerance, replay protection through ``last_t``, throttling) over an encrypted key.
    """

    encrypted_key = models.TextField()
    step = 30
    digits = 6
    tolerance = 1
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1, help_text="The time step of the last accepted token (replay guard).")
    created_at = models.DateTimeField(default=dj_tz.now)

    class Meta(Device.Meta):
        verbose_name = "TOTP device"

    # -- secret handling -------------------------------------------------------------------
    def _aad(self) -> str:
        # Bound to the owner: a secret copied onto another user's device does not decrypt.
        return f"accounts.totpdevice:{self.user_id}"

    def set_key(self, raw: bytes) -> None:
        self.encrypted_key = crypto.encrypt(raw.hex(), aad=self._aad())

    def bin_key(self) -> bytes:
        return bytes.fromhex(crypto.decrypt(self.encrypted_key, aad=self._aad()))

    @classmethod
    def new_key(cls) -> bytes:
        return secrets.token_bytes(20)

    def config_url(self, raw: bytes | None = None) -> str:
        from base64 import b32encode
        from urllib.parse import quote, urlencode

        key = raw if raw is not None else self.bin_key()
        issuer = settings.OTP_TOTP_ISSUER
        params = urlencode({"secret": b32encode(key).decode().rstrip("="), "issuer": issuer, "digits": self.digits})
        return f"otpauth://totp/{quote(issuer)}:{quote(self.user.email)}?{params}"

    # -- verification ----------------------------------------------------------------------
    def get_throttle_factor(self) -> int:
        return 1

    def verify_token(self, token) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        token = str(token).strip().replace(" ", "")
        if not (token.isdigit() and len(token) == self.digits):
            self.throttle_increment()
            return False
        try:
            key = self.bin_key()
        except crypto.DecryptionError:
            return False  # fail closed: an undecryptable secret verifies nothing
        totp = TOTP(key, self.step, 0, self.digits, self.drift)
        totp.time = dj_tz.now().timestamp()
        for offset in range(-self.tolerance, self.tolerance + 1):
            totp.drift = self.drift + offset
            if totp.t() > self.last_t and hmac.compare_digest(str(totp.token()).zfill(self.digits), token):
                self.last_t = totp.t()
                self.drift = totp.drift if self.confirmed else self.drift
                self.throttle_reset(commit=False)
                self.save(update_fields=["last_t", "drift", "throttling_failure_count", "throttling_failure_timestamp"])
                return True
        self.throttle_increment()
        return False


class RecoveryCode(models.Model):
    """A single-use recovery code, stored as a salted SHA-256 hash (codes carry 60 random bits)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    salt = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_tz.now)

    ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

    def __str__(self) -> str:
        return f"Recovery code of {self.user_id} ({'used' if self.used_at else 'unused'})"

    @staticmethod
    def normalize(code: str) -> str:
        return "".join(ch for ch in code.lower() if ch.isalnum())

    @staticmethod
    def digest(salt: str, code: str) -> str:
        return hashlib.sha256(f"{salt}:{RecoveryCode.normalize(code)}".encode()).hexdigest()

    @classmethod
    def generate(cls) -> str:
        raw = "".join(secrets.choice(cls.ALPHABET) for _ in range(12))
        return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"

    def matches(self, code: str) -> bool:
        return hmac.compare_digest(self.code_hash, self.digest(self.salt, code))


crypto.register_encrypted_field(TOTPDevice, "encrypted_key", TOTPDevice._aad)


class KnownDevice(models.Model):
    """A browser (family and operating system, from its user agent) on an IP network (/24 for IPv4, /48
    for IPv6) a person has signed in from. A sign-in from a browser or a network not seen before for
    the account sends a security alert (accounts/devices.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="known_devices")
    browser = models.CharField(max_length=100, help_text='"Firefox on Linux".')
    ip_network = models.CharField(max_length=64, help_text='"203.0.113.0/24".')
    first_seen = models.DateTimeField(default=dj_tz.now)
    last_seen = models.DateTimeField(default=dj_tz.now)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "browser", "ip_network"], name="knowndevice_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.browser} from {self.ip_network}"


class SignInEvent(models.Model):
    """One sign-in: when, from which IP address and network, with which browser, and whether either was
    new for the account (the security page and the support console show them)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_ins")
    at = models.DateTimeField(default=dj_tz.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    ip_network = models.CharField(max_length=64, blank=True)
    browser = models.CharField(max_length=100, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    new_browser = models.BooleanField(default=False)
    new_network = models.BooleanField(default=False)
    alerted = models.BooleanField(default=False, help_text="A new-sign-in alert was emailed.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"], name="signinevent_user_at")]

    def __str__(self) -> str:
        return f"Sign-in of {self.user_id} at {self.at:%Y-%m-%d %H:%M} ({self.browser}, {self.ip_network})"

    @property
    def is_new(self) -> bool:
        return self.new_browser or self.new_network
