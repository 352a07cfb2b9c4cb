"""Findings, compliance, rules, policies and baselines: /o/<org_slug>/findings/, /compliance/, /rules/ ..."""

from findings.views import baselines, compliance, findings, policies, rules

app_name = "findings"

urlpatterns = [
    *findings.urlpatterns,
    *compliance.urlpatterns,
    *rules.urlpatterns,
    *policies.urlpatterns,
    *baselines.urlpatterns,
]
