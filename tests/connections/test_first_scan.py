"""The first hour with a connection: a new connection starts its first scan and lands on its live progress,
"Test connection" and "Scan now" answer at once (the work is a Celery task), default regions stay in the
account's partition and the region picker groups them."""

from __future__ import annotations

import boto3
import pytest
from django.db import transaction
from django.urls import reverse
from moto import mock_aws

from connections import tasks as connection_tasks
from connections.models import CloudConnection
from connections.regions import grouped_choices, in_partition, partition_of_arn
from inventory import sync
from inventory import tasks as inventory_tasks
from inventory.models import SyncRun
from tests.connections.test_connection_views import aws, sudo  # noqa: F401  (fixture and helper)
from tests.factories import CloudConnectionFactory, SyncRunFactory


@pytest.fixture
def queued(monkeypatch):
    """Record the tasks sent instead of running them (as a real broker would: the request returns first).
    Callbacks queued for the end of a transaction run at once, as they do outside the test's transaction."""
    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(connection_tasks.check_connection, "delay", lambda *a: sent.append(("check", a)))
    monkeypatch.setattr(
        inventory_tasks.sync_connection, "apply_async", lambda args, **k: sent.append(("sync", tuple(args)))
    )
    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
    return sent


def test_a_new_connection_starts_its_first_scan_and_lands_on_its_progress(org, owner, aws, queued):  # noqa: F811
    c = sudo(owner)
    response = c.post(
        reverse("connections:create", args=[org.slug, "aws-role"]),
        {"name": "Production", "role_arn": "arn:aws:iam::123456789012:role/CloustralReadOnly"},
    )
    conn = CloudConnection.objects.for_org(org).get()
    run = SyncRun.objects.for_org(org).get(connection=conn)
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:run_detail", args=[org.slug, run.pk])
    assert run.status == "queued" and run.triggered_by == owner
    assert queued == [("sync", (conn.pk, run.pk))]  # queued for a worker, not run in the request
    page = c.get(response["Location"]).content.decode()
    assert "Its first scan has started." in page
    assert 'hx-trigger="every 2s"' in page and "Waiting for a worker to start the scan" in page


def test_test_connection_returns_at_once_and_the_page_follows_the_check(org, owner, client_for, queued, monkeypatch):
    conn = CloudConnectionFactory(org=org, status="pending", last_checked_at=None)
    c = client_for(owner)
    response = c.post(reverse("connections:test", args=[org.slug, conn.pk]))
    assert response.status_code == 302 and response["Location"].startswith(conn.get_absolute_url() + "?test=")
    assert queued == [("check", (conn.pk, owner.pk))]
    conn.refresh_from_db()
    assert conn.last_checked_at is None  # nothing was checked inside the request

    page = c.get(response["Location"]).content.decode()
    assert "Testing the connection…" in page and "/test/status/?since=" in page
    since = response["Location"].split("?test=")[1]
    status_url = reverse("connections:test_status", args=[org.slug, conn.pk]) + f"?since={since}"
    waiting = c.get(status_url)
    assert "HX-Refresh" not in waiting and b'hx-trigger="every 1s"' in waiting.content

    # The worker runs the task: the check is recorded, the poll tells the page to reload, which shows it.
    from connections.providers import aws as aws_provider
    from connections.providers.base import CheckResult

    monkeypatch.setattr(
        aws_provider,
        "check",
        lambda creds, **k: CheckResult(account_id="123456789012", display_name="acme", regions=["eu-west-1"]),
    )
    assert connection_tasks.check_connection(conn.pk, owner.pk) == "ok"
    done = c.get(status_url)
    assert done["HX-Refresh"] == "true"
    page = c.get(response["Location"]).content.decode()
    assert "Connection verified — 123456789012 (acme)." in page and "hx-get" not in page.split("check-panel")[1][:200]
    conn.refresh_from_db()
    assert conn.status == "verified" and conn.enabled_regions == ["eu-west-1"]


def test_a_failed_check_is_shown_when_the_worker_records_it(org, owner, client_for, queued, monkeypatch):
    from connections.providers import aws as aws_provider
    from connections.providers.base import ConnectionCheckError

    def refuse(creds, **kwargs):
        raise ConnectionCheckError("invalid_secret", "The secret access key does not match the access key id.")

    monkeypatch.setattr(aws_provider, "check", refuse)
    conn = CloudConnectionFactory(org=org)
    c = client_for(owner)
    location = c.post(reverse("connections:test", args=[org.slug, conn.pk]))["Location"]
    assert connection_tasks.check_connection(conn.pk, owner.pk) == "invalid_secret"
    page = c.get(location).content.decode()
    assert "Connection test failed: The secret access key does not match the access key id." in page
    assert connection_tasks.check_connection(10**9) == "missing"  # a deleted connection: nothing to do


@pytest.mark.parametrize("since", ["nonsense", "-5", "99999999999"])
def test_a_bad_test_parameter_is_ignored(org, owner, client_for, since):
    conn = CloudConnectionFactory(org=org)
    c = client_for(owner)
    assert "check-panel" not in c.get(f"{conn.get_absolute_url()}?test={since}").content.decode()
    status = c.get(reverse("connections:test_status", args=[org.slug, conn.pk]) + f"?since={since}")
    assert status.status_code == 200 and status["HX-Refresh"] == "true"


def test_scan_now_queues_and_lands_on_the_progress_page(org, owner, client_for, queued):
    conn = CloudConnectionFactory(org=org)
    response = client_for(owner).post(reverse("inventory:scan_now", args=[org.slug, conn.pk]))
    run = SyncRun.objects.for_org(org).get()
    assert response["Location"] == reverse("inventory:run_detail", args=[org.slug, run.pk])
    assert queued == [("sync", (conn.pk, run.pk))] and run.status == "queued"


def test_the_progress_page_shows_steps_resources_so_far_and_warnings(org, owner, client_for):
    conn = CloudConnectionFactory(org=org)
    run = SyncRunFactory(connection=conn, status="running", finished_at=None, progress_total=76)
    control = sync.RunControl(run)
    control.interval = 0
    collector = type("C", (), {"full_type": "aws.ec2.instance"})()
    records = [object()] * 12
    control.record(sync.UnitResult(sync.Unit(collector, "eu-west-1"), sync.COLLECTED, records=records))
    control.record(sync.UnitResult(sync.Unit(collector, "us-east-1"), "denied", code="AccessDenied", message="no"))
    control.tick(2)
    html = client_for(owner).get(reverse("inventory:run_progress", args=[org.slug, run.pk])).content.decode()
    assert "2 of 76 resource type × region steps done (3%)" in html
    assert "12 resources found so far · 1 warning" in html and "AccessDenied" in html


def test_default_regions_never_leave_the_commercial_partition(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPLATFORMEXAMPLE0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "p")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from connections.providers import aws as aws_provider

    with mock_aws():  # moto lists China and GovCloud regions too, as no commercial account would see them
        regions = aws_provider.discover_regions(boto3.Session(region_name="us-east-1"))
    assert "eu-west-1" in regions and "us-east-1" in regions
    assert not [r for r in regions if r.startswith(("cn-", "us-gov-"))]
    assert in_partition(["cn-north-1", "eu-west-1", "us-gov-west-1"], "aws-cn") == ["cn-north-1"]
    assert partition_of_arn("arn:aws-us-gov:iam::123456789012:role/x") == "aws-us-gov"
    # A connection saved before the filter still scans its partition only.
    conn = CloudConnection(enabled_regions=["cn-north-1", "eu-west-1", "us-gov-east-1"], role_arn="")
    assert sync.aws_scan_regions(conn) == ["eu-west-1"]


def test_the_region_picker_groups_by_partition_and_area(org, owner, client_for):
    groups = dict(grouped_choices(["us-east-1", "eu-west-1", "ap-south-1", "cn-north-1", "eu-north-1"]))
    assert list(groups) == [
        "AWS (commercial) · Asia Pacific",
        "AWS (commercial) · Europe",
        "AWS (commercial) · United States",
        "AWS China",
    ]
    assert groups["AWS (commercial) · Europe"] == [("eu-north-1", "eu-north-1"), ("eu-west-1", "eu-west-1")]
    conn = CloudConnectionFactory(org=org, enabled_regions=["eu-west-1", "us-east-1"])
    html = client_for(owner).get(conn.get_absolute_url()).content.decode()
    picker = html.split('data-testid="region-picker"')[1]
    assert picker.index("AWS (commercial) · Europe") < picker.index("eu-west-1") < picker.index("United States")
