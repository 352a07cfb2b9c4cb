"""``manage.py seed_demo`` with the fake Azure that scripts/demo starts (``python -m tests.fakes.azure_arm
--seed-demo``, whose principal it passes in DEMO_AZURE_*): the "Demo Azure" connection is created, tested
and scanned next to "Demo AWS", idempotently; without the fake (or against a non-local endpoint) nothing
Azure is set up, and a failure is reported while the demo still starts."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from connections.models import CloudConnection
from demo import aws as demo
from demo import azure as azure_estate
from inventory import ratelimit
from inventory.models import Relationship, SyncRun
from orgs.models import Organization

S = SyncRun.Status


@pytest.fixture
def demo_azure(db, fake_azure, monkeypatch):
    """The fake seeded as scripts/demo seeds it, and the environment scripts/demo exports."""
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # no moto here: the AWS part is tested elsewhere
    printed = azure_estate.seed_demo(fake_azure)
    for key in ("tenant_id", "client_id", "client_secret", "subscriptions"):
        monkeypatch.setenv(f"DEMO_AZURE_{key.upper()}", printed[key])
    return fake_azure


def seed() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_seed_demo_connects_and_scans_the_fake_azure(demo_azure):
    out, err = seed()
    assert "Demo ready." in out
    assert "Simulated Azure tenant with 2 subscriptions; scan of “Demo Azure”: succeeded, 51 resources" in err

    org = Organization.objects.get(slug="demo-org")
    connection = CloudConnection.objects.for_org(org).get(name=demo.AZURE_CONNECTION_NAME)
    assert (connection.provider, connection.auth_method, connection.status) == ("azure", "azure_sp", "verified")
    assert [s["name"] for s in connection.subscriptions] == ["Contoso Production", "Contoso Dev"]
    run = SyncRun.objects.for_org(org).get(connection=connection)
    assert run.status == S.SUCCEEDED and run.resource_count == 51
    kinds = set(Relationship.objects.for_org(org).filter(connection=connection).values_list("kind", flat=True))
    assert {"attached_to", "in_subnet", "in_vnet", "uses_nsg", "uses_public_ip", "in_resource_group"} <= kinds

    # Again (scripts/demo runs it at every start): the same connection, scanned again, nothing new.
    _, err = seed()
    assert "(+0 ~0 -0)" in err
    assert CloudConnection.objects.for_org(org).filter(name=demo.AZURE_CONNECTION_NAME).count() == 1
    latest = SyncRun.objects.for_org(org).filter(connection=connection).order_by("-id").first()
    assert latest.pk != run.pk and latest.status == S.SUCCEEDED and latest.created_count == 0


def test_seed_demo_sets_up_no_azure_without_a_local_fake(demo_azure, monkeypatch, settings):
    settings.AZURE_ARM_ENDPOINT = "https://management.azure.com"  # never the real Azure
    demo_azure.requests.clear()
    _, err = seed()
    assert "Azure" not in err and demo_azure.requests == []

    settings.AZURE_ARM_ENDPOINT = demo_azure.arm_url
    monkeypatch.delenv("DEMO_AZURE_TENANT_ID")  # scripts/demo did not start the fake
    seed()
    assert not CloudConnection.objects.unscoped().filter(provider="azure").exists()


def test_a_failing_demo_azure_is_reported_and_the_demo_still_starts(demo_azure, monkeypatch):
    monkeypatch.setenv("DEMO_AZURE_CLIENT_SECRET", "not-the-demo-secret")
    out, err = seed()
    assert "Demo ready." in out
    assert "Could not set up the simulated Azure tenant: ConnectionCheckError" in err
    assert "rejected the client secret" in err and "not-the-demo-secret" not in err
    assert not SyncRun.objects.unscoped().exists()
