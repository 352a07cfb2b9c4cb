"""``seed_demo`` gives the demo organization one automation, prints its preview and runs it once (the
email goes to the console in scripts/demo; to mail.outbox here). Run again, it reuses it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from automations.models import Automation, AutomationRun, Channel
from orgs.models import Organization

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_clouds(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key in ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET", "SUBSCRIPTIONS"):
        monkeypatch.delenv(f"DEMO_AZURE_{key}", raising=False)


def seed() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_demo_has_one_automation_and_shows_its_preview_and_email():
    out, err = seed()
    assert "Demo ready." in out and "Daily summary" not in out  # stdout stays the login banner
    org = Organization.objects.get(slug="demo-org")
    automation = Automation.objects.for_org(org).get()
    assert automation.name == "Daily summary" and automation.trigger == "schedule"
    assert Channel.objects.for_org(org).get().roles == ["owner"]
    assert "Automation “Daily summary” (Daily at 08:00 (UTC)); its preview:" in err
    assert "Subject: [Cloustral] Demo Org: No changes — Daily summary" in err and "FINDINGS" in err
    assert "Ran “Daily summary” once: Sent." in err
    [message] = mail.outbox
    assert message.to == ["demo@cloustral.localhost"] and "Demo Org — Daily summary" in message.body

    _, err = seed()
    assert Automation.objects.for_org(org).count() == 1 and Channel.objects.for_org(org).count() == 1
    assert AutomationRun.objects.for_org(org).count() == 2 and len(mail.outbox) == 2
