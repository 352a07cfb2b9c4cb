"""The built-in rules read the keys the collectors really write: the demo account is synced from moto
with the real collectors, and every configuration key a rule reads must exist on the records of its
type (a typo in either would silently make a rule never match). Then the demo is evaluated end to end."""

from __future__ import annotations

import pytest

from demo import aws as demo
from findings import lifecycle
from findings.models import Finding, RuleStatus
from findings.rules.catalog import builtin_catalog
from inventory import ratelimit
from inventory.models import Resource
from tests.connections.conftest import _fake_azure_server, fake_azure  # noqa: F401
from tests.inventory import sync_helpers as helpers

aws = helpers.aws
azure = helpers.azure


@pytest.fixture(autouse=True)
def _full_speed(settings, monkeypatch):
    settings.SYNC_RATE_FRACTION = 1.0
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})


@pytest.fixture
def demo_connection(org, owner, aws):
    assert demo.seed_aws_account(allow_real_endpoint=True)
    connection = demo.ensure_demo_connection(org, owner)
    run = demo.sync_demo_connection(connection)
    assert run.status == "succeeded", run.warnings
    return connection


def _config_key(path: str) -> str | None:
    """The top-level configuration key of a rule path ("config.acl.public_acl" → "acl")."""
    if not path.startswith("config."):
        return None
    return path.split(".")[1].split("[")[0]


def _missing_keys(org, provider: str) -> list[str]:
    keys: dict[str, set[str]] = {}
    for rtype, config in Resource.objects.for_org(org).values_list("resource_type", "config"):
        keys.setdefault(rtype, set()).update(config or {})
    missing = []
    for rule in builtin_catalog().for_provider(provider):
        for rtype, path in sorted(rule.fields_read):
            key = _config_key(path)
            if key is None or rtype not in keys:
                continue  # a record-level path, or a type the demo does not create
            if key not in keys[rtype]:
                missing.append(f"{rule.id}: {rtype} {path}")
    return missing


def test_rules_read_keys_the_collectors_write(org, demo_connection):
    missing = _missing_keys(org, "aws")
    assert not missing, "rules read keys no collector writes:\n" + "\n".join(missing)


def test_azure_rules_read_keys_the_collectors_write_and_evaluate(org, azure):
    connection = helpers.make_azure_connection(org)
    run = helpers.sync_now(connection)
    assert run.status == "succeeded", run.warnings
    missing = _missing_keys(org, "azure")
    assert not missing, "rules read keys no collector writes:\n" + "\n".join(missing)
    # Coverage is per subscription: the engine must see Azure scopes as evaluated, not "not evaluated".
    verdicts = dict(RuleStatus.objects.for_org(org).filter(connection=connection).values_list("rule_id", "verdict"))
    assert "fail" in verdicts.values() and "pass" in verdicts.values(), verdicts
    assert Finding.objects.for_org(org).filter(connection=connection, status="open").exists()


def test_the_demo_account_is_evaluated(org, demo_connection):
    # The sync hook already evaluated it; evaluating again changes nothing.
    assert Finding.objects.for_org(org).filter(status="open").exists()
    summary = lifecycle.evaluate_connection(demo_connection)
    assert summary.opened == summary.resolved == 0
    verdicts = set(RuleStatus.objects.for_org(org).values_list("verdict", flat=True))
    assert {"pass", "fail"} <= verdicts
