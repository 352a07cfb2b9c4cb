"""Findings: the findings list's filters (``findings.queries.filter_findings``) with keyset pages, one
finding with why it matched, suppress / unsuppress (``findings.actions``), and the same list in OCSF."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers as s
from rest_framework.response import Response

from api import ocsf
from api import serializers as ser
from api.errors import ApiError
from api.pagination import Keyset, page_url, parse_limit
from api.views.base import ApiView, errors, single
from api.views.inventory import CURSOR, LIMIT
from connections.models import CloudConnection
from findings import actions as finding_actions
from findings import queries
from findings.access import get_finding_for_member
from findings.models import Category, Finding, FindingEvent, Severity
from findings.rules.language import FRAMEWORKS
from orgs.roles import Capability

C = Capability
MAX_EVENTS = 100
_KINDS = {"severity_rank": "int", "last_seen": "time", "id": "int"}
FILTERS = [
    OpenApiParameter("q", str, description="Text in the resource name or id, or the title."),
    OpenApiParameter("severity", str, many=True, enum=Severity.values),
    OpenApiParameter("category", str, many=True, enum=Category.values),
    OpenApiParameter("status", str, enum=[*Finding.Status.values, "any"], description="Default open."),
    OpenApiParameter("connection", int),
    OpenApiParameter("provider", str, enum=CloudConnection.Provider.values),
    OpenApiParameter("rule", str, many=True, description="Rule ids."),
    OpenApiParameter("sort", str, enum=list(queries.SORTS), description="Default severity (most severe first)."),
    LIMIT,
    CURSOR,
]
FINDING_EXAMPLE = {
    "id": 501,
    "rule_id": "aws-ec2-volume-unattached",
    "rule_source": "builtin",
    "title": "Unattached EBS volume",
    "severity": "low",
    "category": "cost",
    "status": "open",
    "connection": {"id": 7, "name": "Production", "provider": "aws"},
    "resource": {
        "id": 1002,
        "resource_type": "aws.ec2.volume",
        "native_id": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0abc",
        "name": "old-data",
        "region": "eu-west-1",
    },
    "first_seen": "2026-04-20T08:00:00Z",
    "last_seen": "2026-05-01T09:03:12Z",
    "resolved_at": None,
    "reopened_count": 0,
    "monthly_usd": 8.0,
    "suppression": None,
}

SUPPRESSED_EXAMPLE = {
    **FINDING_EXAMPLE,
    "status": "suppressed",
    "suppression": {
        "reason": "Scratch account, accepted by security",
        "until": "2026-12-31T00:00:00Z",
        "at": "2026-05-02T10:00:00Z",
        "by": None,
    },
}


def keyset(sort: str) -> Keyset:
    fields = queries.SORTS[sort]
    return Keyset(f"findings:{sort}", fields, [_KINDS[f.lstrip("-")] for f in fields])


def filtered_page(view: ApiView, request, *, ocsf_rows: bool = False) -> tuple[list[Finding], str | None]:
    params = request.query_params
    findings, filters = queries.filter_findings(view.org, params)
    if filters.errors:
        raise ApiError(400, "invalid_parameter", " ".join(filters.errors))
    qs = findings.select_related("connection", "suppressed_by").defer("detail")
    if ocsf_rows:
        qs = qs.select_related("resource").defer("detail", "resource__config")
    rows, next_cursor = keyset(filters.sort).page(qs, single(params, "cursor"), parse_limit(params))
    return rows, next_cursor


def finding_doc(f: Finding) -> dict:
    suppression = None
    if f.status == Finding.Status.SUPPRESSED:
        suppression = {
            "reason": f.suppressed_reason or "",
            "until": f.suppressed_until,
            "at": f.suppressed_at,
            "by": f.suppressed_by.email if f.suppressed_by_id and f.suppressed_by else None,
        }
    return {
        "id": f.pk,
        "rule_id": f.rule_id,
        "rule_source": f.rule_source,
        "title": f.title,
        "severity": f.severity,
        "category": f.category,
        "status": f.status,
        "connection": {"id": f.connection.pk, "name": f.connection.name, "provider": f.connection.provider},
        "resource": {
            "id": f.resource_id,
            "resource_type": f.resource_type,
            "native_id": f.native_id,
            "name": f.resource_name,
            "region": f.region,
        },
        "first_seen": f.first_seen,
        "last_seen": f.last_seen,
        "resolved_at": f.resolved_at,
        "reopened_count": f.reopened_count,
        "monthly_usd": f.monthly_usd,
        "suppression": suppression,
    }


def node_doc(node) -> dict:
    return {
        "kind": node.kind,
        "label": node.label,
        "result": node.result,
        "op": node.op,
        "expected": node.expected,
        "actual": node.actual,
        "missing": node.missing,
        "note": node.note,
        "error": node.error,
        "children": [node_doc(c) for c in node.children],
    }


def finding_detail_doc(org, f: Finding) -> dict:
    explanation = queries.finding_explanation(f)
    rule = explanation.rule
    events = FindingEvent.objects.for_org(org).filter(finding=f).select_related("actor").order_by("-at", "-id")
    doc = finding_doc(f)
    doc.update(
        {
            "detail": f.detail if isinstance(f.detail, dict) else {},
            "explanation": {
                "rule": (
                    {
                        "id": rule.id,
                        "title": rule.title,
                        "description": rule.description.strip(),
                        "remediation": list(rule.remediation),
                        "references": list(rule.references),
                    }
                    if rule is not None
                    else None
                ),
                "tree": node_doc(explanation.tree) if explanation.tree is not None else None,
                "problem": explanation.problem,
                "neighbours": explanation.neighbours,
            },
            "drift": [{"path": r.path, "old": r.old, "new": r.new} for r in queries.drift_rows(f)],
            "compliance": [
                {"framework": fw, "name": FRAMEWORKS.get(fw, fw), "controls": list(ids)}
                for fw, ids in sorted((rule.compliance if rule else {}).items())
            ],
            "events": [
                {"kind": e.kind, "at": e.at, "actor": e.actor.email if e.actor else None, "note": e.note}
                for e in events[:MAX_EVENTS]
            ],
        }
    )
    return doc


class FindingList(ApiView):
    @extend_schema(
        operation_id="findings_list",
        summary="List findings",
        description="The findings list's filters (repeat severity, category and rule for several). Keyset pages.",
        parameters=FILTERS,
        responses={200: ser.FindingPageSerializer, **errors(400)},
        examples=[OpenApiExample("A page", value={"results": [FINDING_EXAMPLE], "next": None})],
    )
    def get(self, request):
        rows, next_cursor = filtered_page(self, request)
        data = {"results": [finding_doc(f) for f in rows], "next": page_url(request, next_cursor)}
        return Response(ser.FindingPageSerializer(data).data)


class OcsfPageSerializer(s.Serializer):
    results = s.ListField(
        child=s.DictField(),
        help_text="OCSF 1.5.0 events: Compliance Finding (class_uid 2003) or Detection Finding (2004).",
    )
    next = s.URLField(allow_null=True)


class FindingOcsfList(ApiView):
    @extend_schema(
        operation_id="findings_ocsf_list",
        summary="List findings in OCSF",
        description=(
            "The same filters and pages as /findings/, each finding as an OCSF 1.5.0 event: a Compliance "
            "Finding (2003) when its rule maps to a framework, else a Detection Finding (2004)."
        ),
        parameters=FILTERS,
        responses={200: OcsfPageSerializer, **errors(400)},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "results": [
                        {
                            "class_uid": 2004,
                            "category_uid": 2,
                            "activity_id": 1,
                            "type_uid": 200401,
                            "severity_id": 2,
                            "time": 1777626192000,
                            "metadata": {"version": "1.5.0", "product": ocsf.PRODUCT},
                            "finding_info": {"uid": "cloustral-finding-501", "title": "Unattached EBS volume"},
                        }
                    ],
                    "next": None,
                },
            )
        ],
    )
    def get(self, request):
        rows, next_cursor = filtered_page(self, request, ocsf_rows=True)
        results = list(ocsf.events(rows, self.org, self.org.slug))
        return Response(OcsfPageSerializer({"results": results, "next": page_url(request, next_cursor)}).data)


class FindingDetail(ApiView):
    @extend_schema(
        operation_id="findings_retrieve",
        summary="One finding, with why it matched",
        description="The rule's condition tree evaluated over the resource's current record, drift, history.",
        responses={200: ser.FindingDetailSerializer, **errors(404)},
        examples=[
            OpenApiExample(
                "A finding",
                value={
                    **FINDING_EXAMPLE,
                    "detail": {},
                    "explanation": {"rule": None, "tree": None, "problem": "", "neighbours": 0},
                    "drift": [],
                    "compliance": [],
                    "events": [],
                },
            )
        ],
    )
    def get(self, request, finding_id: int):
        finding = get_finding_for_member(request, finding_id)
        return Response(ser.FindingDetailSerializer(finding_detail_doc(self.org, finding)).data)


class FindingSuppress(ApiView):
    capabilities = {"POST": C.MANAGE_SUPPRESSIONS}

    @extend_schema(
        operation_id="findings_suppress",
        summary="Suppress a finding, with a reason and an optional expiry (write scope)",
        request=ser.SuppressRequestSerializer,
        responses={200: ser.FindingSerializer, **errors(400, 404, 409)},
        examples=[
            OpenApiExample(
                "Accepted risk until a date",
                request_only=True,
                value={"reason": "Scratch account, accepted by security", "until": "2026-12-31T00:00:00Z"},
            ),
            OpenApiExample("Suppressed", response_only=True, value=SUPPRESSED_EXAMPLE),
        ],
    )
    def post(self, request, finding_id: int):
        finding = get_finding_for_member(request, finding_id, C.MANAGE_SUPPRESSIONS)
        data = self.body(ser.SuppressRequestSerializer)
        reason, until = data["reason"].strip(), data.get("until")
        if not reason:
            raise ApiError(400, "invalid_request", "Say why this finding is suppressed.", {"reason": ["Required."]})
        if until is not None and until <= timezone.now():
            raise ApiError(400, "invalid_request", "The expiry must be in the future.", {"until": ["In the past."]})
        try:
            finding_actions.do_suppress(finding, user=self.principal.user, reason=reason, until=until, request=request)
        except finding_actions.SuppressionError as exc:
            raise ApiError(409, "suppression_refused", str(exc)) from None
        return Response(ser.FindingSerializer(finding_doc(finding)).data)


class FindingUnsuppress(ApiView):
    capabilities = {"POST": C.MANAGE_SUPPRESSIONS}

    @extend_schema(
        operation_id="findings_unsuppress",
        summary="Lift a finding's suppression: it is open again (write scope)",
        request=None,
        responses={200: ser.FindingSerializer, **errors(404, 409)},
        examples=[OpenApiExample("Open again", value=FINDING_EXAMPLE)],
    )
    def post(self, request, finding_id: int):
        finding = get_finding_for_member(request, finding_id, C.MANAGE_SUPPRESSIONS)
        try:
            finding_actions.do_unsuppress(finding, user=self.principal.user, request=request)
        except finding_actions.SuppressionError as exc:
            raise ApiError(409, "not_suppressed", str(exc)) from None
        return Response(ser.FindingSerializer(finding_doc(finding)).data)
