"""Each safe action: a confirmation page first (GET changes nothing), then the POST does it through the
owning app's do_* function and the audit log says who did what for which organization. Refusals are a
message, forged requests (unknown ids, actions the person may not take) a 403/404, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
from allauth.account.models import EmailAddress
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from automations.models import Suppression
from billing import actions as billing_actions
from billing.models import BillingAccount
from billing.plans import TEAM
from inventory.models import SyncRun
from privacy.models import ContactRequest, DeletionRequest
from tests.accounts.helpers import login_with_mfa
from tests.billing.helpers import confirm_card
from tests.factories import CloudConnectionFactory, SyncRunFactory, UserFactory

pytestmark = pytest.mark.django_db
A = AuditEvent.Action


def url(key: str, pk: int) -> str:
    return reverse("admin:support_action", args=[key, pk])


def confirm_then_post(client, key: str, pk: int, data: dict | None = None):
    page = client.get(url(key, pk))
    assert page.status_code == 200 and 'data-testid="confirm-action"' in page.content.decode()
    return client.post(url(key, pk), data or {})


def shown(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def staff_events(action: str, actor) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, actor=actor))


def test_resend_a_verification_email(support_client, support_user, member):
    address = EmailAddress.objects.create(user=member, email="mel.new@example.com", verified=False)
    mail.outbox.clear()
    response = confirm_then_post(support_client, "resend-verification", address.pk)
    assert response.status_code == 302 and response["Location"] == reverse("admin:support_user", args=[member.pk])
    [email] = [m for m in mail.outbox if m.to == ["mel.new@example.com"]]
    assert "confirm" in email.subject.lower() or "verif" in email.subject.lower()
    [event] = staff_events(A.SUPPORT_VERIFICATION_RESENT, support_user)
    assert event.target == "mel.new@example.com" and event.metadata["via"] == "support console"
    verified = EmailAddress.objects.get(user=member, email=member.email)
    response = support_client.post(url("resend-verification", verified.pk))
    assert "already verified" in " ".join(shown(response))
    assert len(staff_events(A.SUPPORT_VERIFICATION_RESENT, support_user)) == 1


def test_retrigger_a_connections_scan(support_client, support_user, org, django_capture_on_commit_callbacks):
    connection = CloudConnectionFactory(org=org, name="Prod AWS")
    assert not SyncRun.objects.for_org(org).exists()  # the confirmation page alone starts nothing
    support_client.get(url("start-scan", connection.pk))
    assert not SyncRun.objects.for_org(org).exists()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = support_client.post(url("start-scan", connection.pk))
    assert response["Location"] == reverse("admin:support_org", args=[org.pk])
    run = SyncRun.objects.for_org(org).get()
    assert run.status == "queued" and run.triggered_by == support_user and len(queued) == 1
    [event] = staff_events(A.SUPPORT_SCAN_STARTED, support_user)
    assert event.org == org and "Prod AWS" in event.target
    again = support_client.post(url("start-scan", connection.pk))  # joins nothing: says it is already queued
    assert "already queued" in " ".join(shown(again))
    connection.enabled = False
    connection.save()
    SyncRun.objects.for_org(org).update(status="succeeded")
    refused = support_client.post(url("start-scan", connection.pk))
    assert "disabled" in " ".join(shown(refused)) and SyncRun.objects.for_org(org).count() == 1


def test_cancel_a_stuck_scan(support_client, support_user, org):
    connection = CloudConnectionFactory(org=org)
    stuck = SyncRunFactory(connection=connection, status="running", finished_at=None)
    response = confirm_then_post(support_client, "cancel-scan", stuck.pk)
    assert response.status_code == 302
    stuck.refresh_from_db()
    assert stuck.cancel_requested and stuck.cancel_requested_by == support_user
    [event] = staff_events(A.SUPPORT_SCAN_CANCELLED, support_user)
    assert event.org == org and f"Scan #{stuck.pk}" in event.target
    queued = SyncRunFactory(connection=CloudConnectionFactory(org=org), status="queued", finished_at=None)
    support_client.post(url("cancel-scan", queued.pk))
    queued.refresh_from_db()
    assert queued.status == "cancelled"
    over = SyncRunFactory(connection=connection, status="succeeded")
    assert "already over" in " ".join(shown(support_client.post(url("cancel-scan", over.pk))))


def test_clear_a_bounced_address(support_client, support_user, member):
    suppression = Suppression.objects.create(address=member.email, reason="bounced")
    response = confirm_then_post(support_client, "clear-suppression", suppression.pk)
    assert response.status_code == 302
    suppression.refresh_from_db()
    assert suppression.cleared_at is not None and suppression.cleared_by == support_user
    [event] = staff_events(A.EMAIL_SUPPRESSION_CLEARED, support_user)
    assert event.target == member.email and event.metadata["via"] == "support console"
    assert "not suppressed any more" in " ".join(shown(support_client.post(url("clear-suppression", suppression.pk))))


def test_cancel_a_pending_deletion_at_the_persons_request(support_client, support_user, member):
    member.is_active = False
    member.save()
    deletion = DeletionRequest.objects.create(user=member, purge_after=timezone.now() + timedelta(days=30))
    response = confirm_then_post(support_client, "cancel-deletion", deletion.pk)
    assert response["Location"] == reverse("admin:support_user", args=[member.pk])
    member.refresh_from_db()
    assert member.is_active and not DeletionRequest.objects.filter(pk=deletion.pk).exists()
    [event] = staff_events(A.SUPPORT_DELETION_CANCELLED, support_user)
    assert event.target == member.email
    assert AuditEvent.objects.filter(action=A.ACCOUNT_DELETION_CANCELLED, actor=member).exists()
    assert support_client.post(url("cancel-deletion", deletion.pk)).status_code == 404  # gone now


def test_mark_a_contact_request_answered(support_client, support_user, owner):
    contact = ContactRequest.objects.create(
        name="Olive", email=owner.email, topic="support", message="Help", user=owner
    )
    response = confirm_then_post(support_client, "answer-contact", contact.pk)
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.handled_at is not None
    [event] = staff_events(A.SUPPORT_CONTACT_ANSWERED, support_user)
    assert contact.reference in event.target
    assert "already marked answered" in " ".join(shown(support_client.post(url("answer-contact", contact.pk))))


def _trialing(org, owner, base) -> BillingAccount:
    request = RequestFactory().post("/")
    request.user = owner
    setup = billing_actions.start_card_setup(request, org)
    confirm_card(base, setup)
    billing_actions.do_subscribe(request, org, TEAM, "month", setup["id"])
    return BillingAccount.objects.for_org(org).get()


def test_extend_a_trial(support_client, support_user, org, owner, stripe_on):
    account = _trialing(org, owner, stripe_on)
    assert account.status == "trialing"
    before = account.trial_end
    page = support_client.get(url("extend-trial", org.pk)).content.decode()
    assert 'name="days"' in page
    assert support_client.post(url("extend-trial", org.pk), {"days": "90"}).status_code == 400  # over the maximum
    response = support_client.post(url("extend-trial", org.pk), {"days": "7"})
    assert response["Location"] == reverse("admin:support_org", args=[org.pk])
    account.refresh_from_db()
    assert account.trial_end - before == timedelta(days=7) and account.status == "trialing"
    remote = stripe.Subscription.retrieve(account.stripe_subscription_id)
    assert remote["trial_end"] == int(account.trial_end.timestamp())
    [event] = staff_events(A.BILLING_TRIAL_EXTENDED, support_user)
    assert event.org == org and event.metadata["days"] == 7 and event.metadata["via"] == "support console"


def test_extending_needs_a_trial(support_client, org, stripe_on):
    response = support_client.post(url("extend-trial", org.pk), {"days": "7"})
    assert "not on a trial" in " ".join(shown(response))
    assert not AuditEvent.objects.filter(action=A.BILLING_TRIAL_EXTENDED).exists()
    with pytest.raises(billing_actions.BillingError):
        billing_actions.do_extend_trial(None, org, 0)


@pytest.mark.parametrize("key", ["start-scan", "cancel-scan", "clear-suppression", "extend-trial", "answer-contact"])
def test_staff_without_the_permission_are_refused(key, org, db):
    loner = UserFactory(email="loner@staff.example", is_staff=True)  # staff, MFA, in no group
    client = login_with_mfa(Client(), loner)
    assert client.get(url(key, org.pk)).status_code == 403
    assert client.post(url(key, org.pk)).status_code == 403
    assert not AuditEvent.objects.filter(actor=loner).exclude(action="login").exists()


def test_forged_posts_get_403_or_404(support_client, support_user, client_for, org, owner):
    connection = CloudConnectionFactory(org=org)
    assert support_client.post(url("start-scan", 424242)).status_code == 404
    assert support_client.post(url("make-superuser", 1)).status_code == 404
    customer = client_for(owner).post(url("start-scan", connection.pk))
    assert customer.status_code == 302 and "login" in customer["Location"]  # not staff: the admin's login
    no_token = login_with_mfa(Client(enforce_csrf_checks=True), support_user)
    assert no_token.post(url("start-scan", connection.pk)).status_code == 403  # a cross-site POST
    assert not SyncRun.objects.for_org(org).exists()


def test_the_admin_lists_link_to_the_confirmed_actions(support_client, org, member):
    connection = CloudConnectionFactory(org=org)
    stuck = SyncRunFactory(connection=connection, status="running", finished_at=None)
    suppression = Suppression.objects.create(address=member.email, reason="bounced")
    contact = ContactRequest.objects.create(name="Mel", email=member.email, topic="support", message="Hi")
    deletion = DeletionRequest.objects.create(user=member, purge_after=timezone.now() + timedelta(days=30))
    BillingAccount.objects.for_org(org).create(plan=TEAM, status="trialing", trial_end=timezone.now())
    for listing, key, pk in [
        ("admin:connections_cloudconnection_changelist", "start-scan", connection.pk),
        ("admin:inventory_syncrun_changelist", "cancel-scan", stuck.pk),
        ("admin:automations_suppression_changelist", "clear-suppression", suppression.pk),
        ("admin:privacy_contactrequest_changelist", "answer-contact", contact.pk),
        ("admin:privacy_deletionrequest_changelist", "cancel-deletion", deletion.pk),
        ("admin:billing_billingaccount_changelist", "extend-trial", org.pk),
    ]:
        page = support_client.get(reverse(listing)).content.decode()
        assert url(key, pk) in page, listing
