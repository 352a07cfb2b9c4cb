"""Fixtures and helpers for sync-engine tests: a moto account, a verified AWS connection, a fake
cloud whose collectors are registered in place of the real ones (the registry is restored after), and
the fake Azure seeded with its demo tenant (two subscriptions) with a verified Azure connection to it.

A test module takes the fixtures it uses by name::

    from tests.inventory import sync_helpers as helpers

    aws, cloud, connection = helpers.aws, helpers.cloud, helpers.connection
    azure, azure_connection = helpers.azure, helpers.azure_connection   # with the fake_azure fixture
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from connections import credentials
from connections.models import CloudConnection
from demo import azure as demo_azure
from inventory import actions, ratelimit, sync
from inventory.collectors import base
from inventory.collectors.base import Rel, ResourceRecord, collector
from inventory.models import SyncRun
from tests.inventory.collector_helpers import ACCOUNT_ID, moto_account

REGIONS = ["eu-west-1", "us-east-1"]


@pytest.fixture
def aws(monkeypatch):
    """An in-process moto account (MOTO_EC2_LOAD_DEFAULT_AMIS=false, set before the mock starts)."""
    with moto_account(monkeypatch):
        yield


def make_connection(org, name: str = "Prod", regions: list[str] | None = None, **extra) -> CloudConnection:
    fields = {
        "provider": "aws",
        "auth_method": "aws_role",
        "role_arn": f"arn:aws:iam::{ACCOUNT_ID}:role/CloustralReadOnly",
        "external_id": "cloustral-test-external-id-0123456789",
        "aws_account_id": ACCOUNT_ID,
        "enabled_regions": list(regions or REGIONS),
        "status": CloudConnection.Status.VERIFIED,
        **extra,
    }
    return CloudConnection.objects.for_org(org).create(name=name, **fields)


@pytest.fixture
def connection(org, aws):
    return make_connection(org)


def client_error(code: str, operation: str = "Describe") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} (test)"}}, operation)


def arn(kind: str, region: str, name: str) -> str:
    return f"arn:aws:fake:{region}:{ACCOUNT_ID}:{kind}/{name}"


class FakeCloud:
    """Records per (full type, region), served by collectors registered under those types.
    ``fail[(full_type, region)] = exception`` makes that unit raise; ``before[(full_type, region)]``
    runs a callable (in the worker thread) before the unit yields anything."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[ResourceRecord]] = defaultdict(list)
        self.fail: dict[tuple[str, str], BaseException] = {}
        self.before: dict[tuple[str, str], Callable[[], None]] = {}
        self.calls: Counter[tuple[str, str]] = Counter()  # units started
        self.served: Counter[tuple[str, str]] = Counter()  # units that got past their first API call

    def register(
        self, resource_type: str, *, regional: bool = True, service: str = "ec2", volatile: tuple[str, ...] = ()
    ) -> str:
        full_type = f"aws.{resource_type}"

        def fake_collector(ctx):
            key = (full_type, ctx.region)
            self.calls[key] += 1
            if key in self.before:
                self.before[key]()
            if key in self.fail:
                raise self.fail[key]
            ctx.limiter.acquire(service, ctx.api_region)  # as every API call: paced; stops a cancelled run
            self.served[key] += 1
            for record in self.records.get(key, []):
                yield copy.deepcopy(record)

        fake_collector.__name__ = f"fake_{resource_type.replace('.', '_')}"
        collector("aws", resource_type, service=service, regional=regional, volatile=volatile)(fake_collector)
        return full_type

    def add(
        self,
        full_type: str,
        region: str,
        name: str,
        *,
        config: dict | None = None,
        tags: dict | None = None,
        relations: list[Rel] | None = None,
        record_region: str = "",
        native_id: str = "",
    ) -> ResourceRecord:
        record = ResourceRecord(
            native_id=native_id or arn(full_type.rsplit(".", 1)[-1], record_region or region, name),
            name=name,
            config=config if config is not None else {"size": 1},
            tags=tags or {},
            relations=relations or [],
            region=record_region,
        )
        self.records[(full_type, region)].append(record)
        return record

    def remove(self, full_type: str, region: str, name: str) -> None:
        self.records[(full_type, region)] = [r for r in self.records[(full_type, region)] if r.name != name]

    def find(self, full_type: str, region: str, name: str) -> ResourceRecord:
        return next(r for r in self.records[(full_type, region)] if r.name == name)


@pytest.fixture
def eager_celery():
    """Tasks run in-process even when REDIS_URL points Celery at a broker (CI)."""
    from cloustral.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


VPC, INSTANCE, USER = "aws.fake.vpc", "aws.fake.instance", "aws.fake.user"


@pytest.fixture
def cloud(monkeypatch, aws) -> FakeCloud:
    """A fake cloud with three collectors (two regional, one global) replacing the real registry."""
    monkeypatch.setattr(base, "_REGISTRY", {})
    fake = FakeCloud()
    fake.register("fake.vpc")
    fake.register("fake.instance")
    fake.register("fake.user", regional=False, service="iam")
    return fake


def populate(cloud: FakeCloud, per_region: int = 3) -> None:
    """VPCs and instances in each region (instances in a VPC), and two global users."""
    for region in REGIONS:
        for i in range(per_region):
            vpc = cloud.add(VPC, region, f"vpc-{i}", config={"cidr": f"10.{i}.0.0/16", "flow_logs": False})
            cloud.add(
                INSTANCE,
                region,
                f"i-{i}",
                config={"type": "t3.micro", "state": "running", "nested": {"a": 1, "b": [1, 2]}},
                tags={"Name": f"i-{i}", "env": "prod"},
                relations=[Rel("in_vpc", vpc.native_id)],
            )
    for name in ("alice", "bob"):
        cloud.add(USER, "global", name, config={"mfa": True})


def sync_now(connection: CloudConnection, **kwargs) -> SyncRun:
    """Queue a run (no task) and execute it in this process, as the task would."""
    run, started = actions.do_start_sync(connection, enqueue=False, **kwargs)
    assert started
    return sync.run_sync(run.pk)


# --- Azure ------------------------------------------------------------------------------------------

AZURE_TENANT, AZURE_CLIENT = demo_azure.DEMO_TENANT_ID, demo_azure.DEMO_CLIENT_ID
AZURE_SECRET = demo_azure.DEMO_CLIENT_SECRET
PROD_SUB, PROD_NAME = demo_azure.DEMO_SUBSCRIPTIONS["prod"]
DEV_SUB, DEV_NAME = demo_azure.DEMO_SUBSCRIPTIONS["dev"]


@pytest.fixture
def azure(fake_azure, monkeypatch):
    """The fake Azure with its demo tenant: one app, subscriptions "prod" and "dev", the same web tier in
    each (tests/fakes/azure_arm.py: add_demo_estate). Rate-limit buckets are fresh for each test."""
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})
    demo_azure.seed_demo(fake_azure)
    return fake_azure


def make_azure_connection(
    org, name: str = "Contoso", subscriptions: list[tuple[str, str]] | None = None, **extra
) -> CloudConnection:
    """A verified service-principal connection to the fake's demo tenant (both subscriptions by default)."""
    listed = subscriptions if subscriptions is not None else [(PROD_SUB, PROD_NAME), (DEV_SUB, DEV_NAME)]
    connection = CloudConnection(
        org=org,
        name=name,
        provider=CloudConnection.Provider.AZURE,
        auth_method=CloudConnection.AuthMethod.AZURE_SP,
        azure_cloud="public",
        tenant_id=AZURE_TENANT,
        client_id=AZURE_CLIENT,
        subscriptions=[{"id": sid, "name": label, "state": "Enabled"} for sid, label in listed],
        status=CloudConnection.Status.VERIFIED,
        **extra,
    )
    credentials.store_secret(connection, {"client_secret": AZURE_SECRET})
    connection.save()
    return connection


@pytest.fixture
def azure_connection(org, azure):
    return make_azure_connection(org)
