"""The contact page: stored for staff, emailed to SUPPORT_EMAIL with an acknowledgement to the sender,
rate-limited per address and per sender, a honeypot for bots, and clear answers to bad input."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.urls import reverse

from privacy import contact
from privacy.forms import MESSAGE_MAX_LENGTH
from privacy.models import ContactRequest
from privacy.tasks import retry_contact_deliveries

URL = "/contact/"


def _form(**overrides) -> dict:
    return {
        "name": "Ada Lovelace",
        "email": "Ada@Example.com",
        "topic": "privacy",
        "message": "Please tell me what you hold about me.",
        **overrides,
    }


def test_the_contact_page_has_every_topic(client, db):
    page = client.get(URL).content.decode()
    for topic in ("Support", "Privacy request", "Security report", "Billing"):
        assert f">{topic}</option>" in page
    assert 'name="website"' in page and 'tabindex="-1"' in page  # the honeypot, out of everyone's way


def test_a_message_is_stored_sent_to_support_and_acknowledged(client, db):
    response = client.post(URL, _form())
    assert response.status_code == 200 and b"reference C-" in response.content
    saved = ContactRequest.objects.get()
    assert (saved.name, saved.email, saved.topic) == ("Ada Lovelace", "ada@example.com", "privacy")
    assert saved.delivered_at is not None and saved.acknowledged_at is not None

    to_support, ack = mail.outbox
    assert to_support.to == ["support@cloustral.test"] and to_support.reply_to == ["ada@example.com"]
    assert "Privacy request" in to_support.subject and "what you hold about me" in to_support.body
    assert to_support.alternatives  # an HTML version too
    assert ack.to == ["ada@example.com"] and saved.reference in ack.subject
    # The acknowledgement never repeats what was written (anyone could send any text to any address).
    assert "what you hold about me" not in ack.body and "Ada Lovelace" not in ack.body


def test_a_signed_in_person_is_linked_and_prefilled(client_for, member):
    c = client_for(member)
    page = c.get(URL).content.decode()
    assert 'value="member@example.com"' in page
    c.post(URL, _form(email=member.email))
    assert ContactRequest.objects.get().user == member


def test_the_honeypot_stops_bots_silently(client, db):
    response = client.post(URL, _form(website="http://spam.example"))
    assert response.status_code == 200 and b"Thank you" in response.content
    assert not ContactRequest.objects.exists() and mail.outbox == []


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"message": "x" * (MESSAGE_MAX_LENGTH + 1)}, "Keep your message under"),
        ({"email": "not-an-address"}, "Enter a valid email address"),
        ({"message": "   "}, "Write your message"),
        ({"topic": "lottery"}, "Select a valid choice"),
        ({"name": ""}, "Enter your name"),
    ],
)
def test_bad_input_gets_a_clear_answer(client, db, overrides, error):
    response = client.post(URL, _form(**overrides))
    assert response.status_code == 400 and error in response.content.decode()
    assert not ContactRequest.objects.exists()


def test_an_empty_post_gets_form_errors(client, db):
    response = client.post(URL, {})
    assert response.status_code == 400 and b"Enter your name" in response.content


def test_rate_limited_per_sender_address(client, db):
    codes = [client.post(URL, _form(), REMOTE_ADDR=f"10.0.0.{i}").status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    assert ContactRequest.objects.count() == 3


def test_rate_limited_per_client_address(client, db):
    codes = [client.post(URL, _form(email=f"p{i}@example.com")).status_code for i in range(6)]
    assert codes == [200] * 5 + [429]


def test_a_failed_delivery_is_logged_kept_and_retried(client, db, monkeypatch, caplog):
    real = contact.mail.send

    def failing(template_prefix, to, context, **kw):
        if to == "support@cloustral.test":
            raise ConnectionError("SES said no")
        return real(template_prefix, to, context, **kw)

    monkeypatch.setattr(contact.mail, "send", failing)
    with caplog.at_level(logging.ERROR, logger="privacy.contact"):
        response = client.post(URL, _form())
    assert response.status_code == 200  # the person's message is safe with us
    saved = ContactRequest.objects.get()
    assert saved.delivered_at is None and saved.delivery_attempts == 1 and "ConnectionError" in saved.last_error
    [record] = [r for r in caplog.records if r.name == "privacy.contact"]
    assert "could not be delivered" in record.getMessage() and record.contact_request == saved.pk
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]  # the acknowledgement still went

    monkeypatch.setattr(contact.mail, "send", real)
    assert retry_contact_deliveries.delay().get() == 1
    saved.refresh_from_db()
    assert saved.delivered_at is not None and saved.last_error == ""
    assert retry_contact_deliveries() == 0  # delivered once, never twice


def test_staff_see_contact_requests_in_the_admin(staff_client, db):
    ContactRequest.objects.create(name="Ada", email="ada@example.com", topic="billing", message="Invoice?")
    listing = staff_client.get(reverse("admin:privacy_contactrequest_changelist"))
    assert listing.status_code == 200 and b"ada@example.com" in listing.content
