"""/api/v1/ (the REST API, its schema and reference) and the organization's pages of this app:
API keys (/o/<org>/api-keys/) and the OCSF export of findings (/o/<org>/findings/ocsf.json)."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from api import key_views, page_views
from api.errors import not_found
from api.views import findings, inventory, rules

app_name = "api"
V1 = "api/v1/"
ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path(f"{V1}schema/", SpectacularAPIView.as_view(), name="schema"),
    path(f"{V1}docs/", page_views.reference, name="reference"),
    path(f"{V1}connections/", inventory.ConnectionList.as_view(), name="connections"),
    path(f"{V1}connections/<int:connection_id>/", inventory.ConnectionDetail.as_view(), name="connection"),
    path(f"{V1}connections/<int:connection_id>/scans/", inventory.ScanStart.as_view(), name="scan_start"),
    path(f"{V1}scans/", inventory.ScanList.as_view(), name="scans"),
    path(f"{V1}scans/<int:run_id>/", inventory.ScanDetail.as_view(), name="scan"),
    path(f"{V1}scans/<int:run_id>/cancel/", inventory.ScanCancel.as_view(), name="scan_cancel"),
    path(f"{V1}resources/", inventory.ResourceList.as_view(), name="resources"),
    path(f"{V1}resources/<int:resource_id>/", inventory.ResourceDetail.as_view(), name="resource"),
    path(f"{V1}resources/<int:resource_id>/changes/", inventory.ResourceChanges.as_view(), name="resource_changes"),
    path(f"{V1}findings/", findings.FindingList.as_view(), name="findings"),
    path(f"{V1}findings/ocsf/", findings.FindingOcsfList.as_view(), name="findings_ocsf"),
    path(f"{V1}findings/<int:finding_id>/", findings.FindingDetail.as_view(), name="finding"),
    path(f"{V1}findings/<int:finding_id>/suppress/", findings.FindingSuppress.as_view(), name="finding_suppress"),
    path(f"{V1}findings/<int:finding_id>/unsuppress/", findings.FindingUnsuppress.as_view(), name="finding_unsuppress"),
    path(f"{V1}rules/", rules.RuleList.as_view(), name="rules"),
    path(f"{V1}rules/<str:rule_id>/", rules.RuleDetail.as_view(), name="rule"),
    path(f"{V1}custom-rules/", rules.CustomRuleList.as_view(), name="custom_rules"),
    path(f"{V1}custom-rules/<int:custom_rule_id>/", rules.CustomRuleDetail.as_view(), name="custom_rule"),
    path(f"{V1}compliance/", rules.ComplianceList.as_view(), name="compliance"),
    path(f"{V1}compliance/<str:framework>/", rules.ComplianceDetail.as_view(), name="compliance_framework"),
    re_path(r"^api/v1/.*$", not_found, name="not_found"),
    path(f"{ORG}api-keys/", key_views.key_list, name="keys"),
    path(f"{ORG}api-keys/new/", key_views.key_new, name="key_new"),
    path(f"{ORG}api-keys/revoke/", key_views.key_revoke, name="key_revoke"),
    path(f"{ORG}findings/ocsf.json", page_views.ocsf_export, name="ocsf_export"),
]
