"""The rules pages: the built-in catalog (searchable), a rule's detail, and the custom-rule editor with
its live preview. Thin: parsing and preview in ``findings.rule_editor``, changes in ``findings.rule_actions``."""

from __future__ import annotations

import yaml
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from connections.models import CloudConnection
from findings import rule_actions, tallies
from findings.access import get_custom_rule_for_member
from findings.forms import CustomRuleForm, instance_connections
from findings.models import Category, CustomRule, Severity
from findings.rule_editor import field_reference, operator_reference, parse_custom_rule, preview_rule
from findings.rules import RuleError
from findings.rules.catalog import builtin_catalog
from findings.rules.language import FRAMEWORKS, PROVIDERS
from findings.sources import BASELINE_RULE_ID, POLICY_PREFIX
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
ORG = "o/<slug:org_slug>/"
RULES_PER_PAGE = 50
CUSTOM_PER_PAGE = 50


class _DocumentDumper(yaml.SafeDumper):
    """YAML as a person writes it: multi-line text as a block, no trailing newline of folded text."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    value = value.rstrip("\n")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_DocumentDumper.add_representer(str, _represent_text)


def rule_yaml(document) -> str:
    return yaml.dump(
        dict(document), Dumper=_DocumentDumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )


def _rules_url(request: HttpRequest) -> str:
    return reverse("findings:rules", kwargs={"org_slug": request.org.slug})


def _next_or(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


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


@org_view(_C.VIEW)
def rule_list(request: HttpRequest) -> HttpResponse:
    g = request.GET
    filters = {
        "q": g.get("q", "").strip()[:200],
        "provider": g.get("provider", "") if g.get("provider") in PROVIDERS else "",
        "category": g.get("category", "") if g.get("category") in Category.values else "",
        "severity": g.get("severity", "") if g.get("severity") in Severity.values else "",
        "framework": g.get("framework", "") if g.get("framework") in FRAMEWORKS else "",
    }
    catalog = builtin_catalog()
    rules = [r for r in catalog if _matches(r, **filters)]
    page = Paginator(rules, RULES_PER_PAGE).get_page(g.get("page"))
    # The connections' own manager is org-scoped: the prefetch says which organization.
    scope = Prefetch("connections", queryset=CloudConnection.objects.for_org(request.org).order_by("name"))
    customs = CustomRule.objects.for_org(request.org).select_related("created_by").prefetch_related(scope)
    custom_page = Paginator(customs, CUSTOM_PER_PAGE).get_page(g.get("custom_page"))
    counts = tallies.open_by_rule(request.org, [r.id for r in page] + [c.rule_id for c in custom_page])
    context = {
        "page": page,
        "rows": [(r, counts.get(r.id, 0)) for r in page],
        "custom_page": custom_page,
        "custom_rows": [(c, counts.get(c.rule_id, 0)) for c in custom_page],
        "filters": filters,
        "filtered": any(filters.values()),
        "catalog_size": len(catalog),
        "matching": len(rules),
        "providers": PROVIDERS,
        "categories": Category.choices,
        "severities": Severity.choices,
        "frameworks": FRAMEWORKS,
        "can_manage": request.membership.can_manage_rules,
    }
    return render(request, "findings/rules.html", context)


@org_view(_C.VIEW)
def rule_detail(request: HttpRequest, rule_id: str) -> HttpResponse:
    """A built-in rule; a custom rule of the organization by its id; policies and baselines go to
    their own pages (findings link here by rule id whatever its source)."""
    rule = builtin_catalog().get(rule_id)
    custom = None
    if rule is None:
        if rule_id == BASELINE_RULE_ID:
            return redirect("findings:baselines", org_slug=request.org.slug)
        if rule_id.startswith(POLICY_PREFIX) and rule_id[len(POLICY_PREFIX) :].isdigit():
            return redirect("findings:policies", org_slug=request.org.slug)
        custom = CustomRule.objects.for_org(request.org).filter(rule_id=rule_id).first()
        if custom is None:
            raise Http404("No such rule.")
        try:
            rule = parse_custom_rule(custom.source, custom.format)[1]
        except RuleError:
            rule = None  # shown with its source and the problem; the editor says what to fix
    document = custom.source if custom is not None else rule_yaml(rule.document)
    context = {
        "rule": rule,
        "custom": custom,
        "custom_connections": instance_connections(custom) if custom is not None else [],
        "document": document,
        "fields_read": sorted(rule.fields_read) if rule is not None else [],
        "compliance": [(FRAMEWORKS.get(fw, fw), fw, ids) for fw, ids in (rule.compliance if rule else {}).items()],
        "open_count": tallies.open_by_rule(request.org, [rule_id]).get(rule_id, 0),
        "can_manage": request.membership.can_manage_rules,
    }
    return render(request, "findings/rule_detail.html", context)


def _editor_context(request: HttpRequest, form: CustomRuleForm, custom: CustomRule | None, preview=None) -> dict:
    return {
        "form": form,
        "custom": custom,
        "preview": preview,
        "operators": operator_reference(),
        "field_reference": field_reference(),
    }


def _preview_for(request: HttpRequest, form: CustomRuleForm):
    """The preview of a validated form's rule over the chosen connections (all when none)."""
    connections = form.cleaned_data.get("connections") or []
    return preview_rule(request.org, form.rule, [c.pk for c in connections] or None)


def _save(request: HttpRequest, form: CustomRuleForm, custom: CustomRule | None) -> CustomRule | None:
    data = form.cleaned_data
    kwargs = {
        "user": request.user,
        "source": data["source"],
        "fmt": data["format"],
        "connections": data["connections"],
        "enabled": data["enabled"],
        "request": request,
    }
    try:
        if custom is None:
            return rule_actions.do_create_custom_rule(request.org, **kwargs)
        return rule_actions.do_update_custom_rule(custom, **kwargs)
    except rule_actions.DuplicateRuleId as exc:
        form.add_error("source", str(exc))
    except RuleError as exc:  # validated a moment ago; kept for a schema changing under us
        form.add_error("source", str(exc))
    return None


def _editor(request: HttpRequest, custom: CustomRule | None) -> HttpResponse:
    form = CustomRuleForm(request.POST or None, org=request.org, instance=custom)
    preview = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            if request.POST.get("action") == "preview":
                # Without JavaScript the Preview button posts here: show the page with the preview.
                preview = _preview_for(request, form)
            else:
                saved = _save(request, form, custom)
                if saved is not None:
                    verb = "created" if custom is None else "saved"
                    messages.success(
                        request,
                        f"Rule “{saved.title}” {verb}. Findings are being updated for every connection.",
                    )
                    return redirect(_rules_url(request))
        if form.errors:
            status = 400
    template = "findings/custom_rule_form.html"
    return render(request, template, _editor_context(request, form, custom, preview), status=status)


@org_view(_C.MANAGE_RULES, methods=["GET", "POST"])
def custom_rule_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@org_view(_C.MANAGE_RULES, methods=["GET", "POST"])
def custom_rule_edit(request: HttpRequest, custom_rule_id: int) -> HttpResponse:
    custom = get_custom_rule_for_member(request, custom_rule_id, _C.MANAGE_RULES)
    return _editor(request, custom)


@org_view(_C.MANAGE_RULES, methods=["POST"])
def custom_rule_preview(request: HttpRequest) -> HttpResponse:
    """The editor's preview (htmx): the rule's problems with their paths, or its matches right now."""
    custom = None
    custom_id = request.POST.get("custom_rule_id", "")
    if custom_id.isdigit():
        custom = get_custom_rule_for_member(request, int(custom_id), _C.MANAGE_RULES)
    form = CustomRuleForm(request.POST, org=request.org, instance=custom)
    context: dict = {"form": form, "preview": None}
    if form.is_valid():
        context["preview"] = _preview_for(request, form)
        context["rule"] = form.rule
    return render(request, "findings/_rule_preview.html", context)


@org_view(_C.MANAGE_RULES, methods=["POST"])
def custom_rule_toggle(request: HttpRequest, custom_rule_id: int) -> HttpResponse:
    custom = get_custom_rule_for_member(request, custom_rule_id, _C.MANAGE_RULES)
    enabled = not custom.enabled
    rule_actions.do_set_custom_rule_enabled(custom, enabled, user=request.user, request=request)
    if enabled:
        messages.success(request, f"“{custom.title}” is enabled: findings are being updated.")
    else:
        messages.success(request, f"“{custom.title}” is disabled: its open findings resolve.")
    return redirect(_next_or(request, _rules_url(request)))


@org_view(_C.MANAGE_RULES, methods=["GET", "POST"])
def custom_rule_delete(request: HttpRequest, custom_rule_id: int) -> HttpResponse:
    custom = get_custom_rule_for_member(request, custom_rule_id, _C.MANAGE_RULES)
    if request.method == "POST":
        title = custom.title
        rule_actions.do_delete_custom_rule(custom, user=request.user, request=request)
        messages.success(request, f"Rule “{title}” deleted: its open findings resolve.")
        return redirect(_rules_url(request))
    open_count = tallies.open_by_rule(request.org, [custom.rule_id]).get(custom.rule_id, 0)
    return render(request, "findings/custom_rule_delete.html", {"custom": custom, "open_count": open_count})


urlpatterns = [
    path(f"{ORG}rules/", rule_list, name="rules"),
    path(f"{ORG}rules/custom/new/", custom_rule_new, name="custom_rule_new"),
    path(f"{ORG}rules/custom/preview/", custom_rule_preview, name="custom_rule_preview"),
    path(f"{ORG}rules/custom/<int:custom_rule_id>/edit/", custom_rule_edit, name="custom_rule_edit"),
    path(f"{ORG}rules/custom/<int:custom_rule_id>/toggle/", custom_rule_toggle, name="custom_rule_toggle"),
    path(f"{ORG}rules/custom/<int:custom_rule_id>/delete/", custom_rule_delete, name="custom_rule_delete"),
    path(f"{ORG}rules/<str:rule_id>/", rule_detail, name="rule_detail"),
]
