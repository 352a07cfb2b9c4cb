"""Forms of the rules, policies and baselines pages. Validation only: saving is ``findings.rule_actions``."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Any

from django import forms

from connections.models import CloudConnection
from findings.models import CustomRule, OrgPolicy, Severity
from findings.rule_actions import rule_id_taken
from findings.rule_editor import EXAMPLE_RULE, error_list, parse_custom_rule
from findings.rules import Rule, RuleError
from findings.sources import SIZE_FIELDS, regional_types, tagged_types
from inventory.models import Resource

K = OrgPolicy.Kind
MAX_VALUES = 200
TAG_KEY_MAX = 128
SIZE_MAX = 64
SPLIT = re.compile(r"[,\n\r]+")
AWS_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
SIZE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Azure's public, government and China cloud locations (ARM names). AWS's come from botocore's data.
AZURE_REGIONS = frozenset(
    """
    eastus eastus2 southcentralus westus westus2 westus3 centralus northcentralus westcentralus
    canadacentral canadaeast brazilsouth brazilsoutheast mexicocentral chilecentral
    northeurope westeurope uksouth ukwest francecentral francesouth germanywestcentral germanynorth
    italynorth norwayeast norwaywest polandcentral spaincentral swedencentral swedensouth
    switzerlandnorth switzerlandwest austriaeast belgiumcentral denmarkeast
    australiaeast australiasoutheast australiacentral australiacentral2 newzealandnorth
    southeastasia eastasia japaneast japanwest koreacentral koreasouth centralindia southindia westindia
    jioindiacentral jioindiawest indonesiacentral malaysiawest
    uaenorth uaecentral qatarcentral israelcentral southafricanorth southafricawest
    usgovvirginia usgovarizona usgovtexas usdodcentral usdodeast
    chinaeast chinaeast2 chinaeast3 chinanorth chinanorth2 chinanorth3
    """.split()
)


@lru_cache(maxsize=1)
def aws_regions() -> frozenset[str]:
    """Every AWS region botocore knows, in every partition (local data, no network)."""
    import boto3

    session = boto3.session.Session()
    names: set[str] = set()
    for partition in session.get_available_partitions():
        names.update(session.get_available_regions("ec2", partition_name=partition))
    return frozenset(names)


def split_values(text: str) -> list[str]:
    """Comma- or newline-separated text → its non-empty values, stripped, first occurrence kept."""
    return list(dict.fromkeys(v.strip() for v in SPLIT.split(text or "") if v.strip()))


def _suggest(value: str, known: frozenset[str] | set[str], cutoff: float = 0.75) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]}?)" if close else ""


# --- custom rules -----------------------------------------------------------------------------------


class CustomRuleForm(forms.Form):
    source = forms.CharField(
        label="Rule",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "class": "code", "spellcheck": "false", "autocomplete": "off"}),
        help_text="One rule, in the language of the built-in catalog (see the reference beside the editor).",
    )
    format = forms.ChoiceField(choices=CustomRule.Format.choices, initial=CustomRule.Format.YAML)
    connections = forms.ModelMultipleChoiceField(
        queryset=CloudConnection.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: every connection of the organization.",
    )
    enabled = forms.BooleanField(required=False, initial=True, help_text="A disabled rule opens no findings.")

    def __init__(self, *args: Any, org, instance: CustomRule | None = None, **kwargs: Any) -> None:
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "source": instance.source,
                "format": instance.format,
                "enabled": instance.enabled,
                "connections": [c.pk for c in instance_connections(instance)],
            }
        elif instance is None and "initial" not in kwargs:
            kwargs["initial"] = {"source": EXAMPLE_RULE, "format": CustomRule.Format.YAML, "enabled": True}
        super().__init__(*args, **kwargs)
        self.org = org
        self.instance = instance
        self.fields["connections"].queryset = CloudConnection.objects.for_org(org).order_by("name")
        self.document: dict[str, Any] | None = None
        self.rule: Rule | None = None
        self.rule_errors: list[dict[str, Any]] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        source, fmt = data.get("source"), data.get("format")
        if source is None or fmt is None:
            return data
        try:
            self.document, self.rule = parse_custom_rule(source, fmt)
        except RuleError as exc:
            self.rule_errors = error_list(exc)
            count = len(self.rule_errors)
            self.add_error("source", f"The rule has {count} problem{'s' if count != 1 else ''}: see the list below.")
            return data
        if rule_id_taken(self.org, self.rule.id, exclude_pk=self.instance.pk if self.instance else None):
            self.rule_errors = [
                {"path": "id", "problem": f"another custom rule already has the id “{self.rule.id}”: choose another"}
            ]
            self.add_error("source", f"A custom rule with the id “{self.rule.id}” already exists: change the id.")
        wrong = [c.name for c in data.get("connections") or () if c.provider not in self.rule.providers]
        if wrong:
            self.add_error(
                "connections",
                f"The rule covers {', '.join(self.rule.providers)} resources; "
                f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not.",
            )
        return data


def instance_connections(custom: CustomRule) -> list[CloudConnection]:
    """The connections a custom rule is limited to (empty: all), through its organization's scope."""
    through = CustomRule.connections.through
    ids = through.objects.filter(customrule_id=custom.pk).values_list("cloudconnection_id", flat=True)
    return list(CloudConnection.objects.for_org(custom.org_id).filter(pk__in=list(ids)).order_by("name"))


# --- policies ---------------------------------------------------------------------------------------


def applicable_types(kind: str) -> list[str]:
    """The resource types a policy of ``kind`` can cover."""
    if kind == K.REQUIRED_TAGS:
        return tagged_types()
    if kind == K.ALLOWED_REGIONS:
        return regional_types()
    if kind == K.ALLOWED_SIZES:
        return sorted(SIZE_FIELDS)
    return []


class KindTaggedCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes that say which policy kinds each type applies to (``data-kinds``), so the page's
    script can show only the types of the chosen kind."""

    def __init__(self, *args: Any, kinds_by_type: dict[str, list[str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds_by_type = kinds_by_type or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        option["attrs"]["data-kinds"] = " ".join(self.kinds_by_type.get(str(value), []))
        return option


class PolicyForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="How findings name it, e.g. “Cost allocation tags”.")
    kind = forms.ChoiceField(choices=K.choices, widget=forms.RadioSelect)
    values = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="Separated by commas or new lines: tag keys (e.g. owner, cost-center), regions "
        "(e.g. eu-west-1, westeurope) or sizes (e.g. t3.micro, Standard_B2s).",
    )
    resource_types = forms.MultipleChoiceField(
        required=False,
        label="Resource types",
        help_text="None chosen: every type the policy applies to.",
    )
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.MEDIUM)
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, org, instance: OrgPolicy | None = None, **kwargs: Any) -> None:
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name,
                "kind": instance.kind,
                "values": "\n".join(str(v) for v in instance.values or []),
                "resource_types": list(instance.resource_types or []),
                "severity": instance.severity,
                "enabled": instance.enabled,
            }
        super().__init__(*args, **kwargs)
        self.org = org
        self.instance = instance
        kinds_by_type: dict[str, list[str]] = {}
        for kind in K.values:
            for rtype in applicable_types(kind):
                kinds_by_type.setdefault(rtype, []).append(kind)
        field = self.fields["resource_types"]
        field.choices = [(t, t) for t in sorted(kinds_by_type)]
        field.widget = KindTaggedCheckboxes(kinds_by_type=kinds_by_type, choices=field.choices)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the policy a name.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        allowed = set(applicable_types(kind))
        wrong = [t for t in data.get("resource_types") or [] if t not in allowed]
        if wrong:
            label = K(kind).label.lower()
            self.add_error("resource_types", f"A policy on {label} does not apply to {', '.join(wrong)}.")
        if "values" in data:
            try:
                data["values"] = self._values(kind, data["values"])
            except forms.ValidationError as exc:
                self.add_error("values", exc)
                data.pop("values", None)
        return data

    def _values(self, kind: str, text: str) -> list[str]:
        values = split_values(text)
        if not values:
            raise forms.ValidationError("Enter at least one value.")
        if len(values) > MAX_VALUES:
            raise forms.ValidationError(f"At most {MAX_VALUES} values.")
        if kind == K.REQUIRED_TAGS:
            long = [v for v in values if len(v) > TAG_KEY_MAX]
            if long:
                raise forms.ValidationError(f"Tag keys are at most {TAG_KEY_MAX} characters: {long[0][:40]}…")
            return values
        if kind == K.ALLOWED_REGIONS:
            return self._regions(values)
        bad = [v for v in values if len(v) > SIZE_MAX or not SIZE_RE.match(v)]
        if bad:
            raise forms.ValidationError(
                f"Not an instance or VM size: {', '.join(bad[:3])}. Sizes look like t3.micro or Standard_B2s."
            )
        return values

    def _regions(self, values: list[str]) -> list[str]:
        # ARM names are lower case without spaces; "West Europe" is the same place as "westeurope".
        values = list(dict.fromkeys(v.lower().replace(" ", "") for v in values))
        known = set(aws_regions() | AZURE_REGIONS)
        known.update(Resource.objects.for_org(self.org).exclude(region="").values_list("region", flat=True).distinct())
        # A well-formed AWS code botocore does not know yet is accepted, unless it is a near miss of a
        # known region (a typo such as eu-wset-1).
        problems = [
            f"{v}{_suggest(v, known)}"
            for v in values
            if v not in known and not (AWS_REGION_RE.match(v) and not _suggest(v, known, cutoff=0.85))
        ]
        if problems:
            raise forms.ValidationError(
                f"Unknown region: {', '.join(problems[:3])}. Use AWS region codes (eu-west-1) or Azure "
                "location names (westeurope)."
            )
        return values
