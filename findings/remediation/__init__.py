"""Remediation beyond prose: the AWS CLI / Azure CLI command or Terraform snippet that fixes a finding,
with the resource's ids filled in. The snippets are data (``aws.yaml``, ``azure.yaml`` beside this file),
keyed by rule id like the catalog itself; only fixes that are safe to run as shown are listed (nothing
that deletes data without a backup step the person controls).

Placeholders are ``{{name}}``: ``id`` (the last part of the native id: ``i-0abc…``, a bucket name),
``arn`` / ``native_id``, ``name``, ``region``, ``account`` (AWS), ``resource_group`` and ``subscription``
(Azure). Values are shell-quoted in CLI snippets and escaped in Terraform strings.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
KINDS = {"aws_cli": "AWS CLI", "azure_cli": "Azure CLI", "terraform": "Terraform"}
LANGUAGES = {"aws_cli": "shell", "azure_cli": "shell", "terraform": "hcl"}
KNOWN = {"id", "arn", "native_id", "name", "region", "account", "resource_group", "subscription"}


@dataclass(frozen=True)
class Snippet:
    kind: str  # aws_cli | azure_cli | terraform
    text: str

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    @property
    def language(self) -> str:
        return LANGUAGES[self.kind]


@cache
def catalog() -> dict[str, dict[str, str]]:
    """{rule id: {kind: template}} from every data file; a malformed file fails loudly (tests load it)."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted(HERE.glob("*.yaml")):
        for rule_id, entry in (yaml.safe_load(path.read_text()) or {}).items():
            unknown = set(entry) - set(KINDS)
            if unknown:
                raise ValueError(f"{path.name}: {rule_id}: unknown snippet kind {sorted(unknown)}")
            for kind, template in entry.items():
                names = set(PLACEHOLDER.findall(template)) - KNOWN
                if names:
                    raise ValueError(f"{path.name}: {rule_id}.{kind}: unknown placeholder {sorted(names)}")
            out[rule_id] = dict(entry)
    return out


def values_for(native_id: str, name: str, region: str) -> dict[str, str]:
    """The placeholders' values for one resource, from its identity alone (no config needed)."""
    values = {"native_id": native_id, "arn": native_id, "name": name or "", "region": region or ""}
    if native_id.startswith("/subscriptions/"):
        parts = native_id.strip("/").split("/")
        lower = [p.lower() for p in parts]
        values["subscription"] = parts[1] if len(parts) > 1 else ""
        if "resourcegroups" in lower:
            values["resource_group"] = parts[lower.index("resourcegroups") + 1]
        values["id"] = values["name"] = parts[-1]  # the CLI names a resource by its ARM name
    else:
        arn = native_id.split(":", 5)
        values["account"] = arn[4] if len(arn) > 4 else ""
        tail = arn[5] if len(arn) > 5 else native_id
        values["id"] = tail.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if tail else native_id
        values["region"] = values["region"] if values["region"] not in ("", "global") else "us-east-1"
    return values


def _fill(kind: str, template: str, values: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        value = values.get(match.group(1), "")
        if kind == "terraform":
            return value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${")
        return shlex.quote(value)

    return PLACEHOLDER.sub(one, template).strip()


def snippets_for(finding) -> list[Snippet]:
    """The snippets of the finding's rule, filled in with its resource's ids ([] when the rule has none)."""
    entry = catalog().get(finding.rule_id)
    if not entry:
        return []
    values = values_for(finding.native_id, finding.resource_name, finding.region)
    return [Snippet(kind, _fill(kind, template, values)) for kind, template in entry.items()]
