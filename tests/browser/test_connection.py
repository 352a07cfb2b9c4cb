"""An owner adds an AWS role connection against a local moto server, lands on its first scan's live
progress (a real Celery worker runs it), and sees the connection verified with its account id."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from moto.server import ThreadedMotoServer
from playwright.sync_api import expect

from connections.models import CloudConnection
from orgs.roles import Role
from tests.browser.conftest import password_field, submit_login
from tests.browser.worker import celery_worker  # noqa: F401  (fixture)
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def moto_server(monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "AKIAPLATFORMEXAMPLE0",
        "AWS_SECRET_ACCESS_KEY": "platform",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    iam = boto3.client("iam", region_name="us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="CloustralReadOnly", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_account_alias(AccountAlias="acme-prod")
    yield endpoint
    server.stop()


def test_owner_adds_an_aws_role_connection_and_sees_it_verified(page, moto_server, celery_worker, shot):  # noqa: F811
    owner = UserFactory(email="olive@example.com", first_name="Olive")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)

    assert submit_login(page, owner.email, PASSWORD).status == 302
    page.goto("/o/acme-cloud/connections/")
    expect(page.get_by_role("heading", name="Connect your first cloud account")).to_be_visible()
    shot("01-empty")
    page.get_by_role("link", name="Connect an account").first.click()
    page.get_by_role("link", name=re.compile("AWS — IAM role")).click()
    # Credential pages need a fresh proof of identity (the login just now is one; a slow run may outlast it).
    if "/account/confirm/" in page.url:
        password_field(page).fill(PASSWORD)
        page.get_by_role("button", name=re.compile("confirm", re.I)).click()
    external_id = page.get_by_test_id("external-id").inner_text()
    assert external_id.startswith("cloustral-")
    expect(page.get_by_role("link", name="Download CloudFormation template")).to_be_visible()
    shot("02-wizard")
    page.get_by_label("Name").fill("Production")
    page.get_by_label("Role ARN").fill("arn:aws:iam::123456789012:role/CloustralReadOnly")
    page.get_by_role("button", name="Test and save").click()
    # The first scan started by itself: its page shows the progress, then the outcome.
    expect(page.get_by_role("heading", level=1)).to_have_text("Scan of Production")
    expect(page.get_by_role("status").first).to_contain_text("Its first scan has started.")
    expect(page.get_by_test_id("run-status")).to_have_text("Running", timeout=30_000)
    expect(page.get_by_test_id("progress-text")).to_contain_text("resource type × region steps done", timeout=30_000)
    expect(page.get_by_test_id("live-counts")).to_contain_text("found so far")
    shot("03-first-scan-running")
    # A whole moto account takes minutes: stop it here (the cancel path is the engine's own test).
    page.get_by_test_id("cancel-scan").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Cancelled", timeout=30_000)
    conn = CloudConnection.objects.for_org(org).get()
    page.goto(conn.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text("Production")
    expect(page.get_by_test_id("status").first).to_have_text("Verified")
    expect(page.get_by_test_id("account-id")).to_have_text("123456789012")
    shot("04-verified")
    conn = CloudConnection.objects.for_org(org).get()
    assert conn.external_id == external_id and conn.status == "verified"
