"""An invitation link opened by someone not yet logged in is remembered in their session, so it can
be accepted after they sign up (or log in) in the same browser."""

from __future__ import annotations

from django.http import HttpRequest

from orgs.models import Invitation

PENDING_INVITATION_SESSION_KEY = "orgs.pending_invitation"


def remember_pending_invitation(request: HttpRequest, token: str) -> None:
    request.session[PENDING_INVITATION_SESSION_KEY] = token


def forget_pending_invitation(request: HttpRequest) -> None:
    if request is not None and hasattr(request, "session"):
        request.session.pop(PENDING_INVITATION_SESSION_KEY, None)


def pending_invitation_token(request: HttpRequest | None) -> str | None:
    if request is None or not hasattr(request, "session"):
        return None
    token = request.session.get(PENDING_INVITATION_SESSION_KEY)
    return token if isinstance(token, str) else None


def pending_invitation(request: HttpRequest | None) -> Invitation | None:
    """The invitation remembered in the session, if its link still works."""
    from orgs.actions import find_invitation

    token = pending_invitation_token(request)
    if not token:
        return None
    invitation = find_invitation(token)
    return invitation if invitation is not None and invitation.is_pending else None
