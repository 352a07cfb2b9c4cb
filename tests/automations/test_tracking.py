"""Email delivery failures from the provider's tracking webhook (Amazon SES through SNS, via anymail):
a signed bounce or complaint is stored against the delivery and the address and suppresses it; a forged
signature, a foreign certificate URL, a wrong basic-auth secret or a malformed body is refused and
changes nothing; an admin clears a suppression."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.core import mail
from django.urls import reverse

from automations import engine, sending, tracking
from automations.models import Delivery, EmailEvent, Suppression
from tests.automations.conftest import make_automation

pytestmark = pytest.mark.django_db
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
URL = "/webhooks/email/amazon_ses/tracking/"


def _keypair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


SNS_KEY, SNS_CERT = _keypair()
OTHER_KEY, _ = _keypair()


@pytest.fixture(autouse=True)
def sns_certificate(monkeypatch):
    fetched = []

    def fetch(url):
        fetched.append(url)
        return SNS_CERT

    monkeypatch.setattr(tracking, "fetch_certificate", fetch)
    return fetched


def sns(ses_event: dict, *, key=SNS_KEY, version="2", message_id="sns-msg-1", **overrides) -> dict:
    message = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": json.dumps(ses_event),
        "Timestamp": "2025-06-03T07:00:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        **overrides,
    }
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303 (SNS version 1)
    signature = key.sign(tracking.sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    message.setdefault("Signature", base64.b64encode(signature).decode())
    return message


def bounce(address: str, message_id: str, bounce_type="Permanent") -> dict:
    return {
        "eventType": "Bounce",
        "mail": {"messageId": message_id, "destination": [address], "headers": []},
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": address, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
        },
    }


def complaint(address: str, message_id: str) -> dict:
    return {
        "eventType": "Complaint",
        "mail": {"messageId": message_id, "destination": [address], "headers": []},
        "complaint": {"complaintFeedbackType": "abuse", "complainedRecipients": [{"emailAddress": address}]},
    }


def post(client, message: dict, **extra):
    return client.post(
        URL,
        data=json.dumps(message),
        content_type="text/plain; charset=UTF-8",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE=message.get("Type", ""),
        HTTP_X_AMZ_SNS_MESSAGE_ID=message.get("MessageId", ""),
        **extra,
    )


@pytest.fixture
def sent_summary(org, owner, conn, email_channel, django_capture_on_commit_callbacks):
    """A summary delivered to the owner, with the provider's message id (as anymail's SES backend sets)."""
    automation = make_automation(org, owner, channels=[email_channel], send_when_empty=True)
    with django_capture_on_commit_callbacks(execute=True):
        run = engine.run_now(automation)
    delivery = Delivery.objects.for_org(org).get(run=run)
    Delivery.objects.for_org(org).filter(pk=delivery.pk).update(provider_message_id="0100018f-ses-id")
    return automation, delivery


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_hard_bounce_is_logged_and_suppresses_the_address(
    client, sent_summary, owner, version, sns_certificate
):
    automation, delivery = sent_summary
    response = post(client, sns(bounce(owner.email, "0100018f-ses-id"), version=version))
    assert response.status_code == 200
    assert sns_certificate == [CERT_URL]

    event = EmailEvent.objects.get()
    assert (event.address, event.event_type, event.esp_name, event.delivery_id) == (
        owner.email,
        "bounced",
        "Amazon SES",
        delivery.pk,
    )
    assert event.org_id == delivery.org_id and "550 5.1.1" in event.mta_response
    delivery.refresh_from_db()
    assert delivery.status == "bounced" and "Permanent" in delivery.error
    suppression = Suppression.objects.active().get(address=owner.email)
    assert suppression.reason == "bounced" and suppression.event == event

    # The same notification again (SNS retries): stored once.
    assert post(client, sns(bounce(owner.email, "0100018f-ses-id"), version=version)).status_code == 200
    assert EmailEvent.objects.count() == 1 and Suppression.objects.count() == 1

    # Nothing more is sent to the address, whichever app sends it.
    mail.outbox.clear()
    sending.execute_run(engine.start_run(automation, key="manual:next", reason="t").pk)
    assert mail.outbox == []


def test_a_complaint_suppresses_and_a_transient_bounce_does_not(client, sent_summary, owner):
    automation, delivery = sent_summary
    post(client, sns(bounce(owner.email, "0100018f-ses-id", "Transient"), message_id="m-1"))
    assert EmailEvent.objects.filter(event_type="bounced").count() == 1
    assert not Suppression.objects.exists()
    post(client, sns(complaint(owner.email, "0100018f-ses-id"), message_id="m-2"))
    assert Suppression.objects.active().get(address=owner.email).reason == "complained"
    delivery.refresh_from_db()
    assert delivery.status == "complained"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda m: {**m, "Signature": base64.b64encode(b"x" * 256).decode()}, id="bad-signature"),
        pytest.param(lambda m: sns(json.loads(m["Message"]), key=OTHER_KEY), id="someone-elses-key"),
        pytest.param(lambda m: {**m, "Message": m["Message"].replace("Permanent", "Transient")}, id="altered"),
        pytest.param(
            lambda m: sns(json.loads(m["Message"]), SigningCertURL="https://evil.example.com/c.pem"), id="cert-url"
        ),
        pytest.param(lambda m: {**m, "SigningCertURL": "http://sns.us-east-1.amazonaws.com/c.pem"}, id="plain-http"),
        pytest.param(lambda m: {**m, "SignatureVersion": "9"}, id="version"),
        pytest.param(lambda m: {k: v for k, v in m.items() if k != "Signature"}, id="unsigned"),
    ],
)
def test_forged_notifications_are_refused_and_change_nothing(client, sent_summary, owner, forge):
    _automation, delivery = sent_summary
    genuine = sns(bounce(owner.email, "0100018f-ses-id"))
    response = post(client, forge(genuine))
    assert response.status_code == 400
    assert not EmailEvent.objects.exists() and not Suppression.objects.exists()
    delivery.refresh_from_db()
    assert delivery.status == "sent"


def test_basic_auth_is_checked_when_configured(client, sent_summary, owner, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "ses:correct-horse"}
    message = sns(bounce(owner.email, "0100018f-ses-id"))
    assert post(client, message).status_code == 401  # SNS first asks without credentials
    wrong = "Basic " + base64.b64encode(b"ses:wrong").decode()
    assert post(client, message, HTTP_AUTHORIZATION=wrong).status_code == 400
    assert not EmailEvent.objects.exists()
    right = "Basic " + base64.b64encode(b"ses:correct-horse").decode()
    assert post(client, message, HTTP_AUTHORIZATION=right).status_code == 200
    assert EmailEvent.objects.count() == 1


def test_a_topic_allow_list_refuses_other_topics(client, sent_summary, owner, settings):
    settings.AWS_SES_SNS_TOPIC_ARNS = ["arn:aws:sns:us-east-1:123456789012:ours"]
    assert post(client, sns(bounce(owner.email, "0100018f-ses-id"))).status_code == 400
    assert not EmailEvent.objects.exists()


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"Type": "Notification"})])
def test_malformed_bodies_are_a_400(client, body, db):
    response = client.post(URL, data=body, content_type="text/plain", HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification")
    assert response.status_code == 400


def test_an_admin_clears_a_member_suppression(client_for, org, owner, member, outsider):
    suppression = Suppression.objects.create(address=member.email, reason="bounced")
    foreign = Suppression.objects.create(address=outsider.email, reason="bounced")
    url = reverse("automations:suppression_clear", kwargs={"org_slug": org.slug, "suppression_id": suppression.pk})
    assert client_for(member).post(url).status_code == 403  # a member may not
    # Not one of the organization's members' addresses: not the organization's to clear.
    foreign_url = reverse("automations:suppression_clear", kwargs={"org_slug": org.slug, "suppression_id": foreign.pk})
    assert client_for(owner).post(foreign_url).status_code == 404
    response = client_for(owner).post(url)
    assert response.status_code == 302
    suppression.refresh_from_db()
    assert suppression.cleared_at is not None and suppression.cleared_by == owner
    assert not Suppression.objects.active().filter(address=member.email).exists()


def test_staff_see_every_delivery_in_the_admin(staff_client, sent_summary, owner):
    response = staff_client.get(reverse("admin:automations_delivery_changelist"))
    assert response.status_code == 200 and owner.email.encode() in response.content
    suppression = Suppression.objects.create(address=owner.email, reason="bounced")
    # Cleared one at a time through the support console's confirmed action (tests/support).
    response = staff_client.post(reverse("admin:support_action", args=["clear-suppression", suppression.pk]))
    assert response.status_code == 302
    assert not Suppression.objects.active().exists()
