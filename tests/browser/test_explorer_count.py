"""The explorer's deferred count in a real browser: a filter the cached group counts cannot answer
(a text search over more than one page) shows the rows at once and counts in a request of its own.
If that request fails, the page says so and offers to try again, instead of "Counting…" for good."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from inventory.models import Resource
from orgs.roles import Role
from tests.browser.conftest import submit_login
from tests.conftest import PASSWORD
from tests.factories import CloudConnectionFactory, MembershipFactory, OrganizationFactory, UserFactory, synced

pytestmark = pytest.mark.browser
COUNT_URL = "**/o/acme-cloud/inventory/count/**"


def test_a_failed_count_says_so_and_counts_again_on_request(page):
    owner = UserFactory(email="olive@example.com")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    conn = CloudConnectionFactory(org=org, name="Production")
    synced(conn, {"aws.ec2.volume": ["eu-west-1"]})
    Resource.objects.bulk_create(
        Resource(
            org=org,
            connection=conn,
            provider="aws",
            resource_type="aws.ec2.volume",
            region="eu-west-1",
            native_id=f"arn:aws:ec2:eu-west-1:123456789012:volume/vol-{i:04d}",
            name=f"{'data' if i % 2 else 'logs'}-{i:04d}",
        )
        for i in range(130)
    )
    assert submit_login(page, owner.email, PASSWORD).status == 302

    failures = []

    def fail(route):
        failures.append(route.request.url)
        route.fulfill(status=500, body="Server Error")

    page.route(COUNT_URL, fail)
    page.goto("/o/acme-cloud/inventory/?q=data")
    expect(page.get_by_test_id("explorer-table").locator("tbody tr")).to_have_count(50)  # the rows, at once
    pending = page.get_by_test_id("count-pending")
    expect(pending).to_contain_text("could not be counted")
    assert len(failures) == 1

    page.unroute(COUNT_URL)
    pending.get_by_role("button", name="Try again").click()
    expect(page.get_by_test_id("result-count")).to_have_text("65")
    expect(page.get_by_test_id("count-pending")).to_have_count(0)
