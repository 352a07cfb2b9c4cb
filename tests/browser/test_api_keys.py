"""The API in a real browser: an admin makes an organization key on the API keys page (the key shown
once), the key reads the API, and the API reference (Swagger UI from drf-spectacular-sidecar) renders
every operation under the app's Content Security Policy, with no violation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orgs.roles import Role
from tests.browser.conftest import submit_login
from tests.conftest import PASSWORD
from tests.factories import CloudConnectionFactory, FindingFactory, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.browser


def test_make_a_key_use_it_and_read_the_reference(page, shot):
    org = OrganizationFactory(name="Keys Corp", slug="keys-corp")
    admin = UserFactory(email="admin@keys.example")
    MembershipFactory(user=admin, org=org, role=Role.ADMIN)
    FindingFactory(resource__connection=CloudConnectionFactory(org=org), title="Open SSH to the world")
    csp_violations: list[str] = []
    page.on("console", lambda msg: csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None)

    submit_login(page, admin.email, PASSWORD)
    page.goto(f"/o/{org.slug}/api-keys/")
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    page.get_by_test_id("new-key").click()
    page.get_by_label("Name").fill("SIEM export")
    page.get_by_label("Organization key").check()
    page.get_by_label("Read", exact=True).check()
    page.get_by_role("button", name="Create key").click()
    token = page.get_by_test_id("new-api-key").inner_text().strip()
    assert re.fullmatch(r"clst_[0-9A-Za-z]{36}", token)
    shot("key-created")

    # The key works at once, and only its prefix is ever shown again.
    api = page.request.get("/api/v1/findings/", headers={"Authorization": f"Bearer {token}"})
    assert api.status == 200 and api.json()["results"][0]["title"] == "Open SSH to the world"
    page.goto(f"/o/{org.slug}/api-keys/")
    expect(page.get_by_test_id("api-keys")).to_contain_text(token[:13])
    assert token not in page.content()

    page.goto("/api/v1/docs/")
    reference = page.get_by_test_id("api-reference")
    expect(reference.locator(".opblock").first).to_be_visible()
    expect(reference).to_contain_text("/api/v1/findings/ocsf/")
    assert reference.locator(".opblock").count() >= 20
    shot("reference")
    assert not csp_violations, csp_violations
