"""The morning walk in a real browser: dashboard → explorer with a filter → resource page → map, a
click on a node, and the exports; a screenshot of each page is saved in test-artifacts/browser/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inventory.models import DailyCount, ResourceChange
from orgs.roles import Role
from tests.browser.conftest import click_map_node, submit_login
from tests.conftest import PASSWORD
from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    MembershipFactory,
    OrganizationFactory,
    RelationshipFactory,
    ResourceFactory,
    UserFactory,
    synced,
)

pytestmark = pytest.mark.browser
OPEN_SSH = [{"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22, "source": "0.0.0.0/0"}]
MAP_READY = "() => window.cloustralMap && document.getElementById('map-root').dataset.state === 'ready'"


def estate(org):
    conn = CloudConnectionFactory(org=org, name="Production")
    run = synced(conn, {"aws.ec2.instance": ["eu-west-1"], "aws.ec2.volume": ["eu-west-1"]})

    def res(rtype: str, name: str, config: dict | None = None, tags: dict | None = None):
        return ResourceFactory(
            connection=conn, resource_type=rtype, name=name, region="eu-west-1", config=config or {}, tags=tags or {}
        )

    vpc = res("aws.ec2.vpc", "main-vpc", {"cidr_block": "10.0.0.0/16"})
    subnet = res("aws.ec2.subnet", "public-a", {"cidr_block": "10.0.1.0/24"})
    RelationshipFactory(source=subnet, target=vpc, kind="in_vpc")
    sg = res("aws.ec2.security_group", "ssh-open", {"rules": OPEN_SSH})
    web = res(
        "aws.ec2.instance",
        "web-1",
        {"public_ip": "203.0.113.10", "state": "running", "instance_type": "t3.micro"},
        {"env": "prod"},
    )
    RelationshipFactory(source=web, target=subnet, kind="in_subnet")
    RelationshipFactory(source=web, target=sg, kind="uses_security_group")
    for i in range(6):
        res("aws.ec2.volume", f"data-{i}", {"state": "available", "size_gb": 100}, {"env": "dev"})
    FindingFactory(resource=web, severity="high", title="SSH open to the internet")
    ResourceChange.objects.create(
        org=org,
        connection=conn,
        sync_run=run,
        resource=web,
        resource_type=web.resource_type,
        native_id=web.native_id,
        name=web.name,
        kind="modified",
        diff={"config.instance_type": {"old": "t3.nano", "new": "t3.micro"}},
    )
    today = timezone.now().date()
    DailyCount.objects.bulk_create(
        DailyCount(
            org=org, connection=conn, date=today - timedelta(days=d), resource_type="aws.ec2.volume", count=6 + d % 3
        )
        for d in range(10)
    )
    return conn, web


def test_dashboard_explorer_resource_map_and_exports(page, shot):
    owner = UserFactory(email="olive@example.com", first_name="Olive")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    conn, web = estate(org)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # Dashboard: the numbers and the charts drawn by Chart.js.
    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto("/o/acme-cloud/")
    expect(page.get_by_test_id("kpi-resources")).to_contain_text("10")
    expect(page.get_by_test_id("kpi-findings")).to_contain_text("1")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('resources-chart'))")
    shot("01-dashboard")

    # Explorer through the navigation, then a filter on the type (htmx swaps the results, the URL follows).
    page.get_by_role("link", name="Inventory", exact=True).click()
    expect(page.get_by_test_id("result-count")).to_have_text("10")
    page.locator("summary", has_text="Type").click()
    page.locator("input[name=type][value='aws.ec2.instance']").check()
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("result-count")).to_have_text("1")
    assert "type=aws.ec2.instance" in page.url
    expect(page.get_by_test_id("findings-badge")).to_have_text("1")
    shot("02-explorer-filtered")

    # The filtered set exports as CSV.
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV", exact=True).click()
    lines = open(csv_download.value.path(), encoding="utf-8").read().splitlines()
    assert len(lines) == 2 and "web-1" in lines[1]

    # Resource page: configuration, relationships, findings, change history.
    page.get_by_test_id("explorer-table").get_by_role("link", name="web-1").click()
    page.wait_for_url(re.compile(rf"/o/acme-cloud/resources/{web.pk}/$"))
    expect(page.get_by_test_id("resource-name")).to_have_text("web-1")
    expect(page.get_by_test_id("config-tree")).to_contain_text("203.0.113.10")
    expect(page.get_by_test_id("outgoing")).to_contain_text("public-a")
    expect(page.get_by_test_id("findings")).to_contain_text("SSH open to the internet")
    expect(page.get_by_test_id("timeline")).to_contain_text("t3.nano")
    shot("03-resource")

    # The map of the connection: the exposed instance is highlighted; a click on it opens its page.
    page.get_by_role("link", name="Map", exact=True).click()
    page.wait_for_function(MAP_READY)
    cy = "window.cloustralMap"
    assert page.evaluate(f"{cy}.$id('r{web.pk}').hasClass('exposed')")
    shot("04-map")
    with page.expect_download() as png:
        page.get_by_test_id("map-export-png").click()
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as svg:
        page.get_by_test_id("map-export-svg").click()
    assert "<svg" in open(svg.value.path(), encoding="utf-8").read()
    click_map_node(page, f"r{web.pk}")
    page.wait_for_url(re.compile(rf"/o/acme-cloud/resources/{web.pk}/$"))

    # Findings from the navigation, exported as JSON.
    page.get_by_role("link", name="Findings", exact=True).click()
    expect(page.get_by_test_id("rule-groups")).to_contain_text("SSH open to the internet")  # grouped by rule
    page.get_by_test_id("view-flat").click()
    expect(page.get_by_test_id("findings")).to_contain_text("SSH open to the internet")
    shot("05-findings")
    with page.expect_download() as json_download:
        page.get_by_test_id("export-json").click()
    assert '"web-1"' in open(json_download.value.path(), encoding="utf-8").read()
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
