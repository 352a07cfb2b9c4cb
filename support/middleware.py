"""Staff sessions expire sooner than customers' (absolute and idle limits), and every staff view of data
and every staff change in the console is written to the audit log."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from support import staff_audit

SINCE_KEY = "support_staff_since"
SEEN_KEY = "support_staff_seen"
# The idle clock is written at most this often (a session write on every request is wasted work).
SEEN_RESOLUTION_SECONDS = 60


def staff_session_expired(session, now: float) -> bool:
    """Whether this staff session is over; otherwise note the activity."""
    since = session.get(SINCE_KEY)
    seen = session.get(SEEN_KEY)
    if since is None or seen is None:
        session[SINCE_KEY] = session.get(SINCE_KEY) or now
        session[SEEN_KEY] = now
        return False
    if now - since > settings.STAFF_SESSION_MAX_AGE_MINUTES * 60:
        return True
    if now - seen > settings.STAFF_SESSION_IDLE_MINUTES * 60:
        return True
    if now - seen >= SEEN_RESOLUTION_SECONDS:
        session[SEEN_KEY] = now
    return False


class StaffSessionMiddleware:
    """A staff account's session ends STAFF_SESSION_MAX_AGE_MINUTES after it started and after
    STAFF_SESSION_IDLE_MINUTES without a request, whatever page it is on; the person signs in again."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            if staff_session_expired(request.session, time.time()):
                logout(request)
                messages.info(request, "Your staff session has ended. Sign in again to continue.")
                return redirect(f"{reverse('account_login')}?{urlencode({'next': request.get_full_path()})}")
            # The browser's cookie dies with the idle limit too (set once: each set is a session write).
            idle = settings.STAFF_SESSION_IDLE_MINUTES * 60
            if request.session.get("_session_expiry") != idle:
                request.session.set_expiry(idle)
        return self.get_response(request)


class StaffAuditMiddleware:
    """Records each admin page a staff member looks at and each change they make there (who, what,
    which organization), after the view answered: only what was actually shown or done."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        user = getattr(request, "user", None)
        if match is not None and "admin" in match.namespaces and user is not None and user.is_authenticated:
            if user.is_staff:
                staff_audit.record_admin_request(request, match, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and "admin" in match.namespaces:
            # Whatever an app's own do_* function records during this request says it came from here.
            request.audit_via = "support console"
            if request.user.is_authenticated and request.user.is_staff:
                staff_audit.before_view(request, match)
        return None
