"""The automation pages: the list with last and next run in each schedule's timezone, the form with its
preview before saving, the plan's limit as a form error, pause/resume, run now, delete, channels, the
delivery log; viewers see, members manage, admins read the log; another organization's objects are 404."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.urls import reverse

from automations.models import Automation, AutomationRun, Channel, Delivery
from findings.models import FindingEvent
from tests.automations.conftest import make_automation
from tests.factories import FindingFactory, ResourceFactory

pytestmark = pytest.mark.django_db


def u(name, org, **kwargs):
    return reverse(f"automations:{name}", kwargs={"org_slug": org.slug, **kwargs})


def form_data(**overrides):
    data = {
        "name": "Weekly to the owners",
        "enabled": "on",
        "trigger": "schedule",
        "frequency": "weekly",
        "weekday": "0",
        "hour": "9",
        "timezone": "Europe/Paris",
        "action": "summarize",
        "min_severity": "info",
        "rule_ids": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_create_with_a_preview_first(client_for, org, owner, conn, email_channel):
    f = FindingFactory(resource=ResourceFactory(connection=conn), severity="critical", title="Public snapshot")
    FindingEvent.objects.for_org(org).create(finding=f, kind="opened")
    client = client_for(owner)
    assert client.get(u("new", org)).status_code == 200

    preview = client.post(u("new", org), {**form_data(), "channels": [email_channel.pk], "preview": "1"})
    assert preview.status_code == 200
    assert b'data-testid="preview"' in preview.content and b"Public snapshot" in preview.content
    assert b"Nothing is saved or sent" in preview.content
    assert not Automation.objects.for_org(org).exists() and mail.outbox == []

    # The preview honours the form's filters.
    filtered = client.post(u("new", org), {**form_data(categories=["cost"]), "preview": "1"})
    assert b"Public snapshot" not in filtered.content

    response = client.post(u("new", org), {**form_data(), "channels": [email_channel.pk]})
    automation = Automation.objects.for_org(org).get()
    assert response.status_code == 302 and response["Location"] == automation.get_absolute_url()
    assert (automation.trigger, automation.frequency, automation.weekday, automation.hour) == (
        "schedule",
        "weekly",
        0,
        9,
    )
    assert automation.timezone == "Europe/Paris" and automation.created_by == owner
    assert automation.next_run_at is not None
    local = automation.next_run_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)


def test_invalid_input_is_a_form_error_not_a_500(client_for, org, owner):
    client = client_for(owner)
    for bad in (
        form_data(name=""),
        form_data(trigger="after_scan", action="scan_and_summarize"),
        form_data(timezone="Mars/Olympus"),
        form_data(rule_ids="not a rule!"),
        form_data(hour="25"),
        {"garbage": "1"},
    ):
        response = client.post(u("new", org), bad)
        assert response.status_code == 400, bad
    assert not Automation.objects.for_org(org).exists()
    # Another organization's connection or channel cannot be attached.


def test_other_orgs_connections_and_channels_cannot_be_attached(client_for, org, owner, outsider):
    from tests.factories import CloudConnectionFactory

    foreign_conn = CloudConnectionFactory(org=outsider.org)
    foreign_channel = Channel.objects.create(org=outsider.org, name="Theirs", kind="email", roles=["owner"])
    response = client_for(owner).post(
        u("new", org), {**form_data(), "connections": [foreign_conn.pk], "channels": [foreign_channel.pk]}
    )
    assert response.status_code == 400  # not a valid choice


def test_the_plan_limit_is_a_form_error(client_for, org, owner, settings):
    settings.BILLING_ENFORCE_LIMITS = True  # the Free plan: one automation
    client = client_for(owner)
    assert client.post(u("new", org), form_data(name="First")).status_code == 302
    refused = client.post(u("new", org), form_data(name="Second"))
    assert refused.status_code == 400
    assert (
        b"automations limit" in refused.content
        and reverse("billing:plan", kwargs={"org_slug": org.slug}).encode() in refused.content
    )
    assert Automation.objects.for_org(org).count() == 1


def test_list_shows_last_and_next_run_in_the_schedules_timezone(client_for, org, owner, member):
    automation = make_automation(org, owner, hour=9, timezone="Asia/Tokyo")
    Automation.objects.for_org(org).filter(pk=automation.pk).update(
        next_run_at=datetime(2031, 1, 6, 0, 0, tzinfo=UTC), last_run_at=datetime(2031, 1, 5, 0, 0, tzinfo=UTC)
    )
    page = client_for(member).get(u("list", org))
    cell = re.search(rb'data-testid="next-run-%d">(.*?)</td>' % automation.pk, page.content, re.S).group(1)
    assert b"Jan 6, 09:00 (Asia/Tokyo)" in cell
    assert b"Jan 5, 09:00 (Asia/Tokyo)" in page.content
    assert b"Daily at 09:00 (Asia/Tokyo)" in page.content


def test_list_and_detail_run_a_bounded_number_of_queries(client_for, org, owner, email_channel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(owner)

    def queries(url: str) -> int:
        client.get(url)  # warm (session, membership caches of the first request)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    def add(n: int):
        for _ in range(n):
            automation = make_automation(
                org, owner, name=f"A{Automation.objects.for_org(org).count()}", channels=[email_channel]
            )
            for k in range(2):
                AutomationRun.objects.for_org(org).create(automation=automation, key=f"k{k}", status="sent")
        return automation

    first = add(2)
    few = queries(u("list", org)), queries(u("detail", org, automation_id=first.pk))
    add(10)
    for k in range(5, 15):
        AutomationRun.objects.for_org(org).create(automation=first, key=f"k{k}", status="sent")
    many = queries(u("list", org)), queries(u("detail", org, automation_id=first.pk))
    assert many == few  # the same queries whatever the number of automations and runs
    assert max(many) <= 20


@pytest.mark.parametrize("member_role", ["viewer"])
def test_viewers_see_but_do_not_manage(client_for, org, owner, member, email_channel):
    automation = make_automation(org, owner, channels=[email_channel])
    client = client_for(member)
    for name, kwargs in (
        ("list", {}),
        ("detail", {"automation_id": automation.pk}),
        ("preview", {"automation_id": automation.pk}),
        ("channels", {}),
    ):
        assert client.get(u(name, org, **kwargs)).status_code == 200, name
    page = client.get(u("detail", org, automation_id=automation.pk))
    assert b"Run now" not in page.content and b"Edit" not in page.content
    for name, kwargs, method in (
        ("new", {}, "get"),
        ("edit", {"automation_id": automation.pk}, "get"),
        ("toggle", {"automation_id": automation.pk}, "post"),
        ("run_now", {"automation_id": automation.pk}, "post"),
        ("delete", {"automation_id": automation.pk}, "post"),
        ("channel_test", {"channel_id": email_channel.pk}, "post"),
        ("channel_new", {"channel_kind": "slack"}, "get"),
        ("deliveries", {}, "get"),
    ):
        assert getattr(client, method)(u(name, org, **kwargs)).status_code == 403, name
    assert Automation.objects.for_org(org).filter(pk=automation.pk, enabled=True).exists()


def test_another_orgs_objects_are_404(client_for, org, owner, outsider, email_channel):
    automation = make_automation(org, owner, channels=[email_channel])
    run = AutomationRun.objects.for_org(org).create(automation=automation, key="x")
    attacker = client_for(outsider)
    for name, kwargs in (
        ("detail", {"automation_id": automation.pk}),
        ("edit", {"automation_id": automation.pk}),
        ("preview", {"automation_id": automation.pk}),
        ("run", {"automation_run_id": run.pk}),
        ("channel_edit", {"channel_id": email_channel.pk}),
    ):
        # Through the outsider's own organization (where they may do anything): still not found.
        response = attacker.get(reverse(f"automations:{name}", kwargs={"org_slug": outsider.org.slug, **kwargs}))
        assert response.status_code == 404, name
        assert attacker.get(u(name, org, **kwargs)).status_code == 404, name


def test_pause_resume_run_now_and_delete(
    client_for, org, owner, conn, email_channel, django_capture_on_commit_callbacks
):
    automation = make_automation(org, owner, channels=[email_channel], send_when_empty=True)
    client = client_for(owner)
    client.post(u("toggle", org, automation_id=automation.pk))
    automation.refresh_from_db()
    assert not automation.enabled and automation.next_run_at is None
    client.post(u("toggle", org, automation_id=automation.pk))
    automation.refresh_from_db()
    assert automation.enabled and automation.next_run_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(u("run_now", org, automation_id=automation.pk))
    run = AutomationRun.objects.for_org(org).get(automation=automation)
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    page = client.get(run.get_absolute_url())
    assert page.status_code == 200 and b'data-testid="deliveries"' in page.content

    assert client.get(u("delete", org, automation_id=automation.pk)).status_code == 200
    client.post(u("delete", org, automation_id=automation.pk))
    assert not Automation.objects.for_org(org).exists()
    # Its delivery log stays.
    assert Delivery.objects.for_org(org).filter(automation_name=automation.name, automation=None).count() == 1


def test_channels_pages(client_for, org, owner, member):
    client = client_for(owner)
    response = client.post(u("channel_new", org, channel_kind="email"), {"name": "Team", "roles": ["member"]})
    assert response.status_code == 302
    channel = Channel.objects.for_org(org).get(name="Team")
    assert channel.roles == ["member"]
    assert client.post(u("channel_new", org, channel_kind="email"), {"name": "Nobody"}).status_code == 400
    assert (
        client.post(u("channel_new", org, channel_kind="email"), {"name": "Team", "roles": ["owner"]}).status_code
        == 400
    )
    assert client.get(u("channel_new", org, channel_kind="pager")).status_code == 404
    bad_slack = client.post(u("channel_new", org, channel_kind="slack"), {"name": "S", "url": "https://evil.example/x"})
    assert bad_slack.status_code == 400 and b"hooks.slack.com" in bad_slack.content

    edit = client.post(u("channel_edit", org, channel_id=channel.pk), {"name": "Team", "members": [member.pk]})
    assert edit.status_code == 302
    channel.refresh_from_db()
    assert channel.roles == [] and channel.member_ids == [member.pk]
    assert client.get(u("channel_delete", org, channel_id=channel.pk)).status_code == 200
    client.post(u("channel_delete", org, channel_id=channel.pk))
    assert not Channel.objects.for_org(org).exists()


@pytest.mark.parametrize("member_role", ["admin"])
def test_the_delivery_log_is_for_admins(client_for, org, owner, member, email_channel):
    failed = Delivery.objects.for_org(org).create(
        kind="webhook", category="digest", recipient="https://hooks.example/…", status="failed", error="HTTP 500"
    )
    Delivery.objects.for_org(org).create(kind="email", category="digest", recipient="ok@example.com", status="sent")
    page = client_for(member).get(u("deliveries", org))
    assert page.status_code == 200 and b"HTTP 500" in page.content and b"ok@example.com" not in page.content
    everything = client_for(member).get(u("deliveries", org) + "?show=all")
    assert b"ok@example.com" in everything.content and failed.recipient.encode() in everything.content
    assert client_for(member).get(u("deliveries", org) + "?show=nonsense&page=zzz").status_code == 200
