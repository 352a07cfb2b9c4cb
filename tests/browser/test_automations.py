"""An owner sets up a summary by email: a channel, an automation previewed before saving, "Run now", and
the run's page shows the delivery; the email arrives."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from findings.models import FindingEvent
from orgs.roles import Role
from tests.browser.conftest import submit_login
from tests.conftest import PASSWORD
from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    MembershipFactory,
    OrganizationFactory,
    ResourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def eager_celery():
    """The live server runs tasks in-process even when REDIS_URL points Celery at a broker (CI)."""
    from cloustral.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_owner_creates_an_automation_previews_it_and_runs_it(page, shot, eager_celery):
    owner = UserFactory(email="olive@example.com", first_name="Olive", timezone="Europe/Paris")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    conn = CloudConnectionFactory(org=org, name="Prod")
    finding = FindingFactory(resource=ResourceFactory(connection=conn), severity="critical", title="Bucket is public")
    FindingEvent.objects.for_org(org).create(finding=finding, kind=FindingEvent.Kind.OPENED)

    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto("/o/acme-cloud/")
    page.get_by_role("link", name="Automations", exact=True).first.click()
    expect(page.get_by_role("heading", name="No automation yet")).to_be_visible()
    shot("01-empty")

    page.get_by_role("link", name="Add a channel").click()
    page.get_by_role("link", name="New email channel").click()
    page.get_by_label("Name").fill("Owners")
    page.get_by_label("Owner", exact=True).check()
    page.get_by_role("button", name="Add channel").click()
    expect(page.get_by_text("Channel “Owners” added")).to_be_visible()

    page.goto("/o/acme-cloud/automations/new/")
    page.get_by_label("Name").fill("Morning summary")
    page.get_by_label("Owners").check()
    page.get_by_role("button", name="Preview the summary").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("Bucket is public")
    expect(preview).to_contain_text("Nothing is saved or sent")
    shot("02-preview")
    assert mail.outbox == []

    page.get_by_role("button", name="Create automation").click()
    expect(page.get_by_role("heading", name=re.compile("Morning summary"))).to_be_visible()
    expect(page.get_by_test_id("next-run")).to_contain_text("(Europe/Paris)")
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Sent")
    expect(page.get_by_test_id("deliveries")).to_contain_text("olive@example.com")
    shot("03-run")
    [message] = mail.outbox
    assert message.to == ["olive@example.com"] and "Bucket is public" in message.body
