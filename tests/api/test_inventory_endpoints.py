"""Connections, scans and resources through the API: filters, keyset pages, relationships and history,
writes (start / cancel a scan), roles, and another organization's objects (404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.models import ApiKey
from inventory.models import ResourceChange, SyncRun
from tests.api.conftest import KeyClient
from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    RelationshipFactory,
    ResourceFactory,
    SyncRunFactory,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def follow(client, url: str) -> list[dict]:
    """Every row of a list, page after page."""
    rows = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        url = body["next"]
    return rows


# --- connections ----------------------------------------------------------------------------------


def test_connections_with_their_last_scan_and_never_a_secret(org, reader):
    conn = CloudConnectionFactory(org=org, name="Prod")
    CloudConnectionFactory(org=org, name="Dev")
    SyncRunFactory(connection=conn, created_at=T0, status="failed")
    last = SyncRunFactory(connection=conn, created_at=T0 + timedelta(hours=1), resource_count=12)
    response = reader.get("/api/v1/connections/")
    assert response.status_code == 200
    body = response.json()
    assert [c["name"] for c in body["results"]] == ["Dev", "Prod"]
    prod = body["results"][1]
    assert prod["last_scan"]["id"] == last.pk and prod["last_scan"]["resource_count"] == 12
    assert body["results"][0]["last_scan"] is None
    raw = response.content.decode()
    assert "secret" not in raw and "AKIA" not in raw and conn.encrypted_secret[:20] not in raw
    detail = reader.get(f"/api/v1/connections/{conn.pk}/").json()
    assert detail["id"] == conn.pk and detail["last_scan"]["id"] == last.pk


def test_connections_paginate(org, reader):
    for i in range(5):
        CloudConnectionFactory(org=org, name=f"Account {i}")
    first = reader.get("/api/v1/connections/?limit=2").json()
    assert len(first["results"]) == 2 and first["next"]
    names = [c["name"] for c in follow(reader, "/api/v1/connections/?limit=2")]
    assert names == [f"Account {i}" for i in range(5)]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "cursor=%%%", "cursor=eyJrIjoieCJ9"])
def test_bad_paging_parameters_are_400(org, reader, query):
    response = reader.get(f"/api/v1/connections/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] in ("invalid_parameter", "invalid_cursor")


# --- scans ----------------------------------------------------------------------------------------


def test_scans_list_filters_and_detail(org, reader):
    a, b = CloudConnectionFactory(org=org), CloudConnectionFactory(org=org)
    runs = [SyncRunFactory(connection=a, created_at=T0 + timedelta(minutes=i)) for i in range(3)]
    failed = SyncRunFactory(connection=b, status="failed", created_at=T0, warnings=[{"type": "x", "code": "denied"}])
    # Newest first; a tie on the time (runs[0] and failed) is broken by the id, across the page boundary.
    expected = [runs[2].pk, runs[1].pk, failed.pk, runs[0].pk]
    assert [r["id"] for r in follow(reader, "/api/v1/scans/?limit=2")] == expected
    assert [r["id"] for r in reader.get(f"/api/v1/scans/?connection={b.pk}").json()["results"]] == [failed.pk]
    assert [r["id"] for r in reader.get("/api/v1/scans/?status=failed").json()["results"]] == [failed.pk]
    assert reader.get("/api/v1/scans/?status=exploded").status_code == 400
    assert reader.get("/api/v1/scans/?connection=abc").status_code == 400
    detail = reader.get(f"/api/v1/scans/{failed.pk}/").json()
    assert detail["warning_count"] == 1 and detail["warnings"][0]["code"] == "denied"


def test_start_and_cancel_a_scan(org, writer, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("inventory.actions.send_sync_task", lambda run: sent.append(run.pk))
    conn = CloudConnectionFactory(org=org)
    with django_capture_on_commit_callbacks(execute=True):
        started = writer.post(f"/api/v1/connections/{conn.pk}/scans/")
    assert started.status_code == 202
    body = started.json()
    assert body["started"] is True and body["scan"]["status"] == "queued" and sent == [body["scan"]["id"]]
    joined = writer.post(f"/api/v1/connections/{conn.pk}/scans/").json()
    assert joined["started"] is False and joined["scan"]["id"] == body["scan"]["id"]

    cancel = writer.post(f"/api/v1/scans/{body['scan']['id']}/cancel/")
    assert cancel.status_code == 202 and cancel.json()["scan"]["status"] == "cancelled"
    again = writer.post(f"/api/v1/scans/{body['scan']['id']}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "scan_finished"


def test_a_connection_that_cannot_be_scanned_is_409(org, writer):
    conn = CloudConnectionFactory(org=org, status="pending")
    response = writer.post(f"/api/v1/connections/{conn.pk}/scans/")
    assert response.status_code == 409
    assert response.json() == {
        "code": "scan_not_allowed",
        "message": "Test the connection successfully before scanning it.",
    }
    assert not SyncRun.objects.for_org(org).exists()


@pytest.mark.parametrize("member_role", ["viewer"])
def test_a_viewer_personal_key_cannot_scan(org, member, api_for):
    conn = CloudConnectionFactory(org=org)
    client = api_for(org, user=member, scope=ApiKey.Scope.READ_WRITE)
    response = client.post(f"/api/v1/connections/{conn.pk}/scans/")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


# --- resources ------------------------------------------------------------------------------------


@pytest.fixture
def estate(org):
    prod = CloudConnectionFactory(org=org, name="Prod")
    azure = CloudConnectionFactory(org=org, name="Azure", provider="azure", auth_method="azure_sp")
    web = ResourceFactory(
        connection=prod, name="web-1", resource_type="aws.ec2.instance", tags={"env": "prod", "team": "web"}
    )
    db = ResourceFactory(connection=prod, name="orders-db", resource_type="aws.rds.db_instance", region="us-east-1")
    vol = ResourceFactory(connection=prod, name="logs", resource_type="aws.ec2.volume", tags={"env": "dev"})
    vm = ResourceFactory(
        connection=azure,
        name="vm-1",
        resource_type="azure.compute.vm",
        region="westeurope",
        native_id="/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1",
    )
    FindingFactory(resource=web, severity="high")
    FindingFactory(resource=web, severity="low", rule_id="aws-other")
    return {"prod": prod, "azure": azure, "web": web, "db": db, "vol": vol, "vm": vm}


def names(client, query: str = "") -> list[str]:
    response = client.get(f"/api/v1/resources/?{query}")
    assert response.status_code == 200, response.content
    return sorted(r["name"] for r in response.json()["results"])


def test_resource_filters(org, reader, estate):
    assert names(reader) == ["logs", "orders-db", "vm-1", "web-1"]
    assert names(reader, f"connection={estate['azure'].pk}") == ["vm-1"]
    assert names(reader, "provider=aws") == ["logs", "orders-db", "web-1"]
    assert names(reader, "type=aws.ec2.instance&type=aws.ec2.volume") == ["logs", "web-1"]
    assert names(reader, "region=us-east-1") == ["orders-db"]
    assert names(reader, "tag=env") == ["logs", "web-1"]
    assert names(reader, "tag=env%3Dprod") == ["web-1"]
    assert names(reader, "tag=env&tag=team") == ["web-1"]
    assert names(reader, "q=ORDERS") == ["orders-db"]
    assert names(reader, "findings=yes") == ["web-1"]
    assert names(reader, "findings=no") == ["logs", "orders-db", "vm-1"]
    web = next(r for r in reader.get("/api/v1/resources/?q=web").json()["results"])
    assert web["open_findings"] == {"total": 2, "by_severity": {"high": 1, "low": 1}}
    assert web["connection"] == {"id": estate["prod"].pk, "name": "Prod"} and web["tags"]["team"] == "web"


@pytest.mark.parametrize(
    "query", ["provider=gcp", "type=not a type", "findings=maybe", "sort=colour", "connection=x", "cursor=garbage!"]
)
def test_invalid_resource_filters_are_400_with_the_reason(org, reader, estate, query):
    response = reader.get(f"/api/v1/resources/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_parameter" and body["message"]


def test_resource_keyset_pages_forward_and_back(org, reader):
    conn = CloudConnectionFactory(org=org)
    for i in range(7):
        ResourceFactory(connection=conn, name=f"r-{i}", resource_type="aws.ec2.volume")
    first = reader.get("/api/v1/resources/?sort=name&limit=3").json()
    assert [r["name"] for r in first["results"]] == ["r-0", "r-1", "r-2"]
    assert first["count"] == 3 or first["count"] == 7
    second = reader.get(first["next"]).json()
    assert [r["name"] for r in second["results"]] == ["r-3", "r-4", "r-5"]
    assert second["count"] == 7 and second["count_is_exact"] is True
    back = reader.get(second["previous"]).json()
    assert [r["name"] for r in back["results"]] == ["r-0", "r-1", "r-2"]
    assert [r["name"] for r in follow(reader, "/api/v1/resources/?sort=-name&limit=3")] == [
        f"r-{i}" for i in range(6, -1, -1)
    ]


def test_one_resource_with_relationships_findings_and_history(org, reader, estate):
    web, vol = estate["web"], estate["vol"]
    RelationshipFactory(source=vol, target=web, kind="attached_to")
    RelationshipFactory(source=web, target=estate["db"], kind="uses")
    run = SyncRunFactory(connection=estate["prod"])
    ResourceChange.objects.create(
        org=org,
        connection=estate["prod"],
        sync_run=run,
        resource=web,
        resource_type=web.resource_type,
        native_id=web.native_id,
        kind="modified",
        diff={"config.state": {"old": "stopped", "new": "running"}},
    )
    response = reader.get(f"/api/v1/resources/{web.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["relationships"]["outgoing"] == [
        {
            "kind": "uses",
            "resource_id": estate["db"].pk,
            "name": "orders-db",
            "resource_type": "aws.rds.db_instance",
            "native_id": estate["db"].native_id,
        }
    ]
    assert (
        body["relationships"]["incoming_total"] == 1 and body["relationships"]["incoming"][0]["kind"] == "attached_to"
    )
    assert body["changes_total"] == 1 and body["changes"][0]["diff"]["config.state"]["new"] == "running"
    assert body["changes"][0]["scan_id"] == run.pk
    assert [f["severity"] for f in body["findings"]] == ["high", "low"]
    assert body["config"] == {} and body["open_findings"]["total"] == 2


# --- another organization's objects -----------------------------------------------------------------


def test_another_orgs_objects_are_404(org, outsider, api_for, estate):
    run = SyncRunFactory(connection=estate["prod"])
    foreign = api_for(outsider.org, user=outsider, scope=ApiKey.Scope.READ_WRITE)
    for url in (
        f"/api/v1/connections/{estate['prod'].pk}/",
        f"/api/v1/resources/{estate['web'].pk}/",
        f"/api/v1/scans/{run.pk}/",
    ):
        response = foreign.get(url)
        assert response.status_code == 404 and response.json() == {"code": "not_found", "message": "Not found."}
    assert foreign.post(f"/api/v1/connections/{estate['prod'].pk}/scans/").status_code == 404
    assert foreign.post(f"/api/v1/scans/{run.pk}/cancel/").status_code == 404
    # Lists show the key's own organization only.
    assert foreign.get("/api/v1/resources/").json()["results"] == []
    assert foreign.get(f"/api/v1/resources/?connection={estate['prod'].pk}").json()["results"] == []


def test_resources_list_query_count_does_not_grow(org, reader, django_assert_max_num_queries):
    conn = CloudConnectionFactory(org=org)
    for i in range(60):
        ResourceFactory(connection=conn, name=f"n-{i:02d}")
    with django_assert_max_num_queries(8):
        response = reader.get("/api/v1/resources/?limit=50")
    assert len(response.json()["results"]) == 50


def test_errors_are_json_everywhere(org, reader):
    unknown = reader.get("/api/v1/no-such-thing/")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    wrong_method = reader.client.delete("/api/v1/findings/", HTTP_AUTHORIZATION=f"Bearer {reader.token}")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
    html = reader.get("/api/v1/findings/", HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"] == "application/json"
    assert html["Cache-Control"] == "no-store"


def test_key_client_helper_sends_no_header_without_a_token(db):
    assert KeyClient(None).get("/api/v1/findings/").status_code == 401


def test_a_resources_whole_change_history_pages(org, reader, outsider, api_for):
    conn = CloudConnectionFactory(org=org)
    resource = ResourceFactory(connection=conn)
    run = SyncRunFactory(connection=conn)
    made = [
        ResourceChange.objects.create(
            org=org,
            connection=conn,
            sync_run=run,
            resource=resource,
            resource_type=resource.resource_type,
            native_id=resource.native_id,
            kind="modified",
            diff={"config.size": {"old": i, "new": i + 1}},
            created_at=T0 + timedelta(minutes=i // 2),  # pairs share a time: the id breaks the tie
        )
        for i in range(7)
    ]
    rows = follow(reader, f"/api/v1/resources/{resource.pk}/changes/?limit=3")
    assert [r["id"] for r in rows] == [c.pk for c in sorted(made, key=lambda c: (c.created_at, c.pk), reverse=True)]
    assert rows[0]["diff"] == {"config.size": {"old": 6, "new": 7}} and rows[0]["scan_id"] == run.pk
    foreign = api_for(outsider.org, user=outsider)
    assert foreign.get(f"/api/v1/resources/{resource.pk}/changes/").status_code == 404
