"""Organization policies: required tags, allowed regions, allowed instance/VM sizes. Each deviation is
a drift finding (rule id ``policy-<pk>``). Thin: validation in ``findings.forms``, changes in
``findings.rule_actions``."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse

from findings import rule_actions
from findings.access import get_policy_for_member
from findings.forms import PolicyForm
from findings.models import Finding, OrgPolicy
from findings.rules import RuleError
from findings.sources import POLICY_PREFIX
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
ORG = "o/<slug:org_slug>/"
POLICIES_PER_PAGE = 50


def policy_rule_id(policy: OrgPolicy) -> str:
    """The rule id of the policy's findings (``findings.sources.policy_document``)."""
    return f"{POLICY_PREFIX}{policy.pk}"


def _list_url(request: HttpRequest) -> str:
    return reverse("findings:policies", kwargs={"org_slug": request.org.slug})


@org_view(_C.VIEW)
def policy_list(request: HttpRequest) -> HttpResponse:
    policies = OrgPolicy.objects.for_org(request.org).select_related("created_by")
    page = Paginator(policies, POLICIES_PER_PAGE).get_page(request.GET.get("page"))
    rule_ids = [policy_rule_id(p) for p in page]
    counts = {
        row["rule_id"]: row["n"]
        for row in Finding.objects.for_org(request.org)
        .filter(status=Finding.Status.OPEN, rule_id__in=rule_ids)
        .values("rule_id")
        .annotate(n=Count("id"))
    }
    rows = [(p, counts.get(policy_rule_id(p), 0), policy_rule_id(p)) for p in page]
    context = {"page": page, "rows": rows, "can_manage": request.membership.can_manage_rules}
    return render(request, "findings/policies.html", context)


def _form_page(request: HttpRequest, policy: OrgPolicy | None) -> HttpResponse:
    form = PolicyForm(request.POST or None, org=request.org, instance=policy)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            fields = {
                "name": data["name"],
                "kind": data["kind"],
                "values": data["values"],
                "resource_types": data["resource_types"],
                "severity": data["severity"],
                "enabled": data["enabled"],
            }
            try:
                if policy is None:
                    policy = rule_actions.do_create_policy(request.org, user=request.user, request=request, **fields)
                    messages.success(request, f"Policy “{policy.name}” created: findings are being updated.")
                else:
                    changed = rule_actions.do_update_policy(policy, user=request.user, request=request, **fields)
                    messages.success(
                        request, "Policy saved: findings are being updated." if changed else "Nothing changed."
                    )
            except RuleError as exc:
                form.add_error(None, f"This policy cannot be evaluated: {exc.problem}")
            else:
                return redirect(_list_url(request))
        status = 400
    return render(request, "findings/policy_form.html", {"form": form, "policy": policy}, status=status)


@org_view(_C.MANAGE_RULES, methods=["GET", "POST"])
def policy_new(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@org_view(_C.MANAGE_RULES, methods=["GET", "POST"])
def policy_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_policy_for_member(request, policy_id, _C.MANAGE_RULES)
    return _form_page(request, policy)


@org_view(_C.MANAGE_RULES, methods=["POST"])
def policy_toggle(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_policy_for_member(request, policy_id, _C.MANAGE_RULES)
    enabled = not policy.enabled
    rule_actions.do_set_policy_enabled(policy, enabled, user=request.user, request=request)
    if enabled:
        messages.success(request, f"Policy “{policy.name}” is enabled: findings are being updated.")
    else:
        messages.success(request, f"Policy “{policy.name}” is disabled: its open findings resolve.")
    return redirect(_list_url(request))


@org_view(_C.MANAGE_RULES, methods=["GET", "POST"])
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_policy_for_member(request, policy_id, _C.MANAGE_RULES)
    if request.method == "POST":
        name = policy.name
        rule_actions.do_delete_policy(policy, user=request.user, request=request)
        messages.success(request, f"Policy “{name}” deleted: its open findings resolve.")
        return redirect(_list_url(request))
    rule_id = policy_rule_id(policy)
    open_count = Finding.objects.for_org(request.org).filter(status=Finding.Status.OPEN, rule_id=rule_id).count()
    return render(request, "findings/policy_delete.html", {"policy": policy, "open_count": open_count})


urlpatterns = [
    path(f"{ORG}policies/", policy_list, name="policies"),
    path(f"{ORG}policies/new/", policy_new, name="policy_new"),
    path(f"{ORG}policies/<int:policy_id>/edit/", policy_edit, name="policy_edit"),
    path(f"{ORG}policies/<int:policy_id>/toggle/", policy_toggle, name="policy_toggle"),
    path(f"{ORG}policies/<int:policy_id>/delete/", policy_delete, name="policy_delete"),
]
