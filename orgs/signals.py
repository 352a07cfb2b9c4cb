"""Sign-up creates the user's organization; invitations are matched at sign-up, when an address is
confirmed, and at login (the link opened before signing up or logging in, kept in the session)."""

from __future__ import annotations

import logging

from allauth.account import signals as allauth_signals
from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from orgs import actions
from orgs.actions import OrgActionError
from orgs.pending import forget_pending_invitation, pending_invitation_token

logger = logging.getLogger(__name__)


def _message(request, level: int, text: str) -> None:
    # Signals also fire from code without a browser session (tests, commands): messages are optional.
    if request is not None and hasattr(request, "_messages"):
        messages.add_message(request, level, text)


def _accept_session_invitation(request, user) -> None:
    token = pending_invitation_token(request)
    if not token:
        return
    invitation = actions.find_invitation(token)
    if invitation is None or not invitation.is_pending:
        forget_pending_invitation(request)
        return
    problem = actions.invitation_problem(invitation, user)
    if problem:
        # Not this account's invitation (or its address is not verified yet): keep it for later.
        return
    try:
        membership = actions.do_accept_invitation(invitation, user, request=request)
    except OrgActionError:
        return
    finally:
        if invitation.accepted_at is not None:
            forget_pending_invitation(request)
    _message(request, messages.SUCCESS, f"Welcome to {invitation.org.name}. You joined as {membership.role_label}.")


def _accept_for_verified_emails(request, user) -> None:
    for address in EmailAddress.objects.filter(user=user, verified=True):
        for membership in actions.accept_invitations_for_email(user, address.email, request=request):
            _message(request, messages.SUCCESS, f"You joined {membership.org.name} as {membership.role_label}.")


@receiver(allauth_signals.user_signed_up)
def create_organization_on_signup(sender, request, user, **kwargs):
    # The organization named at sign-up. Someone joining through an invitation may leave the name
    # empty (the sign-up form allows it then): they get no organization of their own.
    if user.signup_org_name and not user.memberships.exists():
        actions.do_create_organization(user, user.signup_org_name, request=request)
    # A sign-up whose address is verified at once (Google) joins the organizations that invited it.
    _accept_for_verified_emails(request, user)


@receiver(allauth_signals.email_confirmed)
def accept_invitations_on_email_confirmed(sender, request, email_address, **kwargs):
    # Whoever proves they read the invited mailbox gets the invitations sent there (GitLab does the same).
    user = email_address.user
    for membership in actions.accept_invitations_for_email(user, email_address.email, request=request):
        _message(request, messages.SUCCESS, f"You joined {membership.org.name} as {membership.role_label}.")
    token = pending_invitation_token(request)
    if token:
        invitation = actions.find_invitation(token)
        if invitation is None or not invitation.is_pending:
            forget_pending_invitation(request)


@receiver(auth_signals.user_logged_in)
def accept_pending_invitation_on_login(sender, request, user, **kwargs):
    _accept_session_invitation(request, user)
