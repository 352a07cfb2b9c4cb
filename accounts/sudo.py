"""Re-authentication ("sudo mode") as a call, for views that must first find their object: another
org's object must be a 404 before anyone is asked for a password."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.http import HttpRequest


@reauthentication_required
def _recently_authenticated(request: HttpRequest) -> None:
    return None


def require_sudo(request: HttpRequest) -> None:
    """Raises allauth's ReauthenticationRequired (its middleware asks for the password and resumes
    the request) unless the user entered their password in the last few minutes."""
    _recently_authenticated(request)
