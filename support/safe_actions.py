"""The few things support staff may do for a customer, each through the owning app's own ``do_*``
function, each confirmed on its own page first (views.action) and written to the audit log.

An action loads its object by id across organizations (a missing one is a 404), names the organization
it belongs to (so the event lands in that organization's log) and says what it did; a refusal (a scan
that is already over, an address no longer suppressed) is ``ActionRefused`` with a message for staff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from django import forms
from django.http import Http404, HttpRequest
from django.urls import reverse

from accounts.models import AuditEvent
from automations import actions as automation_actions
from automations.models import Suppression
from billing import actions as billing_actions
from billing import stripe_api
from connections.models import CloudConnection
from inventory import actions as inventory_actions
from inventory.models import SyncRun
from orgs.models import Organization
from privacy import actions as privacy_actions
from privacy import deletion as privacy_deletion
from privacy.models import ContactRequest, DeletionRequest

A = AuditEvent.Action


class ActionRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Target:
    obj: Any
    org: Organization | None
    label: str  # what it is, for the confirmation page and the audit log (never a secret)
    back: str  # the console page to return to


class ExtendTrialForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=billing_actions.MAX_TRIAL_EXTENSION_DAYS, initial=7)


@dataclass(frozen=True)
class SafeAction:
    key: str
    permission: str
    title: str
    explanation: str
    load: Callable[[int], Target]
    run: Callable[[HttpRequest, Target, dict], str]  # returns the message shown after it worked
    # The event the console records; None when the app's do_* function records its own.
    audit_action: str | None
    form_class: type[forms.Form] | None = None


def _get(queryset, pk: int):
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404("No such object.")
    return obj


def _org_page(org_id: int) -> str:
    return reverse("admin:support_org", args=[org_id])


def _user_page(user_id: int) -> str:
    return reverse("admin:support_user", args=[user_id])


# --- resend a verification email -----------------------------------------------------------------


def _load_address(pk: int) -> Target:
    address = _get(EmailAddress.objects.select_related("user"), pk)
    return Target(address, None, address.email, _user_page(address.user_id))


def _resend_verification(request: HttpRequest, target: Target, data: dict) -> str:
    address = target.obj
    if address.verified:
        raise ActionRefused(f"{address.email} is already verified.")
    address.send_confirmation(request)
    return f"A new verification email was sent to {address.email}."


# --- scans -------------------------------------------------------------------------------------


def _load_connection(pk: int) -> Target:
    connection = _get(CloudConnection.objects.unscoped().select_related("org"), pk)
    return Target(
        connection, connection.org, f"{connection.name} ({connection.org.name})", _org_page(connection.org_id)
    )


def _start_scan(request: HttpRequest, target: Target, data: dict) -> str:
    try:
        run, started = inventory_actions.do_start_sync(target.obj, user=request.user)
    except inventory_actions.SyncNotAllowed as refused:
        raise ActionRefused(str(refused)) from None
    if not started:
        raise ActionRefused(f"Scan #{run.pk} of {target.obj.name} is already {run.get_status_display().lower()}.")
    return f"Scan #{run.pk} of {target.obj.name} was queued."


def _load_run(pk: int) -> Target:
    run = _get(SyncRun.objects.unscoped().select_related("org", "connection"), pk)
    return Target(run, run.org, f"Scan #{run.pk} of {run.connection.name} ({run.org.name})", _org_page(run.org_id))


def _cancel_scan(request: HttpRequest, target: Target, data: dict) -> str:
    if not inventory_actions.do_request_cancel(target.obj, user=request.user):
        raise ActionRefused(f"Scan #{target.obj.pk} is already over.")
    return f"Scan #{target.obj.pk} was asked to stop; it stops before writing anything."


# --- email -------------------------------------------------------------------------------------


def _load_suppression(pk: int) -> Target:
    suppression = _get(Suppression.objects.all(), pk)
    return Target(suppression, None, suppression.address, reverse("admin:automations_suppression_changelist"))


def _clear_suppression(request: HttpRequest, target: Target, data: dict) -> str:
    if not target.obj.is_active:
        raise ActionRefused(f"{target.obj.address} is not suppressed any more.")
    automation_actions.do_clear_suppression(target.obj, user=request.user, request=request)
    return f"{target.obj.address} will receive emails again."


# --- billing -------------------------------------------------------------------------------------


def _load_org(pk: int) -> Target:
    org = _get(Organization.objects.all(), pk)
    return Target(org, org, org.name, _org_page(org.pk))


def _extend_trial(request: HttpRequest, target: Target, data: dict) -> str:
    try:
        account = billing_actions.do_extend_trial(request, target.obj, data["days"])
    except billing_actions.BillingError as refused:
        raise ActionRefused(refused.message) from None
    except stripe_api.StripeUnavailable as unavailable:
        raise ActionRefused(unavailable.message) from None
    return f"The trial of {target.obj.name} now ends on {account.trial_end:%Y-%m-%d}."


# --- account deletion and contact requests ------------------------------------------------------


def _load_deletion(pk: int) -> Target:
    deletion = _get(DeletionRequest.objects.select_related("user"), pk)
    return Target(deletion, None, deletion.user.email, _user_page(deletion.user_id))


def _cancel_deletion(request: HttpRequest, target: Target, data: dict) -> str:
    # The person's own way back (their emailed link), taken for them at their request.
    try:
        user = privacy_deletion.do_cancel_deletion(request, privacy_deletion.cancel_token(target.obj))
    except privacy_deletion.CancelLinkProblem as problem:
        raise ActionRefused(str(problem)) from None
    return f"The deletion of {user.email} was cancelled; the account is active again."


def _load_contact(pk: int) -> Target:
    contact = _get(ContactRequest.objects.all(), pk)
    back = _user_page(contact.user_id) if contact.user_id else reverse("admin:privacy_contactrequest_changelist")
    return Target(contact, None, f"{contact.reference} from {contact.email}", back)


def _answer_contact(request: HttpRequest, target: Target, data: dict) -> str:
    if not privacy_actions.do_mark_contact_answered(target.obj):
        raise ActionRefused(f"{target.obj.reference} was already marked answered.")
    return f"{target.obj.reference} is marked answered."


ACTIONS: dict[str, SafeAction] = {
    action.key: action
    for action in [
        SafeAction(
            "resend-verification",
            "support.resend_verification",
            "Resend the verification email",
            "A new verification link is emailed to this address.",
            _load_address,
            _resend_verification,
            A.SUPPORT_VERIFICATION_RESENT,
        ),
        SafeAction(
            "start-scan",
            "support.start_scan",
            "Scan this connection now",
            "A scan of this connection is queued, as the customer's “Scan now” button would.",
            _load_connection,
            _start_scan,
            A.SUPPORT_SCAN_STARTED,
        ),
        SafeAction(
            "cancel-scan",
            "support.cancel_scan",
            "Cancel this scan",
            "The scan stops before it writes anything; the inventory stays as it was.",
            _load_run,
            _cancel_scan,
            A.SUPPORT_SCAN_CANCELLED,
        ),
        SafeAction(
            "clear-suppression",
            "support.clear_suppression",
            "Clear this address from the suppression list",
            "Emails are sent to this address again. Do it only once the customer says the mailbox works.",
            _load_suppression,
            _clear_suppression,
            None,  # automations' do_clear_suppression records EMAIL_SUPPRESSION_CLEARED
        ),
        SafeAction(
            "extend-trial",
            "support.extend_trial",
            "Extend the trial",
            "The trial ends later by the number of days below; nothing is charged before it ends.",
            _load_org,
            _extend_trial,
            None,  # billing's do_extend_trial records BILLING_TRIAL_EXTENDED
            ExtendTrialForm,
        ),
        SafeAction(
            "cancel-deletion",
            "support.cancel_deletion",
            "Cancel the account deletion",
            "Only at the person's own request: the account is restored and active again, as their emailed link would.",
            _load_deletion,
            _cancel_deletion,
            A.SUPPORT_DELETION_CANCELLED,
        ),
        SafeAction(
            "answer-contact",
            "support.answer_contact",
            "Mark this contact request answered",
            "The request leaves the list of requests waiting for an answer.",
            _load_contact,
            _answer_contact,
            A.SUPPORT_CONTACT_ANSWERED,
        ),
    ]
}
