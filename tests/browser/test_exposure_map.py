"""The exposure path in a real browser: the resource page lists the path of an exposed instance and links
to the map, which highlights the path's nodes (Internet, gateway, subnet, instance) and the Internet edge,
dims the rest, names the steps, and toggles the highlight off and on."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from orgs.roles import Role
from tests.browser.conftest import submit_login
from tests.conftest import PASSWORD
from tests.dashboard.test_exposure_page import REGION, exposed_estate
from tests.factories import MembershipFactory, OrganizationFactory, RelationshipFactory, ResourceFactory, UserFactory

pytestmark = pytest.mark.browser

READY = "() => window.cloustralMap && document.getElementById('map-root').dataset.state === 'ready'"
HIGHLIGHTED = "window.cloustralMap.$('.exposure-path').map((e) => e.id()).sort()"


def test_the_map_highlights_the_exposure_path(page, shot):
    viewer = UserFactory(email="vera@example.com", first_name="Vera")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=viewer, org=org, role=Role.VIEWER)
    estate = exposed_estate(org)
    private = ResourceFactory(connection=estate.conn, resource_type="aws.ec2.subnet", name="app-a", region=REGION)
    RelationshipFactory(source=private, target=estate.vpc, kind="in_vpc")
    worker = ResourceFactory(
        connection=estate.conn,
        resource_type="aws.ec2.instance",
        name="worker",
        region=REGION,
        config={"state": "running"},
    )
    RelationshipFactory(source=worker, target=private, kind="in_subnet")

    assert submit_login(page, viewer.email, PASSWORD).status == 302
    page.goto(f"/o/acme-cloud/resources/{estate.instance.pk}/")
    panel = page.get_by_test_id("exposure")
    expect(panel).to_have_attribute("data-state", "exposed")
    expect(page.get_by_test_id("exposure-path").locator("li")).to_have_count(6)
    shot("resource-exposure")

    page.get_by_test_id("exposure-map-link").click()
    page.wait_for_function(READY)
    page.wait_for_function("() => document.getElementById('map-root').dataset.exposure === 'shown'")
    on_path = sorted(
        ["internet", *(f"r{r.pk}" for r in (estate.igw, estate.subnet, estate.instance)), f"exp:r{estate.instance.pk}"]
    )
    assert page.evaluate(HIGHLIGHTED) == on_path
    # Everything else is dimmed, except the groups around the path (region, VPC).
    dimmed = "(id) => window.cloustralMap.$id(id).hasClass('exposure-dim')"
    assert page.evaluate(dimmed, f"r{estate.vpc.pk}") is False
    assert page.evaluate(dimmed, f"r{worker.pk}") is True
    assert page.evaluate(dimmed, f"r{private.pk}") is True
    summary = page.get_by_test_id("map-exposure-summary")
    expect(summary).to_contain_text("Exposure path: Internet → igw-1")
    expect(summary).to_contain_text("web-sg (allows tcp 443 from 0.0.0.0/0) → web-1")
    shot("map-exposure-path")

    toggle = page.get_by_test_id("map-exposure-toggle")
    toggle.click()
    page.wait_for_function("() => document.getElementById('map-root').dataset.exposure === 'hidden'")
    assert page.evaluate(HIGHLIGHTED) == []
    assert page.evaluate(dimmed, f"r{worker.pk}") is False
    expect(toggle).to_have_text("Show exposure path")
    toggle.click()
    page.wait_for_function("() => document.getElementById('map-root').dataset.exposure === 'shown'")
    assert page.evaluate(HIGHLIGHTED) == on_path
