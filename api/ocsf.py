"""Findings in OCSF 1.5.0 (the Open Cybersecurity Schema Framework: what AWS Security Hub, Security
Lake and Prowler speak), so a SIEM loads them unchanged.

A finding whose rule maps to a compliance framework (CIS ...) becomes a **Compliance Finding**
(class_uid 2003), with its standards and controls; every other one (cost, drift, hygiene, security
without a mapping) a **Detection Finding** (class_uid 2004). Both are in the Findings category (2),
with the Cloud profile (``cloud``: provider, account, region). Mapping:

- ``activity_id``: 1 Create (open, never reopened), 2 Update (reopened or suppressed), 3 Close (resolved);
- ``status_id``: 1 New (open), 3 Suppressed, 4 Resolved; ``severity_id``: info 1 … critical 5;
- ``time`` = last seen; ``finding_info``: uid, title, description, first/last seen, the rule as the analytic;
- ``resources``: the resource (native id as uid, type, name, region, tags as name/value pairs);
- ``remediation``: the rule's remediation steps and references; ``unmapped``: Cloustral's own facts
  (category, estimated monthly waste, the finding's page).

Times are epoch milliseconds (``timestamp_t``). tests/api/ocsf_findings.schema.json, written from the
public spec, validates this output.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.conf import settings

from findings.models import Category, CustomRule, Finding, RuleSource
from findings.rules.catalog import builtin_catalog
from findings.rules.language import FRAMEWORKS

VERSION = "1.5.0"
CATEGORY_UID = 2  # Findings
DETECTION = 2004
COMPLIANCE = 2003
CLASS_NAMES = {DETECTION: "Detection Finding", COMPLIANCE: "Compliance Finding"}
SEVERITY_IDS = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
ACTIVITIES = {1: "Create", 2: "Update", 3: "Close"}
STATUS_IDS = {Finding.Status.OPEN: 1, Finding.Status.SUPPRESSED: 3, Finding.Status.RESOLVED: 4}
STATUS_NAMES = {1: "New", 3: "Suppressed", 4: "Resolved"}
COMPLIANCE_STATUS = {1: "Pass", 3: "Fail"}
PROVIDERS = {"aws": "AWS", "azure": "Azure"}
ACCOUNT_TYPES = {"aws": (10, "AWS Account"), "azure": (13, "Azure Subscription")}
PRODUCT = {"name": "Cloustral", "vendor_name": "Cloustral", "version": "1"}


def ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


class RuleFacts:
    """Description, remediation, references and compliance mappings of the rules findings name:
    the built-in catalog, and the organization's custom rules (loaded once, by rule id)."""

    def __init__(self, org) -> None:
        self.org = org
        self._custom: dict[str, dict[str, Any]] | None = None

    def _customs(self) -> dict[str, dict[str, Any]]:
        if self._custom is None:
            rows = CustomRule.objects.for_org(self.org).values_list("rule_id", "document")
            self._custom = {rule_id: doc if isinstance(doc, dict) else {} for rule_id, doc in rows}
        return self._custom

    def get(self, finding: Finding) -> dict[str, Any]:
        if finding.rule_source == RuleSource.BUILTIN:
            rule = builtin_catalog().get(finding.rule_id)
            if rule is not None:
                return {
                    "description": rule.description.strip(),
                    "remediation": list(rule.remediation),
                    "references": list(rule.references),
                    "compliance": {fw: list(ids) for fw, ids in rule.compliance.items()},
                }
        elif finding.rule_source == RuleSource.CUSTOM:
            doc = self._customs().get(finding.rule_id, {})
            compliance = doc.get("compliance")
            return {
                "description": str(doc.get("description") or "").strip(),
                "remediation": [str(x) for x in _as_list(doc.get("remediation"))],
                "references": [str(x) for x in _as_list(doc.get("references"))],
                "compliance": (
                    {str(fw): [str(c) for c in _as_list(ids)] for fw, ids in compliance.items()}
                    if isinstance(compliance, dict)
                    else {}
                ),
            }
        return {"description": "", "remediation": [], "references": [], "compliance": {}}


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _activity(finding: Finding) -> int:
    if finding.status == Finding.Status.RESOLVED:
        return 3
    if finding.status == Finding.Status.SUPPRESSED or finding.reopened_count:
        return 2
    return 1


def _account(finding: Finding) -> dict[str, Any] | None:
    conn = finding.connection
    provider = conn.provider
    uid = ""
    if provider == "aws":
        uid = conn.aws_account_id
    elif finding.native_id.lower().startswith("/subscriptions/"):
        uid = finding.native_id.split("/")[2]
    if not uid:
        return None
    type_id, type_name = ACCOUNT_TYPES.get(provider, (99, "Other"))
    return {"uid": uid, "type_id": type_id, "type": type_name, "name": conn.name}


def finding_url(finding: Finding, org_slug: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/o/{org_slug}/findings/{finding.pk}/"


def to_ocsf(finding: Finding, facts: dict[str, Any], org_slug: str) -> dict[str, Any]:
    """One finding as an OCSF event (a plain dict, ready for JSON). ``finding.connection`` is read."""
    compliance = {fw: ids for fw, ids in facts["compliance"].items() if ids}
    class_uid = COMPLIANCE if compliance else DETECTION
    activity_id = _activity(finding)
    severity_id = SEVERITY_IDS.get(finding.severity, 0)
    status_id = STATUS_IDS.get(finding.status, 1)
    provider = finding.connection.provider
    tags = finding.resource.tags if finding.resource_id and finding.resource else {}
    resource: dict[str, Any] = {
        "uid": finding.native_id,
        "name": finding.resource_name or finding.native_id,
        "type": finding.resource_type,
        "cloud_partition": "aws" if provider == "aws" else None,
        "region": finding.region or None,
        "labels": [finding.category],
        "tags": [{"name": str(k), "value": "" if v is None else str(v)} for k, v in sorted((tags or {}).items())],
    }
    cloud: dict[str, Any] = {"provider": PROVIDERS.get(provider, provider), "region": finding.region or None}
    account = _account(finding)
    if account:
        cloud["account"] = account
    event: dict[str, Any] = {
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": class_uid,
        "class_name": CLASS_NAMES[class_uid],
        "activity_id": activity_id,
        "activity_name": ACTIVITIES[activity_id],
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{CLASS_NAMES[class_uid]}: {ACTIVITIES[activity_id]}",
        "severity_id": severity_id,
        "severity": SEVERITY_NAMES.get(severity_id, "Unknown"),
        "status_id": status_id,
        "status": STATUS_NAMES[status_id],
        "time": ms(finding.last_seen),
        "start_time": ms(finding.first_seen),
        "end_time": ms(finding.resolved_at or finding.last_seen),
        "message": finding.title,
        "metadata": {
            "version": VERSION,
            "product": PRODUCT,
            "profiles": ["cloud"],
            "uid": f"cloustral-finding-{finding.pk}",
            "event_code": finding.rule_id,
            "tenant_uid": org_slug,
            "modified_time": ms(finding.suppressed_at or finding.resolved_at or finding.last_seen),
        },
        "finding_info": {
            "uid": f"cloustral-finding-{finding.pk}",
            "title": finding.title,
            "desc": facts["description"] or finding.title,
            "types": [Category(finding.category).label if finding.category in Category.values else finding.category],
            "created_time": ms(finding.first_seen),
            "first_seen_time": ms(finding.first_seen),
            "last_seen_time": ms(finding.last_seen),
            "modified_time": ms(finding.suppressed_at or finding.resolved_at or finding.last_seen),
            "src_url": finding_url(finding, org_slug),
            "analytic": {"uid": finding.rule_id, "name": finding.title, "type_id": 1, "type": "Rule"},
        },
        "cloud": cloud,
        "resources": [{k: v for k, v in resource.items() if v is not None}],
        "unmapped": {
            "cloustral": {
                "category": finding.category,
                "rule_source": finding.rule_source,
                "monthly_usd": float(finding.monthly_usd) if finding.monthly_usd is not None else None,
                "connection": finding.connection.name,
                "suppressed_reason": finding.suppressed_reason or None,
                "suppressed_until": finding.suppressed_until.isoformat() if finding.suppressed_until else None,
            }
        },
    }
    event["cloud"] = {k: v for k, v in cloud.items() if v is not None}
    if facts["remediation"] or facts["references"]:
        event["remediation"] = {"desc": " ".join(facts["remediation"]) or finding.title}
        if facts["references"]:
            event["remediation"]["references"] = facts["references"]
    if class_uid == COMPLIANCE:
        compliance_status = 1 if finding.status == Finding.Status.RESOLVED else 3
        event["compliance"] = {
            "standards": [FRAMEWORKS.get(fw, fw) for fw in sorted(compliance)],
            "requirements": sorted({f"{fw} {c}" for fw, ids in compliance.items() for c in ids}),
            "control": ", ".join(sorted({c for ids in compliance.values() for c in ids})),
            "status_id": compliance_status,
            "status": COMPLIANCE_STATUS[compliance_status],
        }
    return event


def events(findings: Iterable[Finding], org, org_slug: str) -> Iterator[dict[str, Any]]:
    facts = RuleFacts(org)
    for finding in findings:
        yield to_ocsf(finding, facts.get(finding), org_slug)


def json_array(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array, one event per chunk (streamed: 100,000 findings never sit in memory at once)."""
    yield "["
    first = True
    for item in items:
        yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        first = False
    yield "\n]\n"
