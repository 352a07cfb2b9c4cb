"""Privacy tests: exports go to a temporary directory; Celery runs in-process; ``estate(org)`` fills an
organization with one of everything (credentials, inventory, findings, history)."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    CloudConnectionFactory,
    FindingFactory,
    RelationshipFactory,
    ResourceFactory,
    synced,
)

# The fake credentials of CloudConnectionFactory: they must never leave the database.
SECRETS = ("AKIAIOSFODNN7EXAMPLE", "s" * 40, "fake-azure-secret-EXAMPLE")


@pytest.fixture(autouse=True)
def _privacy_settings(settings, tmp_path):
    from cloustral.celery import app

    settings.EXPORT_DIR = tmp_path / "exports"
    settings.SUPPORT_EMAIL = "support@cloustral.test"
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def sudo(monkeypatch):
    """Every request counts as freshly re-authenticated (the prompt itself is tested in accounts)."""
    monkeypatch.setattr("accounts.sudo.is_fresh", lambda request: True)


@contextlib.contextmanager
def clock_at(moment):
    """``time.time()`` (what Django's signing reads) at ``moment`` for the duration of the block."""
    real = time.time
    offset = moment.timestamp() - real()
    time.time = lambda: real() + offset
    try:
        yield
    finally:
        time.time = real


def estate(org, *, user=None):
    """Credentials, inventory, relationships, findings, rules, policies, baselines, scan and change
    history, daily counts and an audit event: one or more rows of every kind an organization owns."""
    from accounts import audit
    from findings.models import Baseline, CustomRule, DailyFindingCount, FindingEvent, OrgPolicy, RuleStatus
    from inventory.models import DailyCount, ResourceChange

    aws = CloudConnectionFactory(org=org, name="Production", created_by=user)
    azure = CloudConnectionFactory(org=org, name="Azure", provider="azure", auth_method="azure_sp")
    run = synced(aws, {"aws.ec2.instance": ["eu-west-1"]})
    web = ResourceFactory(connection=aws, name="web-1", tags={"owner": "team-a"}, config={"public_ip": "203.0.113.10"})
    volume = ResourceFactory(connection=aws, resource_type="aws.ec2.volume", name="data-1")
    RelationshipFactory(source=volume, target=web, kind="attached_to")
    finding = FindingFactory(resource=web, suppressed_by=user)
    FindingEvent.objects.create(org=org, finding=finding, kind="opened", actor=user)
    ResourceChange.objects.create(
        org=org, connection=aws, sync_run=run, resource=web, resource_type=web.resource_type,
        native_id=web.native_id, name=web.name, kind="modified", diff={"config.x": {"old": 1, "new": 2}},
    )  # fmt: skip
    DailyCount.objects.create(org=org, connection=aws, date=timezone.now().date(), resource_type="aws.ec2.instance")
    DailyFindingCount.objects.create(
        org=org, connection=aws, date=timezone.now().date(), severity="high", category="security", count=1
    )
    RuleStatus.objects.create(org=org, connection=aws, rule_id=finding.rule_id, verdict="fail", checked=1, matched=1)
    rule = CustomRule.objects.create(
        org=org, rule_id="custom.sample", source="id: sample", title="Sample", severity="low", category="hygiene",
        document={"id": "sample"}, created_by=user,
    )  # fmt: skip
    rule.connections.add(aws)
    OrgPolicy.objects.create(org=org, name="Owner tag", kind="required_tags", values=["owner"], created_by=user)
    Baseline.objects.create(org=org, connection=aws, resource=web, approved={"config": {}}, approved_by=user)
    audit.record("connection_created", actor=user, org=org, target=aws.name)
    return {"aws": aws, "azure": azure, "run": run, "web": web, "finding": finding, "rule": rule}


def days(n: int, hours: int = 0) -> timedelta:
    return timedelta(days=n, hours=hours)
