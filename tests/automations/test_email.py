"""Summary emails: HTML and plain text with the digest's sections, to the organization's members only,
one-click unsubscribe (RFC 8058 headers, a signed link that needs no login), notification settings on
the profile; and every email of the product recorded, never sent to a suppressed address."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from automations import actions, engine, sending
from automations.models import AutomationRun, Delivery, EmailPreference, Suppression, Unsubscription
from automations.unsubscribe import make_token
from findings.models import FindingEvent
from tests.automations.conftest import make_automation
from tests.factories import FindingFactory, MembershipFactory, ResourceFactory, UserFactory

pytestmark = pytest.mark.django_db


def finding(conn, kind=FindingEvent.Kind.OPENED, **fields):
    f = FindingFactory(resource=ResourceFactory(connection=conn), **fields)
    FindingEvent.objects.for_org(conn.org).create(finding=f, kind=kind)
    return f


@pytest.fixture
def summary_email(org, owner, conn, email_channel, django_capture_on_commit_callbacks):
    finding(conn, severity="critical", title="S3 bucket allows public read", resource_name="customer-exports")
    finding(
        conn,
        severity="low",
        category="cost",
        rule_id="aws-ec2-volume-unattached",
        title="EBS volume is not attached",
        monthly_usd=Decimal("12.50"),
    )
    automation = make_automation(org, owner, name="Morning summary", channels=[email_channel])
    with django_capture_on_commit_callbacks(execute=True):
        run = engine.run_now(automation)
    [message] = mail.outbox
    return automation, run, message


def test_html_and_text_carry_every_section(summary_email, org):
    automation, run, message = summary_email
    assert message.subject == "[Cloustral] Acme Cloud: 2 new findings — Morning summary"
    text = message.body
    for expected in (
        "Acme Cloud — Morning summary",
        "New: 2   Regressed: 0   Resolved: 0",
        "[Critical] S3 bucket allows public read — customer-exports",
        f"/o/{org.slug}/findings/",
        "ESTIMATED MONTHLY WASTE",
        "$12.50 now (+12.50 in this period",
        "SCANS",
        "RESOURCES",
        "Unsubscribe from “Morning summary”:",
    ):
        assert expected in text, expected
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert "<h1" in html and "S3 bucket allows public read" in html and "Open the findings" in html
    assert re.search(r'href="https?://[^"]+/o/acme-cloud/findings/\d+/"', html)
    assert "Unsubscribe from" in html and "Notification settings" in html
    # Untrusted text (a resource name from the cloud) is escaped in the HTML.
    assert "<script" not in html


def test_resource_names_are_escaped(org, owner, conn, email_channel, django_capture_on_commit_callbacks):
    finding(conn, severity="high", title="Public", resource_name="<script>alert(1)</script>")
    automation = make_automation(org, owner, channels=[email_channel])
    with django_capture_on_commit_callbacks(execute=True):
        engine.run_now(automation)
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_list_unsubscribe_headers_and_one_click(summary_email, client, owner):
    automation, run, message = summary_email
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(https?://[^>]+)>", message.extra_headers["List-Unsubscribe"]).group(1)
    path = url.split("testserver", 1)[-1] if "testserver" in url else re.sub(r"^https?://[^/]+", "", url)

    # A mail client's one-click POST (RFC 8058): no login, no CSRF token.
    csrf_client = type(client)(enforce_csrf_checks=True)
    response = csrf_client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Unsubscription.objects.for_org(automation.org).filter(user=owner, automation=automation).exists()

    # The next summary skips them.
    mail.outbox.clear()
    automation.send_when_empty = True
    automation.save()
    sending.execute_run(engine.start_run(automation, key="manual:after", reason="t").pk)
    assert mail.outbox == []


def test_a_person_following_the_link_confirms_first(summary_email, client, owner):
    automation, _run, _message = summary_email
    path = reverse("automations:unsubscribe", kwargs={"token": make_token(owner.pk, automation.pk)})
    page = client.get(path)
    assert page.status_code == 200 and b"Stop sending" in page.content
    assert not Unsubscription.objects.for_org(automation.org).exists()  # a link scanner's GET changes nothing
    done = client.post(path)
    assert b"You are unsubscribed" in done.content


@pytest.mark.parametrize("stale", [False, True])
def test_a_bad_or_stale_link_is_a_404_page(client, stale, db):
    token = make_token(999999, 1) if stale else "garbage"  # someone or something that no longer exists
    response = client.post(reverse("automations:unsubscribe", kwargs={"token": token}))
    assert response.status_code == 404 and b"This link does not work" in response.content


def test_a_forged_token_for_another_person_does_not_work(summary_email, client, owner):
    automation, _run, _message = summary_email
    token = make_token(owner.pk, automation.pk)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.post(reverse("automations:unsubscribe", kwargs={"token": forged})).status_code == 404


def test_notification_settings_on_the_profile(summary_email, client_for, owner):
    automation, _run, _message = summary_email
    client = client_for(owner)
    profile = client.get(reverse("profile"))
    assert reverse("automations:notifications").encode() in profile.content

    page = client.get(reverse("automations:notifications"))
    assert b"Morning summary" in page.content and b"Unsubscribe" in page.content
    client.post(reverse("automations:notifications"), {"form": "unsubscribe", "automation": automation.pk})
    assert Unsubscription.objects.for_org(automation.org).filter(user=owner).exists()
    client.post(reverse("automations:notifications"), {"form": "resubscribe", "automation": automation.pk})
    assert not Unsubscription.objects.for_org(automation.org).filter(user=owner).exists()

    client.post(reverse("automations:notifications"), {"form": "preferences"})  # checkbox off
    assert EmailPreference.objects.get(user=owner).digests is False
    mail.outbox.clear()
    automation.send_when_empty = True
    automation.save()
    sending.execute_run(engine.start_run(automation, key="manual:off", reason="t").pk)
    assert mail.outbox == []

    # Someone else's automation id is ignored (400), never acted on.
    other = make_automation(automation.org, owner, name="Other")
    stranger = UserFactory(email="stranger@example.com")
    response = client_for(stranger).post(
        reverse("automations:notifications"), {"form": "unsubscribe", "automation": other.pk}
    )
    assert response.status_code == 400
    assert not Unsubscription.objects.for_org(automation.org).filter(user=stranger).exists()


def test_recipients_are_current_members_only(org, owner, conn, django_capture_on_commit_callbacks):
    admin = UserFactory(email="admin@example.com")
    MembershipFactory(user=admin, org=org, role="admin")
    leaver = UserFactory(email="leaver@example.com")
    leaving = MembershipFactory(user=leaver, org=org, role="member")
    outsider = UserFactory(email="outsider-person@example.com")
    channel = actions.do_create_channel(
        org,
        user=owner,
        kind="email",
        name="Admins and Lea",
        roles=["admin"],
        member_ids=[leaver.pk, outsider.pk],  # an outsider's id is dropped when saved
    ).channel
    assert outsider.pk not in channel.member_ids
    channel.member_ids.append(outsider.pk)  # even if it got there, the send resolves members only
    channel.save()
    leaving.delete()  # left the organization after being chosen
    automation = make_automation(org, owner, channels=[channel], send_when_empty=True)
    with django_capture_on_commit_callbacks(execute=True):
        engine.run_now(automation)
    assert [m.to for m in mail.outbox] == [["admin@example.com"]]


def test_account_emails_are_recorded_and_suppressed_addresses_skipped(client, make_user):
    user = make_user(email="bouncy@example.com")
    client.post(reverse("account_reset_password"), {"email": user.email})
    assert len(mail.outbox) == 1
    delivery = Delivery.objects.unscoped().get(recipient="bouncy@example.com")
    assert (delivery.category, delivery.status, delivery.org_id, delivery.kind) == ("system", "sent", None, "email")
    assert delivery.subject == mail.outbox[0].subject

    Suppression.objects.create(address="bouncy@example.com", reason="bounced")
    client.post(reverse("account_reset_password"), {"email": user.email})
    assert len(mail.outbox) == 1  # not sent
    skipped = Delivery.objects.unscoped().filter(recipient="bouncy@example.com").order_by("-id").first()
    assert skipped.status == "suppressed"


def test_suppression_applies_to_summaries_and_is_shown(
    org, owner, conn, email_channel, client_for, django_capture_on_commit_callbacks
):
    Suppression.objects.create(address=owner.email, reason="complained")
    automation = make_automation(org, owner, channels=[email_channel], send_when_empty=True)
    with django_capture_on_commit_callbacks(execute=True):
        run = engine.run_now(automation)
    run.refresh_from_db()
    assert mail.outbox == []
    delivery = Delivery.objects.for_org(org).get(run=run)
    assert delivery.status == "suppressed" and run.status == AutomationRun.Status.SENT  # nothing failed
    page = client_for(owner).get(reverse("automations:deliveries", kwargs={"org_slug": org.slug}))
    assert owner.email.encode() in page.content and b"Spam complaint" in page.content


class FailingBackend:
    """A provider that is down."""

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        raise ConnectionError("SES endpoint unreachable (token=abc123secret)")


def test_a_failed_send_of_any_email_is_recorded(settings):
    from django.core.mail import send_mail

    settings.DELIVERY_EMAIL_BACKEND = "tests.automations.test_email.FailingBackend"
    with pytest.raises(ConnectionError):
        send_mail("Hello", "Body", None, ["someone@example.com"])
    delivery = Delivery.objects.unscoped().get(recipient="someone@example.com")
    assert delivery.status == "failed" and "ConnectionError" in delivery.error
    # A message sent with fail_silently is recorded the same way and does not raise.
    assert send_mail("Hello", "Body", None, ["other@example.com"], fail_silently=True) == 0
    assert Delivery.objects.unscoped().get(recipient="other@example.com").status == "failed"


def test_summaries_of_a_deleted_automation_are_not_sent(org, owner, email_channel, monkeypatch):
    automation = make_automation(org, owner, channels=[email_channel], send_when_empty=True)
    run = engine.start_run(automation, key="manual:gone", reason="t")
    monkeypatch.setattr(sending, "dispatch", lambda run: None)  # its sends are queued, not run yet
    sending.execute_run(run.pk)
    delivery = Delivery.objects.for_org(org).get(run=run)
    automation.delete()  # before the queued send runs
    assert sending.send_one(delivery.pk).status == "skipped"
    assert mail.outbox == []
