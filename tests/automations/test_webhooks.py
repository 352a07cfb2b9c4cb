"""Slack and signed webhooks against a local HTTP server: the HMAC signature (verified by the snippet of
docs/automations.md, extracted and run), retries with backoff on 5xx and timeouts that stop after a
bounded number of tries, never on 4xx; the secret encrypted at rest and shown once; URLs that would
reach private networks refused."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from automations import actions, channels, engine, http, sending, signing
from automations.digest import DigestFilters, build_digest
from automations.models import AutomationRun, Channel, Delivery
from tests.automations.conftest import make_automation

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parents[2] / "docs" / "automations.md"
S = Delivery.Status


def docs_snippet():
    """The verification function exactly as docs/automations.md shows it."""
    text = DOCS.read_text()
    found = re.search(r"<!-- webhook-verification-snippet -->\s*```python\n(.*?)```", text, re.S)
    assert found, "docs/automations.md lost its verification snippet"
    namespace: dict = {}
    exec(compile(found.group(1), str(DOCS), "exec"), namespace)  # noqa: S102 (our own documentation)
    return namespace["verify_cloustral_signature"]


def webhook(org, owner, url):
    return actions.do_create_channel(org, user=owner, kind="webhook", name="Hook", url=url)


def run_with(org, owner, channel, django_capture_on_commit_callbacks, **fields) -> AutomationRun:
    automation = make_automation(org, owner, channels=[channel], send_when_empty=True, **fields)
    with django_capture_on_commit_callbacks(execute=True):
        run = engine.run_now(automation)
    run.refresh_from_db()
    return run


def test_signed_body_verifies_with_the_documented_snippet(org, owner, http_server, django_capture_on_commit_callbacks):
    saved = webhook(org, owner, http_server.url)
    assert saved.secret.startswith("whsec_")
    run = run_with(org, owner, saved.channel, django_capture_on_commit_callbacks)
    assert run.status == AutomationRun.Status.SENT

    [request] = http_server.received
    body, headers = request.body, request.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-cloustral-event"] == "digest"
    delivery = Delivery.objects.for_org(org).get(run=run)
    assert headers["x-cloustral-delivery"] == str(delivery.uid)
    payload = request.json()
    assert payload["type"] == "digest" and payload["organization"]["slug"] == org.slug
    assert payload["automation"]["name"] == "Daily summary" and "findings" in payload and "waste" in payload

    verify = docs_snippet()
    secret, timestamp, signature = saved.secret, headers["x-cloustral-timestamp"], headers["x-cloustral-signature"]
    assert verify(secret, body, timestamp, signature)
    assert not verify(secret, body.replace(b"digest", b"digesT", 1), timestamp, signature)  # tampered body
    assert not verify("whsec_another", body, timestamp, signature)  # another secret
    assert not verify(secret, body, str(int(timestamp) + 1), signature)  # another timestamp
    old = int(time.time()) - 3600
    replayed = signing.signature(secret, old, body)
    assert not verify(secret, body, str(old), replayed)  # a replay an hour later
    assert signing.verify(secret, body, timestamp, signature)  # the product's own check agrees


def test_retries_on_5xx_and_timeouts_with_backoff_until_it_succeeds(org, owner, http_server, settings, monkeypatch):
    monkeypatch.setattr(http, "READ_TIMEOUT", 0.3)
    http_server.answers = [503, "timeout", 502]
    http_server.delay = 0.8
    saved = webhook(org, owner, http_server.url)
    automation = make_automation(org, owner, channels=[saved.channel], send_when_empty=True)
    run = engine.start_run(automation, key="manual:retry", reason="test")
    sending.execute_run(run.pk)  # eager: the task retries at once (its countdown is the backoff)

    delivery = Delivery.objects.for_org(org).get(run=run)
    assert delivery.status == S.SENT and delivery.attempts == 4 and delivery.http_status == 200
    assert len(http_server.received) == 4
    ids = {r.headers["x-cloustral-delivery"] for r in http_server.received}
    assert ids == {str(delivery.uid)}  # one id on every try: receivers can dedupe


def test_backoff_doubles_and_tries_are_bounded(org, owner, http_server, settings):
    settings.AUTOMATIONS_RETRY_BASE_SECONDS = 30
    settings.AUTOMATIONS_DELIVERY_MAX_TRIES = 3
    http_server.answers = [500, 500, 500, 500]
    saved = webhook(org, owner, http_server.url)
    automation = make_automation(org, owner, channels=[saved.channel], send_when_empty=True)
    run = engine.start_run(automation, key="manual:bounded", reason="test")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sending, "dispatch", lambda run: None)  # drive the tries by hand
        sending.execute_run(run.pk)
    delivery = Delivery.objects.for_org(org).get(run=run)

    first = sending.send_one(delivery.pk)
    assert (first.status, first.retry_in) == (S.RETRYING, 30)
    delivery.refresh_from_db()
    assert 29 <= (delivery.next_attempt_at - delivery.updated_at).total_seconds() <= 31
    second = sending.send_one(delivery.pk)
    assert (second.status, second.retry_in) == (S.RETRYING, 60)
    third = sending.send_one(delivery.pk)
    assert (third.status, third.retry_in) == (S.FAILED, None)  # three tries in all
    assert sending.send_one(delivery.pk) is None  # failed for good: nothing more
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and "HTTP 500" in delivery.error and len(http_server.received) == 3
    run.refresh_from_db()
    assert run.status == AutomationRun.Status.FAILED


def test_a_4xx_answer_is_never_retried(org, owner, http_server, django_capture_on_commit_callbacks):
    http_server.answers = [410]
    saved = webhook(org, owner, http_server.url)
    run = run_with(org, owner, saved.channel, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.for_org(org).get(run=run)
    assert delivery.status == S.FAILED and delivery.attempts == 1 and delivery.http_status == 410
    assert delivery.error.startswith("HTTP 410") and len(http_server.received) == 1
    assert run.status == AutomationRun.Status.FAILED


def test_slack_message_and_its_retry(org, owner, http_server, settings, django_capture_on_commit_callbacks):
    http_server.answers = [500]
    slack = actions.do_create_channel(org, user=owner, kind="slack", name="Slack", url=http_server.url).channel
    assert slack.url_hint.startswith("http://127.0.0.1:") and "/hook" not in slack.url_hint
    run = run_with(org, owner, slack, django_capture_on_commit_callbacks)
    assert run.status == AutomationRun.Status.SENT
    assert len(http_server.received) == 2
    payload = http_server.received[-1].json()
    assert payload["text"].startswith(org.name) and payload["blocks"][0]["type"] == "header"
    assert any("Open Cloustral" in str(block) for block in payload["blocks"])


def test_the_secret_and_url_are_encrypted_at_rest_and_shown_once(org, owner, client_for, http_server):
    client = client_for(owner)
    url = reverse("automations:channel_new", kwargs={"org_slug": org.slug, "channel_kind": "webhook"})
    response = client.post(url, {"name": "Ops endpoint", "url": http_server.url + "?token=abc"})
    assert response.status_code == 200
    secret = re.search(rb'value="(whsec_[^"]+)"', response.content).group(1).decode()
    channel = Channel.objects.for_org(org).get(name="Ops endpoint")
    assert secret not in channel.encrypted_secret and "token=abc" not in channel.encrypted_url
    assert channel.encrypted_secret.startswith("v1:") and channels.read_secret(channel) == secret
    assert channels.read_url(channel) == http_server.url + "?token=abc"

    listing = client.get(reverse("automations:channels", kwargs={"org_slug": org.slug}))
    edit = client.get(reverse("automations:channel_edit", kwargs={"org_slug": org.slug, "channel_id": channel.pk}))
    for page in (listing, edit):
        assert secret.encode() not in page.content and b"token=abc" not in page.content

    # A new secret replaces it, shown once; the old one no longer verifies.
    rotated = client.post(
        reverse("automations:channel_secret", kwargs={"org_slug": org.slug, "channel_id": channel.pk})
    )
    new_secret = re.search(rb'value="(whsec_[^"]+)"', rotated.content).group(1).decode()
    assert new_secret != secret
    channel.refresh_from_db()
    assert channels.read_secret(channel) == new_secret

    # A ciphertext copied onto another channel does not decrypt (bound to its row).
    other = actions.do_create_channel(org, user=owner, kind="webhook", name="Other", url=http_server.url).channel
    other.encrypted_secret = channel.encrypted_secret
    now = timezone.now()
    content = channels.Content(build_digest(org, DigestFilters(), now, now), None, "Test", "UTC", test=True)
    outcome = channels.send(Delivery(org=org, kind="webhook"), other, content)
    assert outcome.status == S.FAILED and "cannot be read" in outcome.error


def test_the_test_button_sends_and_records_it(org, owner, client_for, http_server, email_channel):
    saved = webhook(org, owner, http_server.url)
    client = client_for(owner)
    for channel in (saved.channel, email_channel):
        response = client.post(
            reverse("automations:channel_test", kwargs={"org_slug": org.slug, "channel_id": channel.pk}), follow=True
        )
        assert b"Test sent through" in response.content
    assert http_server.received[-1].json()["type"] == "test"
    assert http_server.received[-1].headers["x-cloustral-event"] == "test"
    [message] = mail.outbox
    assert message.subject.startswith("[Cloustral] Test:") and "This is a test of the channel" in message.body
    assert Delivery.objects.for_org(org).filter(category="test", status="sent").count() == 2

    http_server.answers = [404]
    response = client.post(
        reverse("automations:channel_test", kwargs={"org_slug": org.slug, "channel_id": saved.channel.pk}), follow=True
    )
    assert b"not sent" in response.content and b"HTTP 404" in response.content


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hook", "https://"),
        ("https://user:pass@example.com/hook", "Credentials"),
        ("https://127.0.0.1/hook", "private or local"),
        ("https://169.254.169.254/latest/meta-data", "private or local"),
        ("https://10.0.0.8/hook", "private or local"),
        ("https://localhost/hook", "private or local"),
        ("ftp://example.com/", "https://"),
        ("https://[::1]/hook", "private or local"),
    ],
)
def test_unsafe_urls_are_refused(url, why):
    with pytest.raises(http.UnsafeURL, match=why):
        http.check_url(url)


def test_a_host_resolving_to_a_private_address_is_refused_at_send(monkeypatch):
    monkeypatch.setattr(
        http.socket,
        "getaddrinfo",
        lambda *a, **k: [(2, 1, 6, "", ("10.1.2.3", 443))],  # DNS points inside
    )
    result = http.post("https://hooks.example.com/x", b"{}", {})
    assert not result.ok and not result.retryable and "private" in result.error


def test_slack_urls_must_be_slacks():
    with pytest.raises(http.UnsafeURL, match="hooks.slack.com"):
        channels.check_channel_url("slack", "https://example.com/services/T000/B000/TOKEN")
    assert channels.check_channel_url("slack", " https://hooks.slack.com/services/T0/B0/x ") == (
        "https://hooks.slack.com/services/T0/B0/x"
    )


def test_failed_deliveries_can_be_sent_again_and_only_they(org, owner, http_server, client_for, email_channel):
    http_server.answers = [404]  # the endpoint was misconfigured: a 4xx, not retried
    saved = webhook(org, owner, http_server.url)
    automation = make_automation(org, owner, channels=[saved.channel, email_channel], send_when_empty=True)
    run = sending.execute_run(engine.start_run(automation, key="manual:resend", reason="t").pk)
    run.refresh_from_db()
    assert run.status == AutomationRun.Status.PARTIAL and len(mail.outbox) == 1

    client = client_for(owner)
    page = client.get(run.get_absolute_url())
    assert b"Send the 1 failed delivery again" in page.content
    response = client.post(
        reverse("automations:run_resend", kwargs={"org_slug": org.slug, "automation_run_id": run.pk})
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == AutomationRun.Status.SENT
    assert len(http_server.received) == 2 and len(mail.outbox) == 1  # the email was not sent twice
    hook = Delivery.objects.for_org(org).get(run=run, kind="webhook")
    assert hook.status == S.SENT and hook.attempts == 1
