"""Scan pages: history, a run with its progress (htmx partial), "Scan now", "Cancel", the inventory list,
the connection page's scans panel and schedule; roles (a viewer cannot scan) and isolation (404)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import Resource, SyncRun
from orgs.roles import Role
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import make_connection, populate, sync_now

# Fixtures (tests/inventory/sync_helpers.py)
aws, cloud, connection, eager_celery = helpers.aws, helpers.cloud, helpers.connection, helpers.eager_celery


S = SyncRun.Status


def url(name: str, org, *args) -> str:
    return reverse(f"inventory:{name}", args=[org.slug, *args])


@pytest.fixture
def finished_run(cloud, connection):
    populate(cloud)
    return sync_now(connection)


def test_history_lists_runs_in_the_users_timezone(client_for, member, org, connection, finished_run):
    member.timezone = "Asia/Tokyo"
    member.save()
    failed = SyncRun.objects.for_org(org).create(
        connection=connection, status=S.FAILED, errors=[{"type": "", "region": "", "code": "x", "message": "boom"}]
    )
    page = client_for(member).get(url("history", org, connection.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="run-status"') == 2
    assert "Succeeded" in html and "Failed" in html and "100.0%" in html
    assert "JST" in html and "Asia/Tokyo" in html
    assert reverse("inventory:run_detail", args=[org.slug, failed.pk]) in html
    assert "Scan now" in html
    # The coverage the current inventory stands on: the last scan that wrote it, not the failed one.
    assert "Coverage of the last complete scan" in html and 'data-testid="coverage"' in html
    assert reverse("inventory:run_detail", args=[org.slug, finished_run.pk]) in html


@pytest.mark.parametrize("member_role", [Role.VIEWER])
def test_a_viewer_sees_scans_but_cannot_start_or_cancel(client_for, member, org, connection, finished_run):
    c = client_for(member)
    assert c.get(url("history", org, connection.pk)).status_code == 200
    assert "Scan now" not in c.get(url("history", org, connection.pk)).content.decode()
    assert "Scan now" not in c.get(connection.get_absolute_url()).content.decode()
    assert c.post(url("scan_now", org, connection.pk)).status_code == 403
    running = SyncRun.objects.for_org(org).create(connection=connection, status=S.RUNNING)
    assert c.post(url("cancel", org, running.pk)).status_code == 403
    running.refresh_from_db()
    assert not running.cancel_requested
    assert "cancel-scan" not in c.get(url("run_detail", org, running.pk)).content.decode()


def test_outsiders_get_404_everywhere(client_for, outsider, org, connection, finished_run):
    c = client_for(outsider)
    for name, arg in [
        ("history", connection.pk),
        ("resources", connection.pk),
        ("run_detail", finished_run.pk),
        ("run_progress", finished_run.pk),
    ]:
        assert c.get(url(name, org, arg)).status_code == 404
        # Their own organization's URL with our ids: 404 as well.
        assert c.get(url(name, outsider.org, arg)).status_code == 404
    assert c.post(url("scan_now", outsider.org, connection.pk)).status_code == 404
    assert c.post(url("cancel", outsider.org, finished_run.pk)).status_code == 404


def test_run_detail_shows_counts_warnings_and_coverage(client_for, member, org, cloud, connection):
    from tests.inventory.sync_helpers import client_error

    populate(cloud)
    cloud.fail[("aws.fake.instance", "us-east-1")] = client_error("AccessDenied")
    run = sync_now(connection)
    html = client_for(member).get(url("run_detail", org, run.pk)).content.decode()
    assert "Partly collected" in html
    assert 'data-testid="warnings"' in html and "AccessDenied" in html
    assert 'data-testid="coverage"' in html and "cov-denied" in html and "cov-collected" in html
    assert "80.0%" in html
    assert "hx-get" not in html, "a finished run does not poll"


def test_an_active_run_polls_its_progress(client_for, member, org, connection):
    run = SyncRun.objects.for_org(org).create(
        connection=connection, status=S.RUNNING, started_at=timezone.now(), progress_total=10, progress_done=4
    )
    c = client_for(member)
    html = c.get(url("run_detail", org, run.pk)).content.decode()
    progress_url = url("run_progress", org, run.pk)
    assert f'hx-get="{progress_url}"' in html and 'hx-trigger="every 2s"' in html
    partial = c.get(progress_url)
    assert partial.status_code == 200
    body = partial.content.decode()
    assert "<html" not in body and 'data-testid="cancel-scan"' in body
    assert "4 of 10 resource type × region steps done (40%)" in body
    SyncRun.objects.for_org(org).filter(pk=run.pk).update(status=S.SUCCEEDED, finished_at=timezone.now())
    assert "hx-get" not in c.get(progress_url).content.decode(), "polling stops when the run is over"


def test_scan_now_runs_and_a_second_click_joins(
    client_for, member, org, cloud, connection, eager_celery, django_capture_on_commit_callbacks
):
    populate(cloud, per_region=1)
    c = client_for(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(url("scan_now", org, connection.pk), follow=True)
    run = SyncRun.objects.for_org(org).get()
    assert response.redirect_chain[-1][0] == url("run_detail", org, run.pk)
    assert run.status == S.SUCCEEDED and run.triggered_by == member and run.trigger == "manual"
    assert Resource.objects.for_org(org).count() == 6

    queued = SyncRun.objects.for_org(org).create(connection=connection)
    response = c.post(url("scan_now", org, connection.pk), follow=True)
    assert response.redirect_chain[-1][0] == url("run_detail", org, queued.pk)
    assert "already under way" in response.content.decode()
    assert SyncRun.objects.for_org(org).count() == 2
    assert c.get(url("scan_now", org, connection.pk)).status_code == 405


def test_scan_now_refuses_politely(client_for, member, org, connection):
    connection.status = "pending"
    connection.save()
    response = client_for(member).post(url("scan_now", org, connection.pk), follow=True)
    assert response.status_code == 200
    assert "Test the connection successfully" in response.content.decode()
    assert not SyncRun.objects.for_org(org).exists()


def test_cancel(client_for, member, org, connection, finished_run):
    c = client_for(member)
    queued = SyncRun.objects.for_org(org).create(connection=connection)
    response = c.post(url("cancel", org, queued.pk), follow=True)
    queued.refresh_from_db()
    assert queued.status == S.CANCELLED and queued.cancel_requested_by == member
    assert "changes nothing" in response.content.decode()
    response = c.post(url("cancel", org, finished_run.pk), follow=True)
    assert "already over" in response.content.decode()
    finished_run.refresh_from_db()
    assert finished_run.status == S.SUCCEEDED


def test_inventory_list_paginates_and_filters(
    client_for, member, org, cloud, connection, django_assert_max_num_queries
):
    for i in range(60):
        cloud.add("aws.fake.vpc", "eu-west-1", f"vpc-{i:02d}")
    cloud.add("aws.fake.user", "global", "alice")
    sync_now(connection)
    c = client_for(member)
    c.get(url("resources", org, connection.pk))
    with django_assert_max_num_queries(12):
        page = c.get(url("resources", org, connection.pk))
    html = page.content.decode()
    assert "61 resources" in html and html.count("<code>arn:") == 50
    assert "Page 1 of 2" in html
    second = c.get(url("resources", org, connection.pk) + "?page=2").content.decode()
    assert second.count("<code>arn:") == 11
    only_users = c.get(url("resources", org, connection.pk) + "?type=aws.fake.user").content.decode()
    assert "1 resource." in only_users and "alice" in only_users
    for junk in ("?page=abc", "?page=999", "?type=<script>", "?type=aws.fake.user&page=-1"):
        assert c.get(url("resources", org, connection.pk) + junk).status_code == 200


def test_history_query_count_is_bounded(client_for, member, org, connection, django_assert_max_num_queries):
    for _ in range(30):
        SyncRun.objects.for_org(org).create(connection=connection, status=S.SUCCEEDED, triggered_by=member)
    c = client_for(member)
    c.get(url("history", org, connection.pk))
    with django_assert_max_num_queries(11):  # 25 runs on the page, a constant number of queries
        assert c.get(url("history", org, connection.pk)).status_code == 200
    assert "Page 1 of 2" in c.get(url("history", org, connection.pk)).content.decode()


def test_the_connection_page_links_scans_and_inventory(client_for, owner, member, org, connection, finished_run):
    html = client_for(member).get(connection.get_absolute_url()).content.decode()
    assert 'data-testid="connection-scans"' in html
    assert url("history", org, connection.pk) in html and url("resources", org, connection.pk) in html
    assert url("scan_now", org, connection.pk) in html
    assert "Inventory (14)" in html
    assert "schedule" not in html.lower() or "Scheduled scans: Daily" in html
    assert reverse("connections:schedule", args=[org.slug, connection.pk]) not in html  # members cannot edit it
    owner_html = client_for(owner).get(connection.get_absolute_url()).content.decode()
    assert reverse("connections:schedule", args=[org.slug, connection.pk]) in owner_html
    # The org navigation leads to the connections.
    assert reverse("connections:list", args=[org.slug]) in owner_html


def test_owner_sets_the_scan_frequency(client_for, owner, member, org, connection):
    from accounts.models import AuditEvent

    schedule = reverse("connections:schedule", args=[org.slug, connection.pk])
    response = client_for(owner).post(schedule, {"scan_frequency": "hourly"}, follow=True)
    connection.refresh_from_db()
    assert connection.scan_frequency == "hourly"
    assert "Every hour" in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CONNECTION_UPDATED).exists()
    response = client_for(owner).post(schedule, {"scan_frequency": "every-second"}, follow=True)
    assert response.status_code == 200 and "Choose how often" in response.content.decode()
    connection.refresh_from_db()
    assert connection.scan_frequency == "hourly"
    assert client_for(member).post(schedule, {"scan_frequency": "manual"}).status_code == 403


def test_a_new_connection_scans_daily_by_default(org, aws):
    assert make_connection(org, name="New").scan_frequency == "daily"
