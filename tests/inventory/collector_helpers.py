"""Shared helpers for collector tests: a moto account, an AwsContext on it, running one registered
collector, and botocore Stubbers for the pages and error codes moto does not produce.

Usage::

    @pytest.fixture
    def aws(monkeypatch):
        with moto_account(monkeypatch):
            yield make_context("eu-west-1")
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import boto3
from botocore.stub import Stubber

from inventory.collectors.aws.context import AwsContext
from inventory.collectors.base import ResourceRecord, get_collector

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "eu-west-1"


def fake_aws_env(monkeypatch) -> None:
    """Fake credentials, no real endpoint, and no moto default AMIs (they flood an inventory). Must run
    before mock_aws() starts."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIATESTEXAMPLE00000",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def moto_account(monkeypatch) -> Iterator[None]:
    from moto import mock_aws

    fake_aws_env(monkeypatch)
    with mock_aws():
        yield


def make_context(region: str = REGION, account_id: str = ACCOUNT_ID) -> AwsContext:
    return AwsContext(boto3.Session(), account_id, region)


def collect(ctx: AwsContext, full_type: str) -> list[ResourceRecord]:
    """Run the registered collector of ``full_type`` (e.g. "aws.ec2.vpc"); its module must be imported."""
    records = list(get_collector(full_type).func(ctx))
    assert len({r.native_id for r in records}) == len(records), "native ids must be unique"
    return records


def by_id(records: list[ResourceRecord], config_key: str) -> dict[str, ResourceRecord]:
    """Records keyed by one of their config fields, e.g. by_id(records, "instance_id")."""
    return {r.config[config_key]: r for r in records}


def rels(record: ResourceRecord, kind: str) -> set[str]:
    return {rel.target_native_id for rel in record.relations if rel.kind == kind}


def rel_kinds(record: ResourceRecord) -> set[str]:
    return {rel.kind for rel in record.relations}


@contextlib.contextmanager
def stubbed(ctx: AwsContext, service: str) -> Iterator[Stubber]:
    """Answer ``service``'s calls in ``ctx`` from a Stubber queue (pages, error codes); asserts that
    every queued answer was consumed."""
    stubber = Stubber(ctx.client(service))
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def fail_operation(
    ctx: AwsContext, service: str, operation_name: str, code: str = "AccessDenied", status: int = 403
) -> None:
    """Make ``ctx``'s ``service`` client answer one operation (its API name, e.g. "GetBucketEncryption")
    with an AWS error, as IAM or an SCP would; every other call still reaches moto."""
    from botocore.awsrequest import AWSResponse

    def answer(**_kwargs):
        parsed = {
            "Error": {"Code": code, "Message": f"User is not authorized to perform: {operation_name}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse("https://example.invalid", status, {}, None), parsed

    ctx.client(service).meta.events.register(f"before-call.*.{operation_name}", answer)


def no_detail_threads(ctx: AwsContext) -> AwsContext:
    """Per-resource reads one after another, in order: what a Stubber queue needs."""
    ctx.detail_concurrency = 1  # type: ignore[attr-defined]
    return ctx


def judge(rule_id: str, collected: dict[str, list[ResourceRecord]], region: str = REGION) -> set[str]:
    """The native ids a built-in rule matches among collected records ({full type: records}, as
    ``collect`` returns them), relationships resolved by native id as the sync engine does: the
    collectors' output, judged end to end by the catalog."""
    import json

    from findings.rules.catalog import builtin_catalog
    from findings.rules.evaluate import ResourceIndex, evaluate

    rows, ids = [], {}
    for full_type, records in collected.items():
        for record in records:
            ids[record.native_id] = len(ids) + 1
            rows.append(
                {
                    "id": ids[record.native_id],
                    "connection_id": 1,
                    "provider": full_type.split(".", 1)[0],
                    "resource_type": full_type,
                    "native_id": record.native_id,
                    "region": record.region or region,
                    "name": record.name,
                    "tags": record.tags,
                    "config": json.loads(json.dumps(record.config, default=str)),
                }
            )
    relationships = [
        (ids[record.native_id], ids[rel.target_native_id], rel.kind)
        for records in collected.values()
        for record in records
        for rel in record.relations
        if rel.target_native_id in ids
    ]
    rule = builtin_catalog().get(rule_id)
    assert rule is not None, rule_id
    result = evaluate([rule], ResourceIndex(rows, relationships)).results[rule_id]
    assert not result.errors, result.error_samples
    by_id = {number: native_id for native_id, number in ids.items()}
    return {by_id[number] for number in result.matched}
