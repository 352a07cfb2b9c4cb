"""The API's documents, as DRF serializers: they shape every answer and, through drf-spectacular, the
OpenAPI schema, so the two cannot drift apart. Views hand them plain dicts built from the apps' queries."""

from __future__ import annotations

from rest_framework import serializers as s

from connections.models import CloudConnection
from findings.models import Category, CustomRule, Finding, Severity
from inventory.models import SyncRun


class ErrorSerializer(s.Serializer):
    code = s.CharField(help_text="Stable, machine-readable: not_found, invalid_api_key, rate_limited ...")
    message = s.CharField(help_text="For a person.")
    errors = s.JSONField(required=False, help_text="Details of an invalid request, per field when it has fields.")


# --- connections and scans --------------------------------------------------------------------------


class ScanRunSerializer(s.Serializer):
    id = s.IntegerField()
    connection_id = s.IntegerField()
    status = s.ChoiceField(choices=SyncRun.Status.choices)
    trigger = s.ChoiceField(choices=SyncRun.Trigger.choices)
    created_at = s.DateTimeField()
    started_at = s.DateTimeField(allow_null=True)
    finished_at = s.DateTimeField(allow_null=True)
    progress_percent = s.IntegerField()
    resource_count = s.IntegerField()
    created_count = s.IntegerField()
    modified_count = s.IntegerField()
    deleted_count = s.IntegerField()
    completeness_percent = s.FloatField()
    cancel_requested = s.BooleanField()
    warning_count = s.IntegerField()
    errors = s.ListField(child=s.DictField(), help_text="Run-level errors: {type, region, code, message}.")


class ScanRunDetailSerializer(ScanRunSerializer):
    warnings = s.ListField(child=s.DictField(), help_text="Per collector unit: {type, region, status, code, message}.")
    coverage = s.DictField(help_text="{resource type: {region: collected | denied | throttled | error | skipped}}.")


class ConnectionSerializer(s.Serializer):
    id = s.IntegerField()
    name = s.CharField()
    provider = s.ChoiceField(choices=CloudConnection.Provider.choices)
    auth_method = s.ChoiceField(choices=CloudConnection.AuthMethod.choices)
    status = s.ChoiceField(choices=CloudConnection.Status.choices)
    enabled = s.BooleanField()
    account = s.CharField(help_text="AWS account id (and alias) or the Azure subscriptions.", allow_blank=True)
    regions = s.ListField(child=s.CharField(), help_text="Regions scanned (empty: every enabled region).")
    scan_frequency = s.ChoiceField(choices=CloudConnection.ScanFrequency.choices)
    created_at = s.DateTimeField()
    last_checked_at = s.DateTimeField(allow_null=True)
    last_scan = ScanRunSerializer(allow_null=True)


class ScanStartedSerializer(s.Serializer):
    started = s.BooleanField(help_text="False when a scan already queued or running was joined.")
    scan = ScanRunSerializer()


class ScanCancelSerializer(s.Serializer):
    cancelled = s.BooleanField(help_text="The scan stops at its next step and writes nothing.")
    scan = ScanRunSerializer()


# --- resources --------------------------------------------------------------------------------------


class NamedRefSerializer(s.Serializer):
    id = s.IntegerField()
    name = s.CharField(allow_blank=True)


class OpenFindingsSerializer(s.Serializer):
    total = s.IntegerField()
    by_severity = s.DictField(child=s.IntegerField(), help_text="Only severities with open findings.")


class ResourceSerializer(s.Serializer):
    id = s.IntegerField()
    name = s.CharField(allow_blank=True)
    native_id = s.CharField(help_text="ARN or Azure resource id.")
    provider = s.CharField()
    resource_type = s.CharField()
    region = s.CharField(allow_blank=True)
    connection = NamedRefSerializer()
    tags = s.DictField()
    first_seen = s.DateTimeField()
    last_seen = s.DateTimeField()
    open_findings = OpenFindingsSerializer()


class RelatedSerializer(s.Serializer):
    kind = s.CharField(help_text="in_subnet, attached_to, uses_role ...")
    resource_id = s.IntegerField()
    name = s.CharField(allow_blank=True)
    resource_type = s.CharField()
    native_id = s.CharField()


class RelationshipsSerializer(s.Serializer):
    outgoing = RelatedSerializer(many=True)
    outgoing_total = s.IntegerField()
    incoming = RelatedSerializer(many=True)
    incoming_total = s.IntegerField()


class ChangeSerializer(s.Serializer):
    id = s.IntegerField()
    kind = s.CharField()
    created_at = s.DateTimeField()
    scan_id = s.IntegerField()
    diff = s.DictField(help_text='{"config.path": {"old": ..., "new": ...}}')


class ResourceFindingSerializer(s.Serializer):
    id = s.IntegerField()
    rule_id = s.CharField()
    title = s.CharField()
    severity = s.ChoiceField(choices=Severity.choices)
    category = s.ChoiceField(choices=Category.choices)
    status = s.ChoiceField(choices=Finding.Status.choices)


class ResourceDetailSerializer(ResourceSerializer):
    config = s.JSONField(help_text="The normalized configuration.")
    updated_at = s.DateTimeField()
    relationships = RelationshipsSerializer()
    changes = ChangeSerializer(many=True, help_text="The latest 50 changes, newest first (all: /changes/).")
    changes_total = s.IntegerField()
    findings = ResourceFindingSerializer(many=True, help_text="Open first, then by severity (at most 100).")


class ResourcePageSerializer(s.Serializer):
    results = ResourceSerializer(many=True)
    count = s.IntegerField(help_text="Matching resources, counted up to 10,000.")
    count_is_exact = s.BooleanField(help_text="False when there are more than ``count``.")
    next = s.URLField(allow_null=True)
    previous = s.URLField(allow_null=True)


# --- findings ---------------------------------------------------------------------------------------


class FindingResourceSerializer(s.Serializer):
    id = s.IntegerField(allow_null=True, help_text="Empty when the resource no longer exists.")
    resource_type = s.CharField()
    native_id = s.CharField()
    name = s.CharField(allow_blank=True)
    region = s.CharField(allow_blank=True)


class FindingConnectionSerializer(s.Serializer):
    id = s.IntegerField()
    name = s.CharField()
    provider = s.CharField()


class SuppressionSerializer(s.Serializer):
    reason = s.CharField()
    until = s.DateTimeField(allow_null=True)
    at = s.DateTimeField(allow_null=True)
    by = s.CharField(allow_null=True, help_text="The email of who suppressed it (empty for an API key).")


class FindingSerializer(s.Serializer):
    id = s.IntegerField()
    rule_id = s.CharField()
    rule_source = s.CharField()
    title = s.CharField()
    severity = s.ChoiceField(choices=Severity.choices)
    category = s.ChoiceField(choices=Category.choices)
    status = s.ChoiceField(choices=Finding.Status.choices)
    connection = FindingConnectionSerializer()
    resource = FindingResourceSerializer()
    first_seen = s.DateTimeField()
    last_seen = s.DateTimeField()
    resolved_at = s.DateTimeField(allow_null=True)
    reopened_count = s.IntegerField()
    monthly_usd = s.DecimalField(max_digits=12, decimal_places=2, allow_null=True, coerce_to_string=False)
    suppression = SuppressionSerializer(allow_null=True)


class ExplainNodeSerializer(s.Serializer):
    kind = s.CharField(help_text="all | any | not | leaf | items | related")
    label = s.CharField(allow_blank=True)
    result = s.BooleanField(allow_null=True)
    op = s.CharField(allow_blank=True)
    expected = s.CharField(allow_null=True)
    actual = s.CharField(allow_null=True)
    missing = s.BooleanField()
    note = s.CharField(allow_blank=True)
    error = s.CharField(allow_blank=True)
    children = s.ListField(child=s.DictField(), help_text="Nodes of the same shape.")


class RuleRefSerializer(s.Serializer):
    id = s.CharField()
    title = s.CharField()
    description = s.CharField(allow_blank=True)
    remediation = s.ListField(child=s.CharField())
    references = s.ListField(child=s.CharField())


class ExplanationSerializer(s.Serializer):
    rule = RuleRefSerializer(allow_null=True)
    tree = ExplainNodeSerializer(allow_null=True)
    problem = s.CharField(allow_blank=True, help_text="Why there is no tree (resource gone, rule deleted ...).")
    neighbours = s.IntegerField()


class DriftSerializer(s.Serializer):
    path = s.CharField()
    old = s.CharField(allow_null=True)
    new = s.CharField(allow_null=True)


class ComplianceRefSerializer(s.Serializer):
    framework = s.CharField()
    name = s.CharField()
    controls = s.ListField(child=s.CharField())


class FindingEventSerializer(s.Serializer):
    kind = s.CharField()
    at = s.DateTimeField()
    actor = s.CharField(allow_null=True)
    note = s.CharField(allow_blank=True)


class FindingDetailSerializer(FindingSerializer):
    detail = s.DictField()
    explanation = ExplanationSerializer()
    drift = DriftSerializer(many=True)
    compliance = ComplianceRefSerializer(many=True)
    events = FindingEventSerializer(many=True, help_text="Newest first (at most 100).")


class FindingPageSerializer(s.Serializer):
    results = FindingSerializer(many=True)
    next = s.URLField(allow_null=True)


class SuppressRequestSerializer(s.Serializer):
    reason = s.CharField(max_length=2000, help_text="Why the finding is accepted: kept with it and in the audit log.")
    until = s.DateTimeField(
        required=False, allow_null=True, help_text="When the suppression ends (ISO 8601 with offset); empty: never."
    )


# --- rules ------------------------------------------------------------------------------------------


class RuleSerializer(s.Serializer):
    id = s.CharField()
    source = s.ChoiceField(choices=[("builtin", "Built-in"), ("custom", "Custom")])
    title = s.CharField()
    severity = s.ChoiceField(choices=Severity.choices)
    category = s.ChoiceField(choices=Category.choices)
    providers = s.ListField(child=s.CharField())
    resource_types = s.ListField(child=s.CharField())
    description = s.CharField(allow_blank=True)
    compliance = s.DictField(child=s.ListField(child=s.CharField()), help_text="{framework: [control ids]}.")
    enabled = s.BooleanField()
    open_findings = s.IntegerField()
    custom_rule_id = s.IntegerField(allow_null=True, help_text="For custom rules: the id to update it with.")


class RuleDetailSerializer(RuleSerializer):
    remediation = s.ListField(child=s.CharField())
    references = s.ListField(child=s.CharField())
    document = s.DictField(help_text="The rule as data, in the rule language (docs/rules.md).")
    text = s.CharField(allow_null=True, help_text="A custom rule as its author wrote it.")
    problem = s.CharField(allow_blank=True, help_text="A custom rule that no longer compiles: why.")


class RulePageSerializer(s.Serializer):
    results = RuleSerializer(many=True)
    next = s.URLField(allow_null=True)


class CustomRuleRequestSerializer(s.Serializer):
    source = s.CharField(trim_whitespace=False, help_text="One rule, in YAML or JSON (docs/rules.md).")
    format = s.ChoiceField(choices=CustomRule.Format.choices, default=CustomRule.Format.YAML)
    connections = s.ListField(
        child=s.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
        max_length=500,
        help_text="Connection ids it is limited to; empty: every connection.",
    )
    enabled = s.BooleanField(default=True)


class CustomRuleSerializer(s.Serializer):
    id = s.IntegerField(help_text="The custom rule's id (for updates).")
    rule_id = s.CharField(help_text="The rule id its findings carry.")
    title = s.CharField()
    severity = s.ChoiceField(choices=Severity.choices)
    category = s.ChoiceField(choices=Category.choices)
    enabled = s.BooleanField()
    format = s.ChoiceField(choices=CustomRule.Format.choices)
    source = s.CharField()
    connections = s.ListField(child=s.IntegerField())
    created_at = s.DateTimeField()
    updated_at = s.DateTimeField()


# --- compliance -------------------------------------------------------------------------------------


class TallySerializer(s.Serializer):
    passed = s.IntegerField()
    failed = s.IntegerField()
    not_evaluated = s.IntegerField()


class FrameworkSummarySerializer(s.Serializer):
    framework = s.CharField()
    name = s.CharField()
    providers = s.ListField(child=s.CharField())
    connections = s.IntegerField()
    evaluated_connections = s.IntegerField()
    controls = TallySerializer()


class ComplianceCellSerializer(s.Serializer):
    connection_id = s.IntegerField()
    verdict = s.ChoiceField(choices=["pass", "fail", "not_evaluated"])
    failing_rules = s.ListField(child=s.CharField())
    open_findings = s.IntegerField()
    reasons = s.ListField(child=s.CharField(), help_text="Why rules were not evaluated here.")


class ControlSerializer(s.Serializer):
    control = s.CharField()
    verdict = s.ChoiceField(choices=["pass", "fail", "not_evaluated"])
    rules = s.ListField(child=s.CharField())
    connections = ComplianceCellSerializer(many=True)


class FrameworkReportSerializer(FrameworkSummarySerializer):
    connection_names = s.DictField(child=s.CharField(), help_text="{connection id: name}.")
    control_results = ControlSerializer(many=True)


class FrameworkListSerializer(s.Serializer):
    results = FrameworkSummarySerializer(many=True)


class ConnectionPageSerializer(s.Serializer):
    results = ConnectionSerializer(many=True)
    next = s.URLField(allow_null=True)


class ScanRunPageSerializer(s.Serializer):
    results = ScanRunSerializer(many=True)
    next = s.URLField(allow_null=True)


class CustomRulePageSerializer(s.Serializer):
    results = CustomRuleSerializer(many=True)
    next = s.URLField(allow_null=True)


class ChangePageSerializer(s.Serializer):
    results = ChangeSerializer(many=True)
    next = s.URLField(allow_null=True)
