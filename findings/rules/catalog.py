"""The built-in catalog: rule files in ``findings/rules/<provider>/*.yaml`` and the field schema.

Built-in rules are held to more than the language requires: a description, remediation steps,
references, inline examples that match and that do not, ids prefixed with their provider, known
compliance frameworks, and paths that exist in ``fields.yaml``.

    python -m findings.rules.catalog --check             # compile every rule, run every example
    python -m findings.rules.catalog --list              # one line per rule
    python -m findings.rules.catalog --fields            # per type: the config keys the rules read
    python -m findings.rules.catalog --write-docs        # regenerate docs/rules.md's field tables
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from findings.rules.language import (
    FRAMEWORKS,
    MAX_FILE_BYTES,
    PROVIDERS,
    FieldSchema,
    Rule,
    RuleError,
    Spec,
    compile_many,
    load_documents,
    load_yaml,
)

RULES_DIR = Path(__file__).resolve().parent
FIELDS_FILE = RULES_DIR / "fields.yaml"
DOCS_FILE = RULES_DIR.parent.parent / "docs" / "rules.md"
DOCS_BEGIN = (
    "<!-- fields:begin (generated from findings/rules/fields.yaml: python -m findings.rules.catalog --write-docs) -->"
)
DOCS_END = "<!-- fields:end -->"


@lru_cache(maxsize=1)
def load_schema() -> FieldSchema:
    """The normalized configuration keys per resource type (``fields.yaml``)."""
    text = FIELDS_FILE.read_text(encoding="utf-8")
    return FieldSchema.from_document(load_yaml(text, source="fields.yaml", max_bytes=MAX_FILE_BYTES))


class Catalog:
    """An ordered, id-indexed set of compiled rules."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.by_id: dict[str, Rule] = {r.id: r for r in self.rules}

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self.by_id

    def get(self, rule_id: str) -> Rule | None:
        return self.by_id.get(rule_id)

    def for_provider(self, provider: str) -> list[Rule]:
        return [r for r in self.rules if provider in r.providers]

    def for_type(self, resource_type: str) -> list[Rule]:
        return [r for r in self.rules if resource_type in r.resource_types]

    def controls(self, framework: str) -> dict[str, list[str]]:
        """control id → rule ids, for the compliance view."""
        out: dict[str, list[str]] = {}
        for rule in self.rules:
            for control in rule.compliance.get(framework, ()):
                out.setdefault(control, []).append(rule.id)
        return dict(sorted(out.items(), key=lambda kv: _control_key(kv[0])))

    def fields_read(self) -> dict[str, list[str]]:
        """resource type → the paths its rules read (for reconciling with the collectors)."""
        out: dict[str, set[str]] = {}
        for rule in self.rules:
            for rtype, path in rule.fields_read:
                out.setdefault(rtype, set()).add(path)
        return {t: sorted(p) for t, p in sorted(out.items())}


def _control_key(control: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in control.split("."))


def _strict_problems(rule: Rule, provider: str) -> list[tuple[str, str]]:
    """What a built-in rule must have beyond what the language requires."""
    problems: list[tuple[str, str]] = []
    if not rule.id.startswith(f"{provider}-"):
        problems.append(("id", f"built-in {provider} rule ids start with '{provider}-'"))
    for i, t in enumerate(rule.resource_types):
        if not t.startswith(f"{provider}."):
            problems.append((f"resource_types[{i}]", f"a rule in rules/{provider}/ covers {provider} types only"))
    if not rule.description:
        problems.append(("description", "built-in rules have a description"))
    if not rule.remediation:
        problems.append(("remediation", "built-in rules have remediation steps"))
    if not rule.references:
        problems.append(("references", "built-in rules have at least one reference"))
    for fw in rule.compliance:
        if fw not in FRAMEWORKS:
            problems.append((f"compliance.{fw}", f"unknown framework (known: {', '.join(FRAMEWORKS)})"))
    for key in ("match", "no_match"):
        if not rule.examples.get(key):
            problems.append((f"tests.{key}", "built-in rules have inline examples that match and that do not"))
    return problems


def rule_files(directory: Path = RULES_DIR) -> list[tuple[str, Path]]:
    """(provider, file) for every rule file, in a stable order."""
    out = []
    for provider in PROVIDERS:
        for path in sorted((directory / provider).glob("*.yaml")):
            out.append((provider, path))
    return out


def load_catalog(directory: Path = RULES_DIR, *, schema: FieldSchema | None = None) -> Catalog:
    """Compile every built-in rule file; raise one ``RuleError`` listing every problem found."""
    schema = schema or load_schema()
    rules: list[Rule] = []
    errors: list[RuleError] = []
    seen: dict[str, str] = {}
    for provider, path in rule_files(directory):
        source = f"{provider}/{path.name}"
        try:
            # A file holds many rules: the file cap, not one custom rule's; anchors and depth as for any rule.
            docs = load_documents(path.read_text(encoding="utf-8"), source=source, max_bytes=MAX_FILE_BYTES)
        except RuleError as exc:
            errors.append(exc)
            continue
        compiled, failed = compile_many(docs, schema=schema, source=source)
        for exc in failed:
            errors.extend(exc.errors)
        for rule in compiled:
            for where, problem in _strict_problems(rule, provider):
                errors.append(RuleError(problem, rule_id=rule.id, path=where, source=rule.source))
            if rule.id in seen:
                errors.append(
                    RuleError(
                        f"duplicate rule id (also in {seen[rule.id]})", rule_id=rule.id, path="id", source=rule.source
                    )
                )
                continue
            seen[rule.id] = rule.source or source
            rules.append(rule)
    if errors:
        first = errors[0]
        raise RuleError(first.problem, rule_id=first.rule_id, path=first.path, source=first.source, errors=errors)
    return Catalog(rules)


@lru_cache(maxsize=1)
def builtin_catalog() -> Catalog:
    """The built-in catalog, compiled once per process."""
    return load_catalog()


# --- Documentation --------------------------------------------------------------------------------


def _kind(spec: Spec) -> str:
    if spec.kind == "list":
        item = spec.item
        return f"list of {'objects' if item and item.kind == 'object' else (item.kind if item else 'any')}"
    return spec.kind


def _rows(spec: Spec, prefix: str) -> Iterator[tuple[str, str, str]]:
    for key, sub in (spec.fields or {}).items():
        path = f"{prefix}{key}"
        yield path, _kind(sub), sub.doc
        if sub.kind == "object":
            yield from _rows(sub, f"{path}.")
        elif sub.kind == "list" and sub.item is not None and sub.item.kind == "object":
            yield from _rows(sub.item, f"{path}[].")


def fields_markdown(schema: FieldSchema | None = None) -> str:
    """docs/rules.md's tables of normalized keys, generated from fields.yaml."""
    schema = schema or load_schema()
    lines = [
        "Relationship kinds: " + ", ".join(f"`{k}`" for k in sorted(schema.relationship_kinds)) + ".",
        "",
    ]
    for rtype, spec in schema.types.items():
        lines += [f"#### `{rtype}`", "", "| key (under `config.`) | type | notes |", "|---|---|---|"]
        for path, kind, doc in _rows(spec, ""):
            lines.append(f"| `{path}` | {kind} | {doc.replace('|', '\\|')} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def docs_fields_section(text: str) -> str | None:
    """The generated part of docs/rules.md, or None when the markers are missing."""
    if DOCS_BEGIN not in text or DOCS_END not in text:
        return None
    return text.split(DOCS_BEGIN, 1)[1].split(DOCS_END, 1)[0].strip("\n") + "\n"


def write_docs(path: Path = DOCS_FILE) -> None:
    text = path.read_text(encoding="utf-8")
    if docs_fields_section(text) is None:
        raise SystemExit(f"{path}: the markers {DOCS_BEGIN!r} / {DOCS_END!r} are missing")
    head, rest = text.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    path.write_text(f"{head}{DOCS_BEGIN}\n{fields_markdown()}{DOCS_END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from findings.rules.evaluate import run_examples

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compile every rule and run its examples")
    parser.add_argument("--list", action="store_true", help="list the rules")
    parser.add_argument("--fields", action="store_true", help="per resource type, the paths the rules read")
    parser.add_argument("--fields-markdown", action="store_true", help="print the generated field tables")
    parser.add_argument("--write-docs", action="store_true", help="regenerate the field tables in docs/rules.md")
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog()
    except RuleError as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        return 1
    if args.list:
        for r in catalog:
            fws = " ".join(f"{fw}:{','.join(c)}" for fw, c in r.compliance.items())
            print(f"{r.id:55} {r.severity:8} {r.category:8} {','.join(r.resource_types):32} {fws}")
    if args.fields:
        for rtype, paths in catalog.fields_read().items():
            print(rtype)
            for p in paths:
                print(f"    {p}")
    if args.fields_markdown:
        print(fields_markdown(), end="")
    if args.write_docs:
        write_docs()
    failures = [f for rule in catalog for f in run_examples(rule)]
    for f in failures:
        print(f, file=sys.stderr)
    counts = {p: len(catalog.for_provider(p)) for p in PROVIDERS}
    if args.check or not any(vars(args).values()):
        per_provider = ", ".join(f"{p}: {n}" for p, n in counts.items())
        print(f"{len(catalog)} rules ({per_provider}); example failures: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
