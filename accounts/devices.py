"""Sign-in history and the "new sign-in" security alert.

Every sign-in is recorded (time, IP address and its network, browser). When the browser (family and
operating system) or the IP network (/24 for IPv4, /48 for IPv6) is one the account never signed in
from, the person gets an email with a "this wasn't me" link to their security page. The first sign-in
of an account alerts no one (there is nothing to compare with), and neither does a session opened
without a client (``force_login`` in scripts and tests: no address at all).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import zoneinfo

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent, KnownDevice, SignInEvent

logger = logging.getLogger(__name__)

# Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
_BROWSERS = (
    ("Edge", re.compile(r"Edg(e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|HeadlessChrome/")),
    ("Safari", re.compile(r"Safari/")),
)
_SYSTEMS = (
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Android", re.compile(r"Android")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def describe_browser(user_agent: str) -> str:
    """ "Firefox on Linux", "Chrome on Android", "Unknown browser"."""
    ua = user_agent or ""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(ua)), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(ua)), "")
    if not browser and not system:
        return "Unknown browser"
    return f"{browser or 'A browser'} on {system}" if system else browser


def network_of(ip: str | None) -> str:
    """The address's network: /24 for IPv4, /48 for IPv6 (an address change inside it is not "new")."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def record_sign_in(request: HttpRequest | None, user) -> SignInEvent | None:
    """Record the sign-in and alert the person when it came from a new browser or network."""
    if request is None or not request.META.get("REMOTE_ADDR"):
        return None  # no client behind it (force_login): nothing to record or compare
    ip = audit.client_ip(request)
    user_agent = request.headers.get("user-agent", "")[:300]
    browser = describe_browser(user_agent)
    network = network_of(ip)
    now = timezone.now()
    known = KnownDevice.objects.filter(user=user)
    first_ever = not known.exists()
    new_browser = not first_ever and not known.filter(browser=browser).exists()
    new_network = not first_ever and not known.filter(ip_network=network).exists()
    try:
        with transaction.atomic():
            KnownDevice.objects.update_or_create(
                user=user, browser=browser, ip_network=network, defaults={"last_seen": now}, create_defaults={
                    "first_seen": now, "last_seen": now
                }
            )  # fmt: skip
    except IntegrityError:
        pass  # a twin sign-in recorded it a moment ago
    event = SignInEvent.objects.create(
        user=user,
        at=now,
        ip=ip or None,
        ip_network=network,
        browser=browser,
        user_agent=user_agent,
        new_browser=new_browser,
        new_network=new_network,
    )
    if new_browser or new_network:
        _alert(request, user, event)
    return event


def _zone(user) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(user, "timezone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _alert(request: HttpRequest, user, event: SignInEvent) -> None:
    site = settings.SITE_URL.rstrip("/")
    context = {
        "user": user,
        "event": event,
        "when": timezone.localtime(event.at, _zone(user)),
        "security_url": site + reverse("security") + "#sign-ins",
        "password_url": site + reverse("account_change_password"),
        "what": " and ".join(
            part for part, new in (("a browser", event.new_browser), ("a network", event.new_network)) if new
        ),
    }
    try:
        get_adapter(request).send_mail("accounts/email/new_sign_in", user.email, context)
    except Exception:
        # The sign-in itself must not fail because an email could not be sent; the event is kept.
        logger.exception("new sign-in alert for user %s could not be sent", user.pk)
        return
    SignInEvent.objects.filter(pk=event.pk).update(alerted=True)
    event.alerted = True
    audit.record(
        AuditEvent.Action.NEW_SIGN_IN_ALERT,
        request=request,
        actor=user,
        browser=event.browser,
        network=event.ip_network,
    )
