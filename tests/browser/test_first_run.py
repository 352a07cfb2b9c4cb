"""The first hour, end to end in a real browser (the screenshots illustrate docs/first-run.md):

1. sign up, confirm the email in the same browser (signed in at once, the email says "Cloustral"), connect
   an AWS account (moto), land on the first scan's live progress while a real Celery worker runs it,
   "Test connection" answers at once and the page follows the check;
2. triage at scale: the findings grouped by rule, a group opened, a selection suppressed in bulk, a rule
   accepted in a scope (future findings too), the compliance count following, a remediation command
   copied.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import boto3
import pytest
from django.core import mail
from moto.server import ThreadedMotoServer
from playwright.sync_api import expect

from findings import lifecycle
from findings.models import Finding, SuppressionRule
from orgs.roles import Role
from tests.browser.conftest import on_live_server, password_field, submit_login
from tests.browser.worker import celery_worker  # noqa: F401  (fixture)
from tests.conftest import PASSWORD
from tests.factories import (
    CloudConnectionFactory,
    MembershipFactory,
    OrganizationFactory,
    ResourceFactory,
    UserFactory,
    synced,
)

pytestmark = pytest.mark.browser
EMAIL = "ada@example.com"
NEW_PASSWORD = "Orbit-lantern-Quartz-57"


@pytest.fixture
def moto_server(monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto keeps its accounts per process: start from an empty one whatever ran before.
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "AKIAPLATFORMEXAMPLE0",
        "AWS_SECRET_ACCESS_KEY": "platform",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="CloustralReadOnly", AssumeRolePolicyDocument=json.dumps(trust)
    )
    yield
    server.stop()


def _mail(subject_part: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in mail.outbox if subject_part in m.subject.lower() and EMAIL in m.to]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no mail about {subject_part!r}: {[m.subject for m in mail.outbox]}")


def test_sign_up_confirm_connect_and_watch_the_first_scan(page, live_server, moto_server, celery_worker, shot):  # noqa: F811
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/accounts/signup/")
    page.get_by_label(re.compile(r"^\s*Email", re.I)).fill(EMAIL)
    page.get_by_label(re.compile(r"^\s*Organization name", re.I)).fill("Lovelace Cloud")
    password_field(page).fill(NEW_PASSWORD)
    page.get_by_label(re.compile(r"^\s*Password \(again\)", re.I)).fill(NEW_PASSWORD)
    page.get_by_label("I am 18 years of age or older").check()
    page.get_by_role("button", name=re.compile(r"^\s*sign up\s*$", re.I)).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("verify your email", re.I))

    message = _mail("confirm")
    assert "Hello from Cloustral!" in message.body and "example.com" not in message.body.replace(EMAIL, "")
    link = re.search(r"https?://\S+/accounts/confirm-email/[^\s/]+/", message.body).group(0)
    page.goto(on_live_server(link, live_server.url))
    shot("01-confirm-email")
    page.get_by_role("button", name=re.compile(r"^\s*confirm\s*$", re.I)).click()
    # Same browser: signed in at once, on the new organization's home.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lovelace Cloud")
    shot("02-signed-in-after-confirming")

    page.get_by_role("link", name="Connections", exact=True).first.click()
    page.get_by_role("link", name="Connect an account").first.click()
    page.get_by_role("link", name=re.compile("AWS — IAM role")).click()
    if "/account/confirm/" in page.url:
        password_field(page).fill(NEW_PASSWORD)
        page.get_by_role("button", name=re.compile("confirm", re.I)).click()
    page.get_by_label("Name").fill("Production")
    page.get_by_label("Role ARN").fill("arn:aws:iam::123456789012:role/CloustralReadOnly")
    shot("03-connect")
    page.get_by_role("button", name="Test and save").click()

    # The first scan started by itself; its page follows it live (htmx polling every 2 s).
    expect(page.get_by_role("heading", level=1)).to_have_text("Scan of Production")
    expect(page.get_by_role("status").first).to_contain_text("Its first scan has started.")
    page.wait_for_function(
        "() => Number((document.querySelector('[data-testid=progress]') || {}).value || 0) > 0", timeout=60_000
    )
    expect(page.get_by_test_id("live-counts")).to_contain_text("found so far")
    shot("04-first-scan-progress")
    page.get_by_test_id("cancel-scan").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Cancelled", timeout=30_000)

    # "Test connection" answers at once; the page shows the check running, then its outcome.
    page.get_by_role("link", name="← Scans of Production").click()
    page.get_by_role("link", name="← Connections").count()  # the scans page links back
    page.goto(page.url.replace("/scans/", "/"))
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("check-panel")).to_contain_text(re.compile("Testing the connection|Connection verified"))
    expect(page.get_by_test_id("check-panel")).to_contain_text("Connection verified — 123456789012", timeout=30_000)
    # Regions in the commercial partition only, grouped by area.
    picker = page.get_by_test_id("region-picker")
    expect(picker).to_contain_text("AWS (commercial) · Europe")
    expect(picker).not_to_contain_text("cn-north-1")
    expect(picker).not_to_contain_text("us-gov-west-1")
    shot("05-connection-verified")


def test_triage_findings_grouped_bulk_suppress_accept_a_scope_and_copy_a_fix(page, shot):
    owner = UserFactory(email="olive@example.com", first_name="Olive")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    prod = CloudConnectionFactory(org=org, name="Production")
    sandbox = CloudConnectionFactory(org=org, name="Sandbox")
    regions = ["eu-west-1", "eu-west-2", "eu-central-1", "us-east-1", "us-east-2", "us-west-2"]
    for conn in (prod, sandbox):
        synced(conn, {"aws.region.settings": regions, "aws.ec2.volume": regions, "aws.ec2.instance": regions})
        for region in regions:
            ResourceFactory(connection=conn, resource_type="aws.region.settings", region=region, name=region,
                            config={"default_vpc_id": f"vpc-{region}"})  # fmt: skip
        for i in range(3):
            ResourceFactory(
                connection=conn,
                resource_type="aws.ec2.volume",
                region="eu-west-1",
                name=f"scratch-{i}",
                config={"encrypted": False, "state": "available", "size_gb": 100, "volume_type": "gp2"},
            )
        ResourceFactory(
            connection=conn,
            resource_type="aws.ec2.instance",
            region="eu-west-1",
            name="web",
            native_id=f"arn:aws:ec2:eu-west-1:123456789012:instance/i-0{conn.pk}abc",
            config={"state": "running", "metadata_options": {"http_tokens": "optional", "http_endpoint": "enabled"}},
        )
        lifecycle.evaluate_connection(conn)
    assert Finding.objects.for_org(org).filter(status="open").count() > 20

    page.set_viewport_size({"width": 1440, "height": 1000})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto("/o/acme-cloud/findings/")
    groups = page.get_by_test_id("rule-group")
    expect(groups.first).to_be_visible()
    vpc_group = page.locator("[data-testid=rule-group][data-rule='aws-default-vpc-present']")
    expect(vpc_group.get_by_test_id("group-count")).to_have_text("12")
    shot("01-grouped")

    # Open the unattached-volume group and suppress two of its findings in bulk.
    volumes = page.locator("[data-testid=rule-group][data-rule='aws-ec2-volume-unattached']")
    volumes.locator("summary").click()
    rows = volumes.get_by_test_id("group-findings").locator("input[name=id]")
    expect(rows).to_have_count(6)
    rows.nth(0).check()
    rows.nth(1).check()
    expect(page.locator("[data-bulk-count]")).to_have_text("2")
    page.get_by_test_id("bulk-suppress-open").click()
    page.get_by_test_id("bulk-reason").fill("Scratch volumes of the load test, deleted next week")
    shot("02-bulk-suppress")
    page.get_by_test_id("bulk-suppress").click()
    expect(page.get_by_role("status").first).to_contain_text("2 findings suppressed.")
    expect(volumes.get_by_test_id("group-count")).to_have_text("4")

    # Accept the default VPCs of the Sandbox account once: today's and tomorrow's.
    vpc_group.locator("summary").click()
    vpc_group.get_by_test_id("group-findings").locator("a").first.click()
    page.get_by_test_id("accept-scope").click()
    page.get_by_label("Connection").select_option(label="Sandbox")
    page.get_by_label("Region").fill("")
    page.get_by_label("Reason").fill("Default VPCs of the sandbox account: accepted")
    shot("03-accept-scope")
    page.get_by_test_id("accept-submit").click()
    expect(page.get_by_role("status").first).to_contain_text("6 findings suppressed now")
    expect(page.get_by_test_id("acceptances")).to_contain_text("connection Sandbox")
    shot("04-acceptances")
    rule = SuppressionRule.objects.for_org(org).get()
    assert rule.connection == sandbox
    page.goto("/o/acme-cloud/findings/")
    expect(vpc_group.get_by_test_id("group-count")).to_have_text("6")

    # A finding's page gives the command that fixes it, ids filled in, with a copy button.
    page.goto("/o/acme-cloud/findings/?rule=aws-ec2-instance-imdsv1-allowed")
    page.get_by_test_id("findings").locator("tbody a").first.click()
    snippet = page.get_by_test_id("snippet-aws_cli")
    expect(snippet).to_contain_text("aws ec2 modify-instance-metadata-options --region eu-west-1 --instance-id i-0")
    page.get_by_test_id("copy-aws_cli").click()
    expect(page.get_by_test_id("copy-aws_cli")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("aws ec2 modify-instance-metadata-options --region eu-west-1 --instance-id i-0")
    shot("05-remediation")
