"""Rules (the built-in catalog and the organization's custom rules), creating and updating custom rules
with the editor's own validation and limits (``findings.forms.CustomRuleForm`` + ``findings.rule_actions``),
and compliance per framework (``findings.compliance``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from api import serializers as ser
from api.errors import ApiError
from api.pagination import Keyset, page_url, parse_limit
from api.views.base import ApiView, errors, single
from api.views.inventory import CURSOR, LIMIT
from findings import compliance, rule_actions, tallies
from findings.access import get_custom_rule_for_member
from findings.forms import CustomRuleForm, instance_connections
from findings.models import Category, CustomRule, Severity
from findings.queries import RULE_ID_RE
from findings.rule_editor import parse_custom_rule
from findings.rules import RuleError
from findings.rules.catalog import builtin_catalog
from findings.rules.language import FRAMEWORKS, PROVIDERS
from orgs.roles import Capability

C = Capability
MAX_OFFSET = 100_000
CUSTOM_RULES = Keyset("custom_rules", ("title", "id"), ("str", "int"))
CUSTOM_EXAMPLE = """id: ec2-running-without-owner
title: Running instance without an Owner tag
severity: low
category: hygiene
resource_types: [aws.ec2.instance]
condition:
  all:
    - {path: config.state, op: equals, value: running}
    - {path: tags.Owner, op: not_exists}
"""

RULE_DOC_EXAMPLE = {
    "id": "aws-ec2-volume-unencrypted",
    "source": "builtin",
    "title": "EBS volume is not encrypted",
    "severity": "medium",
    "category": "security",
    "providers": ["aws"],
    "resource_types": ["aws.ec2.volume"],
    "description": "The volume's data is stored unencrypted.",
    "compliance": {"cis-aws-1.5": ["2.2.1"]},
    "enabled": True,
    "open_findings": 3,
    "custom_rule_id": None,
}
CUSTOM_RULE_EXAMPLE = {
    "id": 3,
    "rule_id": "custom-ec2-running-without-owner",
    "title": "Running instance without an Owner tag",
    "severity": "low",
    "category": "hygiene",
    "enabled": True,
    "format": "yaml",
    "source": CUSTOM_EXAMPLE,
    "connections": [],
    "created_at": "2026-05-01T09:00:00Z",
    "updated_at": "2026-05-01T09:00:00Z",
}
SUMMARY_EXAMPLE = {
    "framework": "cis-aws-1.5",
    "name": "CIS Amazon Web Services Foundations Benchmark v1.5.0",
    "providers": ["aws"],
    "connections": 1,
    "evaluated_connections": 1,
    "controls": {"passed": 30, "failed": 4, "not_evaluated": 6},
}


def rule_doc(rule, *, source: str, enabled: bool = True, open_findings: int = 0, custom_id=None) -> dict:
    return {
        "id": rule.id,
        "source": source,
        "title": rule.title,
        "severity": rule.severity,
        "category": rule.category,
        "providers": list(rule.providers),
        "resource_types": list(rule.resource_types),
        "description": rule.description.strip(),
        "compliance": {fw: list(ids) for fw, ids in rule.compliance.items()},
        "enabled": enabled,
        "open_findings": open_findings,
        "custom_rule_id": custom_id,
    }


def custom_rule_doc(custom: CustomRule) -> dict:
    return {
        "id": custom.pk,
        "rule_id": custom.rule_id,
        "title": custom.title,
        "severity": custom.severity,
        "category": custom.category,
        "enabled": custom.enabled,
        "format": custom.format,
        "source": custom.source,
        "connections": [c.pk for c in instance_connections(custom)],
        "created_at": custom.created_at,
        "updated_at": custom.updated_at,
    }


def _choice(params, name: str, allowed) -> str:
    value = single(params, name).strip()
    if value and value not in allowed:
        raise ApiError(400, "invalid_parameter", f"{name} must be one of {', '.join(allowed)}.")
    return value


def _matches(rule, q: str, provider: str, category: str, severity: str, framework: str) -> bool:
    if provider and provider not in rule.providers:
        return False
    if category and rule.category != category:
        return False
    if severity and rule.severity != severity:
        return False
    if framework and framework not in rule.compliance:
        return False
    if q:
        haystack = " ".join((rule.id, rule.title, rule.description, *rule.resource_types)).lower()
        return all(word in haystack for word in q.lower().split())
    return True


class _CustomEntry:
    """A custom rule in the rules list: compiled when it still compiles, else its stored fields."""

    def __init__(self, custom: CustomRule) -> None:
        self.custom = custom
        try:
            self.rule = parse_custom_rule(custom.source, custom.format)[1]
        except RuleError:
            self.rule = None


class RuleList(ApiView):
    @extend_schema(
        operation_id="rules_list",
        summary="List rules: the built-in catalog, then the organization's custom rules",
        parameters=[
            OpenApiParameter("q", str, description="Words in the id, title, description or types."),
            OpenApiParameter("provider", str, enum=list(PROVIDERS)),
            OpenApiParameter("category", str, enum=Category.values),
            OpenApiParameter("severity", str, enum=Severity.values),
            OpenApiParameter("framework", str, enum=list(FRAMEWORKS)),
            OpenApiParameter("source", str, enum=["builtin", "custom"]),
            LIMIT,
            CURSOR,
        ],
        responses={200: ser.RulePageSerializer, **errors(400)},
        examples=[OpenApiExample("A page", value={"results": [RULE_DOC_EXAMPLE], "next": None})],
    )
    def get(self, request):
        params = request.query_params
        filters = {
            "q": single(params, "q").strip()[:200],
            "provider": _choice(params, "provider", PROVIDERS),
            "category": _choice(params, "category", Category.values),
            "severity": _choice(params, "severity", Severity.values),
            "framework": _choice(params, "framework", list(FRAMEWORKS)),
        }
        source = _choice(params, "source", ["builtin", "custom"])
        limit = parse_limit(params)
        cursor = single(params, "cursor").strip()
        if cursor and (not cursor.isdigit() or int(cursor) > MAX_OFFSET):
            raise ApiError(400, "invalid_cursor", "The cursor is damaged: start again.")
        offset = int(cursor or 0)
        entries: list[tuple] = []
        if source in ("", "builtin"):
            entries += [("builtin", r, None) for r in builtin_catalog() if _matches(r, **filters)]
        if source in ("", "custom"):
            for custom in CustomRule.objects.for_org(self.org).order_by("title", "id"):
                entry = _CustomEntry(custom)
                if entry.rule is not None and _matches(entry.rule, **filters):
                    entries.append(("custom", entry.rule, custom))
        page = entries[offset : offset + limit]
        counts = tallies.open_by_rule(self.org, [r.id for _, r, _ in page])
        results = [
            rule_doc(
                rule,
                source=kind,
                enabled=custom.enabled if custom else True,
                open_findings=counts.get(rule.id, 0),
                custom_id=custom.pk if custom else None,
            )
            for kind, rule, custom in page
        ]
        more = offset + limit < len(entries)
        data = {"results": results, "next": page_url(request, str(offset + limit)) if more else None}
        return Response(ser.RulePageSerializer(data).data)


class RuleDetail(ApiView):
    @extend_schema(
        operation_id="rules_retrieve",
        summary="One rule by its id: a built-in rule or a custom rule of the organization",
        responses={200: ser.RuleDetailSerializer, **errors(404)},
        examples=[
            OpenApiExample(
                "A built-in rule",
                value={
                    **RULE_DOC_EXAMPLE,
                    "remediation": ["Copy the volume to an encrypted one and swap it in."],
                    "references": [],
                    "document": {"id": "aws-ec2-volume-unencrypted", "severity": "medium"},
                    "text": None,
                    "problem": "",
                },
            )
        ],
    )
    def get(self, request, rule_id: str):
        rule = builtin_catalog().get(rule_id)
        custom = None
        problem = ""
        if rule is None:
            if not RULE_ID_RE.match(rule_id):  # no rule has such an id (and NUL & co. never reach the database)
                raise ApiError(404, "not_found", "No such rule.")
            custom = CustomRule.objects.for_org(self.org).filter(rule_id=rule_id).first()
            if custom is None:
                raise ApiError(404, "not_found", "No such rule.")
            try:
                rule = parse_custom_rule(custom.source, custom.format)[1]
            except RuleError as exc:
                problem = str(exc)
        if rule is None:  # a custom rule that no longer compiles: its stored fields
            doc = {
                "id": custom.rule_id,
                "source": "custom",
                "title": custom.title,
                "severity": custom.severity,
                "category": custom.category,
                "providers": [],
                "resource_types": [],
                "description": "",
                "compliance": {},
                "enabled": custom.enabled,
                "open_findings": tallies.open_by_rule(self.org, [custom.rule_id]).get(custom.rule_id, 0),
                "custom_rule_id": custom.pk,
                "remediation": [],
                "references": [],
                "document": custom.document if isinstance(custom.document, dict) else {},
            }
        else:
            doc = rule_doc(
                rule,
                source="custom" if custom else "builtin",
                enabled=custom.enabled if custom else True,
                open_findings=tallies.open_by_rule(self.org, [rule.id]).get(rule.id, 0),
                custom_id=custom.pk if custom else None,
            )
            doc.update(
                {
                    "remediation": list(rule.remediation),
                    "references": list(rule.references),
                    "document": dict(rule.document),
                }
            )
        doc["text"] = custom.source if custom else None
        doc["problem"] = problem
        return Response(ser.RuleDetailSerializer(doc).data)


def _save_custom_rule(view: ApiView, custom: CustomRule | None) -> CustomRule:
    """Validate like the editor (CustomRuleForm: the parser's limits, the id, the connections' providers),
    then save through rule_actions. 400 with every problem otherwise."""
    data = view.body(ser.CustomRuleRequestSerializer)
    form = CustomRuleForm(
        {
            "source": data["source"],
            "format": data["format"],
            "connections": [str(pk) for pk in data["connections"]],
            "enabled": data["enabled"],
        },
        org=view.org,
        instance=custom,
    )
    if not form.is_valid():
        problems = form.rule_errors or []
        fields = {name: [str(m) for m in msgs] for name, msgs in form.errors.items()}
        raise ApiError(400, "invalid_rule", "The rule is not valid: see errors.", {"fields": fields, "rule": problems})
    kwargs = {
        "user": view.principal.user,
        "source": form.cleaned_data["source"],
        "fmt": form.cleaned_data["format"],
        "connections": form.cleaned_data["connections"],
        "enabled": form.cleaned_data["enabled"],
        "request": view.request,
    }
    try:
        if custom is None:
            return rule_actions.do_create_custom_rule(view.org, **kwargs)
        return rule_actions.do_update_custom_rule(custom, **kwargs)
    except rule_actions.DuplicateRuleId as exc:
        raise ApiError(409, "duplicate_rule_id", str(exc)) from None
    except RuleError as exc:
        raise ApiError(400, "invalid_rule", str(exc)) from None


RULE_EXAMPLE = OpenApiExample(
    "A YAML rule", request_only=True, value={"source": CUSTOM_EXAMPLE, "format": "yaml", "enabled": True}
)


class CustomRuleList(ApiView):
    capabilities = {"GET": C.VIEW, "POST": C.MANAGE_RULES}

    @extend_schema(
        operation_id="custom_rules_list",
        summary="List the organization's custom rules (their source included)",
        parameters=[LIMIT, CURSOR],
        responses={200: ser.CustomRulePageSerializer, **errors(400)},
        examples=[OpenApiExample("A page", value={"results": [CUSTOM_RULE_EXAMPLE], "next": None})],
    )
    def get(self, request):
        params = request.query_params
        rows, next_cursor = CUSTOM_RULES.page(
            CustomRule.objects.for_org(self.org), single(params, "cursor"), parse_limit(params)
        )
        data = {"results": [custom_rule_doc(c) for c in rows], "next": page_url(request, next_cursor)}
        return Response(ser.CustomRulePageSerializer(data).data)

    @extend_schema(
        operation_id="custom_rules_create",
        summary="Create a custom rule (write scope)",
        description="The same validation and limits as the rule editor; findings follow in the background.",
        request=ser.CustomRuleRequestSerializer,
        responses={201: ser.CustomRuleSerializer, **errors(400, 409)},
        examples=[
            RULE_EXAMPLE,
            OpenApiExample("Created", response_only=True, status_codes=["201"], value=CUSTOM_RULE_EXAMPLE),
        ],
    )
    def post(self, request):
        custom = _save_custom_rule(self, None)
        return Response(ser.CustomRuleSerializer(custom_rule_doc(custom)).data, status=201)


class CustomRuleDetail(ApiView):
    capabilities = {"GET": C.VIEW, "PUT": C.MANAGE_RULES}

    @extend_schema(
        operation_id="custom_rules_retrieve",
        summary="One custom rule",
        responses={200: ser.CustomRuleSerializer, **errors(404)},
        examples=[OpenApiExample("A custom rule", value=CUSTOM_RULE_EXAMPLE)],
    )
    def get(self, request, custom_rule_id: int):
        custom = get_custom_rule_for_member(request, custom_rule_id)
        return Response(ser.CustomRuleSerializer(custom_rule_doc(custom)).data)

    @extend_schema(
        operation_id="custom_rules_update",
        summary="Replace a custom rule (write scope)",
        request=ser.CustomRuleRequestSerializer,
        responses={200: ser.CustomRuleSerializer, **errors(400, 404, 409)},
        examples=[RULE_EXAMPLE, OpenApiExample("Saved", response_only=True, value=CUSTOM_RULE_EXAMPLE)],
    )
    def put(self, request, custom_rule_id: int):
        custom = get_custom_rule_for_member(request, custom_rule_id, C.MANAGE_RULES)
        custom = _save_custom_rule(self, custom)
        return Response(ser.CustomRuleSerializer(custom_rule_doc(custom)).data)


# --- compliance -------------------------------------------------------------------------------------


def framework_summary(report) -> dict:
    return {
        "framework": report.slug,
        "name": report.name,
        "providers": list(report.providers),
        "connections": len(report.connections),
        "evaluated_connections": report.evaluated_connections,
        "controls": {
            "passed": report.tally.passed,
            "failed": report.tally.failed,
            "not_evaluated": report.tally.not_evaluated,
        },
    }


class ComplianceList(ApiView):
    @extend_schema(
        operation_id="compliance_list",
        summary="Compliance per framework: controls passed, failed and not evaluated",
        responses={200: ser.FrameworkListSerializer, **errors()},
        examples=[OpenApiExample("Every framework", value={"results": [SUMMARY_EXAMPLE]})],
    )
    def get(self, request):
        results = [framework_summary(r) for r in compliance.frameworks_overview(self.org)]
        return Response(ser.FrameworkListSerializer({"results": results}).data)


class ComplianceDetail(ApiView):
    @extend_schema(
        operation_id="compliance_retrieve",
        summary="One framework: each control's verdict, overall and per connection",
        responses={200: ser.FrameworkReportSerializer, **errors(404)},
        examples=[
            OpenApiExample(
                "A framework",
                value={
                    **SUMMARY_EXAMPLE,
                    "connection_names": {"7": "Production"},
                    "control_results": [
                        {
                            "control": "3.1",
                            "verdict": "fail",
                            "rules": ["aws-cloudtrail-not-logging"],
                            "connections": [
                                {
                                    "connection_id": 7,
                                    "verdict": "fail",
                                    "failing_rules": ["aws-cloudtrail-not-logging"],
                                    "open_findings": 1,
                                    "reasons": [],
                                }
                            ],
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request, framework: str):
        if framework not in FRAMEWORKS:
            raise ApiError(404, "not_found", f"No such framework: choose one of {', '.join(FRAMEWORKS)}.")
        report = compliance.framework_report(self.org, framework)
        doc = framework_summary(report)
        doc["connection_names"] = {str(c.pk): c.name for c in report.connections}
        doc["control_results"] = [
            {
                "control": row.control,
                "verdict": row.verdict,
                "rules": [r.id for r in row.rules],
                "connections": [
                    {
                        "connection_id": cell.connection_id,
                        "verdict": cell.verdict,
                        "failing_rules": cell.failing_rule_ids,
                        "open_findings": cell.open_findings,
                        "reasons": cell.reasons,
                    }
                    for cell in row.cells
                ],
            }
            for row in report.controls
        ]
        return Response(ser.FrameworkReportSerializer(doc).data)
