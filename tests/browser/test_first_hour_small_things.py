"""Small things a new user noticed, in a real browser at 1440 px: the inventory table fits its panel, a
collapsed filter shows that it opens, booleans are coloured by what is good for their key, a refused
suppression leaves the browser on a page that reloads, and the site has a favicon."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

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
def signed_in(page):
    owner = UserFactory(email="olive@example.com", first_name="Olive")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    page.set_viewport_size({"width": 1440, "height": 900})
    assert submit_login(page, owner.email, PASSWORD).status == 302
    return org


def test_the_inventory_table_fits_and_collapsed_filters_show_they_open(page, signed_in, shot):
    conn = CloudConnectionFactory(org=signed_in, name="Production account with a long name")
    for i in range(8):
        ResourceFactory(
            connection=conn,
            resource_type="aws.elbv2.target_group",
            region="ap-southeast-2",
            name=f"a-rather-long-target-group-name-for-service-{i}",
            native_id=(
                "arn:aws:elasticloadbalancing:ap-southeast-2:123456789012:targetgroup/"
                f"a-rather-long-target-group-name-for-service-{i}/0123456789abcdef"
            ),
            tags={"Environment": "production", "CostCenter": "platform-engineering", "Owner": "team@example.com"},
        )
    page.goto("/o/acme-cloud/inventory/")
    table = page.get_by_test_id("explorer-table")
    expect(table).to_be_visible()
    widths = page.evaluate(
        """() => {
            const wrap = document.querySelector('.ex-table-wrap');
            return [wrap.scrollWidth, wrap.clientWidth];
        }"""
    )
    assert widths[0] <= widths[1] + 1, f"the table overflows its panel: {widths}"
    # A closed facet carries a chevron, turned when open.
    closed = page.locator("details.ex-facet:not([open]) > summary").first
    marker = closed.evaluate("s => getComputedStyle(s, '::before').content")
    assert "▸" in marker
    shot("01-inventory-1440")


def test_booleans_are_coloured_by_what_is_good_for_their_key(page, signed_in, shot):
    conn = CloudConnectionFactory(org=signed_in)
    db = ResourceFactory(
        connection=conn,
        resource_type="aws.rds.db_instance",
        name="orders-db",
        config={"storage_encrypted": True, "publicly_accessible": True, "multi_az": False, "is_default": True},
    )
    page.goto(f"/o/acme-cloud/resources/{db.pk}/")

    def colour_of(key: str) -> str:
        row = page.locator("tr", has=page.locator("th", has_text=key)).first
        return row.locator(".cfg-bool-val").evaluate("e => e.className")

    assert "cfg-good" in colour_of("storage_encrypted")
    assert "cfg-bad" in colour_of("publicly_accessible")
    assert "cfg-bad" in colour_of("multi_az")  # false where true is good
    neutral = colour_of("is_default")
    assert "cfg-good" not in neutral and "cfg-bad" not in neutral
    shot("01-resource-booleans")


def test_a_refused_suppression_reloads_without_a_405_and_the_site_has_a_favicon(page, signed_in, shot):
    conn = CloudConnectionFactory(org=signed_in)
    finding = FindingFactory(resource=ResourceFactory(connection=conn))
    page.goto(f"/o/acme-cloud/findings/{finding.pk}/")
    page.get_by_role("button", name="Suppress").click()  # no reason given
    expect(page.get_by_text("Say why this finding is suppressed")).to_be_visible()
    assert page.url.split("#")[0].endswith(f"/findings/{finding.pk}/")
    response = page.reload()
    assert response.status == 200
    shot("01-suppress-refused")
    icon = page.locator("link[rel=icon]").first.get_attribute("href")
    assert icon and page.request.get(icon).status == 200
