"""Schemathesis against the live OpenAPI schema (/api/v1/schema/, served by the app itself through WSGI):
every operation, a bounded number of generated requests each (deterministic seed), must never answer a
500 and never answer anything the schema does not describe (status, content type, headers, body).

The organization has real objects (a connection, a scan, resources, findings, a custom rule) and the
generated ids are swapped for theirs every other time, so both the 404s and the real documents are
exercised. Kept under a minute or two: ``max_examples`` per operation."""

from __future__ import annotations

import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from api.actions import do_create_api_key
from findings.models import CustomRule
from tests.factories import CloudConnectionFactory, FindingFactory, RelationshipFactory, ResourceFactory, SyncRunFactory

MAX_EXAMPLES = 25
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def keep_connection():
    """The app runs in-process through WSGI, inside the test's transaction: like Django's test client,
    keep the request signals from closing the database connection after each request (PostgreSQL)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_world(db, keep_connection, org, owner, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    conn = CloudConnectionFactory(org=org, name="Prod")
    web = ResourceFactory(connection=conn, name="web-1", tags={"env": "prod"}, config={"state": "running"})
    vol = ResourceFactory(connection=conn, resource_type="aws.ec2.volume", config={"encrypted": False})
    RelationshipFactory(source=vol, target=web, kind="attached_to")
    run = SyncRunFactory(connection=conn, warnings=[{"type": "aws.s3.bucket", "region": "global", "code": "denied"}])
    finding = FindingFactory(resource=web)
    FindingFactory(resource=vol, rule_id="aws-ec2-volume-unencrypted", severity="medium")
    custom = CustomRule.objects.create(
        org=org,
        rule_id="custom-sample",
        source="id: sample",
        document={"id": "sample"},
        title="Sample",
        severity="low",
        category="hygiene",
    )
    _, token = do_create_api_key(org, user=owner, kind="personal", name="schemathesis", scope="read_write")
    return {
        "token": token,
        "ids": {
            "connection_id": conn.pk,
            "resource_id": web.pk,
            "run_id": run.pk,
            "finding_id": finding.pk,
            "custom_rule_id": custom.pk,
            "rule_id": "aws-ec2-instance-public-ip",
            "framework": "cis-aws-1.5",
        },
    }


def _live_schema():
    """The schema as the running app serves it at /api/v1/schema/ (no database needed: it is public)."""
    from cloustral.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


schema = _live_schema()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_fails_and_matches_its_schema(case, api_world):
    for name, real in api_world["ids"].items():
        generated = case.path_parameters.get(name) if case.path_parameters else None
        # Every other generated value is swapped for a real object's id: 404s and real documents alike.
        if generated is not None and zlib.crc32(str(generated).encode()) % 2 == 0:
            case.path_parameters[name] = real
    case.call_and_validate(headers={"Authorization": f"Bearer {api_world['token']}"}, checks=CHECKS)
