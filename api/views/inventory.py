"""Connections (never a secret), their scans (start, cancel), and the inventory: the explorer's
filters and keyset pages (``findings.resource_search``), one resource with its relationships, findings
and change history. Thin: reads through the apps' queries, writes through ``inventory.actions``."""

from __future__ import annotations

from django.db.models import Case, F, IntegerField, OuterRef, Subquery, Value, When
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from api import serializers as ser
from api.errors import ApiError
from api.pagination import Keyset, page_url, parse_limit
from api.views.base import ApiView, errors, single
from connections.access import get_connection_for_member
from connections.models import CloudConnection
from findings import resource_search as rs
from findings.models import Finding
from findings.queries import severity_rank
from inventory import actions as inventory_actions
from inventory.access import get_resource_for_member, get_sync_run_for_member
from inventory.models import ResourceChange, SyncRun
from inventory.seen import fill_last_seen
from orgs.roles import Capability

C = Capability
CONNECTIONS = Keyset("connections", ("name", "id"), ("str", "int"))
SCANS = Keyset("scans", ("-created_at", "-id"), ("time", "int"))
CHANGES = Keyset("changes", ("-created_at", "-id"), ("time", "int"))
CHANGES_LIMIT = 50
FINDINGS_LIMIT = 100
LIMIT = OpenApiParameter("limit", int, description="Rows per page, 1-200 (default 50).")
CURSOR = OpenApiParameter("cursor", str, description="The position of the next page: take it from `next`.")


# --- documents ----------------------------------------------------------------------------------------


def scan_doc(run: SyncRun, *, detail: bool = False) -> dict:
    doc = {
        "id": run.pk,
        "connection_id": run.connection_id,
        "status": run.status,
        "trigger": run.trigger,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "progress_percent": run.progress_percent,
        "resource_count": run.resource_count,
        "created_count": run.created_count,
        "modified_count": run.modified_count,
        "deleted_count": run.deleted_count,
        "completeness_percent": run.completeness_percent,
        "cancel_requested": run.cancel_requested,
        "warning_count": len(run.warnings or []),
        "errors": [e for e in run.errors or [] if isinstance(e, dict)],
    }
    if detail:
        doc["warnings"] = [w for w in run.warnings or [] if isinstance(w, dict)]
        doc["coverage"] = run.coverage if isinstance(run.coverage, dict) else {}
    return doc


def connection_doc(conn: CloudConnection, last_scan: SyncRun | None) -> dict:
    return {
        "id": conn.pk,
        "name": conn.name,
        "provider": conn.provider,
        "auth_method": conn.auth_method,
        "status": conn.status,
        "enabled": conn.enabled,
        "account": conn.account_label,
        "regions": conn.scan_regions,
        "scan_frequency": conn.scan_frequency,
        "created_at": conn.created_at,
        "last_checked_at": conn.last_checked_at,
        "last_scan": scan_doc(last_scan) if last_scan is not None else None,
    }


def _last_scans(org, connections: list[CloudConnection]) -> dict[int, SyncRun]:
    """The latest scan of each connection: one query (the latest id per connection is a subquery)."""
    ids = [c.pk for c in connections]
    if not ids:
        return {}
    latest = SyncRun.objects.for_org(org).filter(connection_id=OuterRef("connection_id")).order_by("-created_at", "-id")
    runs = SyncRun.objects.for_org(org).filter(connection_id__in=ids, pk=Subquery(latest.values("pk")[:1]))
    return {r.connection_id: r for r in runs}


CONNECTION_EXAMPLE = {
    "id": 7,
    "name": "Production",
    "provider": "aws",
    "auth_method": "aws_role",
    "status": "verified",
    "enabled": True,
    "account": "123456789012 (prod)",
    "regions": ["eu-west-1", "us-east-1"],
    "scan_frequency": "daily",
    "created_at": "2026-05-01T09:00:00Z",
    "last_checked_at": "2026-05-01T09:00:05Z",
    "last_scan": None,
}


# --- connections ----------------------------------------------------------------------------------------


class ConnectionList(ApiView):
    @extend_schema(
        operation_id="connections_list",
        summary="List the organization's cloud connections",
        description="Each with its last scan. Credentials are never part of the answer.",
        parameters=[LIMIT, CURSOR],
        responses={200: ser.ConnectionPageSerializer, **errors(400)},
        examples=[OpenApiExample("A page", value={"results": [CONNECTION_EXAMPLE], "next": None})],
    )
    def get(self, request):
        rows, next_cursor = CONNECTIONS.page(
            CloudConnection.objects.for_org(self.org),
            single(request.query_params, "cursor"),
            parse_limit(request.query_params),
        )
        last = _last_scans(self.org, rows)
        results = [connection_doc(c, last.get(c.pk)) for c in rows]
        return Response(ser.ConnectionPageSerializer({"results": results, "next": page_url(request, next_cursor)}).data)


class ConnectionDetail(ApiView):
    @extend_schema(
        operation_id="connections_retrieve",
        summary="One connection, with its last scan",
        responses={200: ser.ConnectionSerializer, **errors(404)},
        examples=[OpenApiExample("A connection", value=CONNECTION_EXAMPLE)],
    )
    def get(self, request, connection_id: int):
        conn = get_connection_for_member(request, connection_id)
        return Response(ser.ConnectionSerializer(connection_doc(conn, _last_scans(self.org, [conn]).get(conn.pk))).data)


# --- scans ----------------------------------------------------------------------------------------------

SCAN_EXAMPLE = {
    "id": 42,
    "connection_id": 7,
    "status": "succeeded",
    "trigger": "manual",
    "created_at": "2026-05-01T09:00:00Z",
    "started_at": "2026-05-01T09:00:01Z",
    "finished_at": "2026-05-01T09:03:12Z",
    "progress_percent": 100,
    "resource_count": 3412,
    "created_count": 12,
    "modified_count": 40,
    "deleted_count": 3,
    "completeness_percent": 100.0,
    "cancel_requested": False,
    "warning_count": 0,
    "errors": [],
}


class ScanList(ApiView):
    @extend_schema(
        operation_id="scans_list",
        summary="List scan runs, newest first",
        parameters=[
            OpenApiParameter("connection", int, description="Only this connection's scans."),
            OpenApiParameter("status", str, enum=SyncRun.Status.values, description="Only scans in this status."),
            LIMIT,
            CURSOR,
        ],
        responses={200: ser.ScanRunPageSerializer, **errors(400)},
        examples=[OpenApiExample("A page", value={"results": [SCAN_EXAMPLE], "next": None})],
    )
    def get(self, request):
        params = request.query_params
        qs = SyncRun.objects.for_org(self.org)
        connection = single(params, "connection").strip()
        if connection:
            if not connection.isdigit() or int(connection) >= 2**63:
                raise ApiError(400, "invalid_parameter", "connection must be a connection id.")
            qs = qs.filter(connection_id=int(connection))
        status = single(params, "status").strip()
        if status:
            if status not in SyncRun.Status.values:
                raise ApiError(400, "invalid_parameter", f"status must be one of {', '.join(SyncRun.Status.values)}.")
            qs = qs.filter(status=status)
        rows, next_cursor = SCANS.page(qs, single(params, "cursor"), parse_limit(params))
        data = {"results": [scan_doc(r) for r in rows], "next": page_url(request, next_cursor)}
        return Response(ser.ScanRunPageSerializer(data).data)


class ScanDetail(ApiView):
    @extend_schema(
        operation_id="scans_retrieve",
        summary="One scan run: progress, counts, warnings and coverage",
        responses={200: ser.ScanRunDetailSerializer, **errors(404)},
        examples=[OpenApiExample("A scan", value={**SCAN_EXAMPLE, "warnings": [], "coverage": {}})],
    )
    def get(self, request, run_id: int):
        run = get_sync_run_for_member(request, run_id)
        return Response(ser.ScanRunDetailSerializer(scan_doc(run, detail=True)).data)


class ScanStart(ApiView):
    capabilities = {"POST": C.RUN_SCANS}

    @extend_schema(
        operation_id="scans_start",
        summary="Start a scan of a connection (write scope)",
        description="Joins the scan already queued or running, if any (`started` is then false).",
        request=None,
        responses={202: ser.ScanStartedSerializer, **errors(404, 409)},
        examples=[
            OpenApiExample(
                "Started",
                value={"started": True, "scan": {**SCAN_EXAMPLE, "status": "queued"}},
                status_codes=["202"],
            )
        ],
    )
    def post(self, request, connection_id: int):
        conn = get_connection_for_member(request, connection_id, C.RUN_SCANS)
        try:
            run, started = inventory_actions.do_start_sync(
                conn, trigger=SyncRun.Trigger.MANUAL, user=self.principal.user
            )
        except inventory_actions.SyncNotAllowed as exc:
            raise ApiError(409, "scan_not_allowed", str(exc)) from None
        return Response(ser.ScanStartedSerializer({"started": started, "scan": scan_doc(run)}).data, status=202)


class ScanCancel(ApiView):
    capabilities = {"POST": C.RUN_SCANS}

    @extend_schema(
        operation_id="scans_cancel",
        summary="Cancel a queued or running scan (write scope)",
        description="It stops after its current step and changes nothing. 409 when the scan is already over.",
        request=None,
        responses={202: ser.ScanCancelSerializer, **errors(404, 409)},
        examples=[
            OpenApiExample(
                "Cancelling",
                value={"cancelled": True, "scan": {**SCAN_EXAMPLE, "status": "running"}},
                status_codes=["202"],
            )
        ],
    )
    def post(self, request, run_id: int):
        run = get_sync_run_for_member(request, run_id, C.RUN_SCANS)
        if not inventory_actions.do_request_cancel(run, user=self.principal.user):
            raise ApiError(409, "scan_finished", "This scan is already over.")
        return Response(ser.ScanCancelSerializer({"cancelled": True, "scan": scan_doc(run)}).data, status=202)


# --- resources ------------------------------------------------------------------------------------------

RESOURCE_FIELDS = (
    "id",
    "name",
    "native_id",
    "provider",
    "resource_type",
    "region",
    "tags",
    "first_seen",
    "last_seen",
    "connection__id",
    "connection__name",
)
RESOURCE_EXAMPLE = {
    "id": 1001,
    "name": "web-1",
    "native_id": "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc",
    "provider": "aws",
    "resource_type": "aws.ec2.instance",
    "region": "eu-west-1",
    "connection": {"id": 7, "name": "Production"},
    "tags": {"env": "prod"},
    "first_seen": "2026-04-01T08:00:00Z",
    "last_seen": "2026-05-01T09:03:12Z",
    "open_findings": {"total": 2, "by_severity": {"high": 1, "low": 1}},
}


def resource_doc(resource, badge) -> dict:
    return {
        "id": resource.pk,
        "name": resource.name,
        "native_id": resource.native_id,
        "provider": resource.provider,
        "resource_type": resource.resource_type,
        "region": resource.region,
        "connection": {"id": resource.connection.pk, "name": resource.connection.name},
        "tags": resource.tags if isinstance(resource.tags, dict) else {},
        "first_seen": resource.first_seen,
        "last_seen": resource.last_seen,
        "open_findings": {
            "total": badge.total if badge else 0,
            "by_severity": dict(badge.by_severity) if badge else {},
        },
    }


class ResourceList(ApiView):
    @extend_schema(
        operation_id="resources_list",
        summary="Search the inventory",
        description=(
            "The explorer's filters: repeat `connection`, `type`, `region` and `tag` to match any of the "
            "values (tags combine with AND). Keyset pages: follow `next` and `previous`."
        ),
        parameters=[
            OpenApiParameter("q", str, description="Text in the name or native id."),
            OpenApiParameter("connection", int, many=True, description="Connection ids."),
            OpenApiParameter("provider", str, enum=list(rs.PROVIDERS)),
            OpenApiParameter("type", str, many=True, description="Resource types, e.g. aws.ec2.instance."),
            OpenApiParameter("region", str, many=True),
            OpenApiParameter("tag", str, many=True, description="`key` (has the tag) or `key=value`; up to 5."),
            OpenApiParameter("findings", str, enum=["yes", "no", "any"], description="With or without open findings."),
            OpenApiParameter(
                "sort", str, enum=[k for s in rs.SORTS for k in (s, f"-{s}")], description="Default type."
            ),
            LIMIT,
            CURSOR,
        ],
        responses={200: ser.ResourcePageSerializer, **errors(400)},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "results": [RESOURCE_EXAMPLE],
                    "count": 1,
                    "count_is_exact": True,
                    "next": None,
                    "previous": None,
                },
            )
        ],
    )
    def get(self, request):
        params = request.query_params
        filters = rs.parse_filters(params)
        if filters.warnings:
            raise ApiError(400, "invalid_parameter", " ".join(filters.warnings))
        limit = parse_limit(params)
        matching = rs.filtered_resources(self.org, filters)
        rows, next_cursor, prev_cursor = rs.page_after(
            matching.select_related("connection").only(*RESOURCE_FIELDS), filters.sort, filters.cursor, size=limit
        )
        if not filters.cursor and next_cursor is None:
            count, more = len(rows), False
        else:
            count, more = rs.bounded_count(matching)
        badges = rs.open_findings_by_resource(self.org, [r.pk for r in rows])
        fill_last_seen(rows, self.org.pk)  # a sync rewrites only changed rows (inventory/seen.py)
        data = {
            "results": [resource_doc(r, badges.get(r.pk)) for r in rows],
            "count": count,
            "count_is_exact": not more,
            "next": page_url(request, next_cursor),
            "previous": page_url(request, prev_cursor),
        }
        return Response(ser.ResourcePageSerializer(data).data)


class ResourceDetail(ApiView):
    @extend_schema(
        operation_id="resources_retrieve",
        summary="One resource: configuration, relationships, findings and change history",
        responses={200: ser.ResourceDetailSerializer, **errors(404)},
        examples=[
            OpenApiExample(
                "A resource",
                value={
                    **RESOURCE_EXAMPLE,
                    "config": {"state": "running", "instance_type": "t3.micro"},
                    "updated_at": "2026-05-01T09:03:12Z",
                    "relationships": {"outgoing": [], "outgoing_total": 0, "incoming": [], "incoming_total": 0},
                    "changes": [],
                    "changes_total": 0,
                    "findings": [],
                },
            )
        ],
    )
    def get(self, request, resource_id: int):
        org = self.org
        resource = get_resource_for_member(request, resource_id)
        badge = rs.open_findings_by_resource(org, [resource.pk]).get(resource.pk)
        outgoing, outgoing_total = rs.related_resources(org, resource, outgoing=True)
        incoming, incoming_total = rs.related_resources(org, resource, outgoing=False)
        changes_qs = ResourceChange.objects.for_org(org).filter(resource=resource)
        changes = list(changes_qs.values("id", "kind", "created_at", "diff", scan_id=F("sync_run_id"))[:CHANGES_LIMIT])
        changes_total = len(changes) if len(changes) < CHANGES_LIMIT else changes_qs.count()
        status_rank = Case(
            When(status=Finding.Status.OPEN, then=Value(0)),
            When(status=Finding.Status.SUPPRESSED, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        findings = list(
            Finding.objects.for_org(org)
            .filter(resource=resource)
            .annotate(status_rank=status_rank, rank=severity_rank())
            .order_by("status_rank", "rank", "-last_seen", "id")
            .values("id", "rule_id", "title", "severity", "category", "status")[:FINDINGS_LIMIT]
        )
        fill_last_seen([resource], org.pk)
        doc = resource_doc(resource, badge)
        doc.update(
            {
                "config": resource.config,
                "updated_at": resource.updated_at,
                "relationships": {
                    "outgoing": outgoing,
                    "outgoing_total": outgoing_total,
                    "incoming": incoming,
                    "incoming_total": incoming_total,
                },
                "changes": [{**c, "diff": c["diff"] if isinstance(c["diff"], dict) else {}} for c in changes],
                "changes_total": changes_total,
                "findings": findings,
            }
        )
        return Response(ser.ResourceDetailSerializer(doc).data)


def change_doc(change: ResourceChange) -> dict:
    return {
        "id": change.pk,
        "kind": change.kind,
        "created_at": change.created_at,
        "scan_id": change.sync_run_id,
        "diff": change.diff if isinstance(change.diff, dict) else {},
    }


class ResourceChanges(ApiView):
    @extend_schema(
        operation_id="resources_changes",
        summary="A resource's whole change history, newest first",
        description="Every change the scans recorded (created, modified, deleted), with its field-level diff.",
        parameters=[LIMIT, CURSOR],
        responses={200: ser.ChangePageSerializer, **errors(400, 404)},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "results": [
                        {
                            "id": 9001,
                            "kind": "modified",
                            "created_at": "2026-05-01T09:03:12Z",
                            "scan_id": 42,
                            "diff": {"config.state": {"old": "stopped", "new": "running"}},
                        }
                    ],
                    "next": None,
                },
            )
        ],
    )
    def get(self, request, resource_id: int):
        resource = get_resource_for_member(request, resource_id)
        params = request.query_params
        changes = ResourceChange.objects.for_org(self.org).filter(resource=resource)
        rows, next_cursor = CHANGES.page(changes, single(params, "cursor"), parse_limit(params))
        data = {"results": [change_doc(c) for c in rows], "next": page_url(request, next_cursor)}
        return Response(ser.ChangePageSerializer(data).data)
