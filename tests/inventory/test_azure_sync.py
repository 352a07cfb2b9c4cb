"""Azure inventory through the sync engine: the real SDK clients and ClientSecretCredential against the fake
Entra ID + Resource Manager (tests/fakes/azure_arm.py), with the demo tenant's two subscriptions.

What holds for AWS holds here: a full sync writes resources and relationships with coverage per
(type, subscription); ids are stable and changes recorded; throttling is waited out; a denied provider or
subscription is a warning and keeps its previous records while the rest is replaced; a bad secret fails
the run before anything is read; one sync per connection, cancel, schedules and "Scan now" work."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseTimeoutError,
)
from django.core.cache import cache
from django.urls import reverse

from connections.models import CloudConnection
from inventory import actions, coverage, ratelimit, sync, tasks
from inventory.collectors import base
from inventory.collectors.base import collectors_for
from inventory.models import DailyCount, Relationship, Resource, ResourceChange, SyncRun
from inventory.ratelimit import AZURE_QUOTAS, Quota, RateLimiter
from tests.fakes import azure_arm
from tests.fakes.azure_arm import arm_error
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import (
    AZURE_CLIENT,
    AZURE_SECRET,
    AZURE_TENANT,
    DEV_SUB,
    PROD_SUB,
    make_azure_connection,
    sync_now,
)

# Fixtures (tests/inventory/sync_helpers.py)
azure, azure_connection, eager_celery = helpers.azure, helpers.azure_connection, helpers.eager_celery

S = SyncRun.Status
PROD, DEV = f"/subscriptions/{PROD_SUB}", f"/subscriptions/{DEV_SUB}"
AZURE_TYPES = [c.full_type for c in collectors_for("azure")]
COMPUTE = ["azure.compute.disk", "azure.compute.snapshot", "azure.compute.vm"]
PER_SUBSCRIPTION = {  # the demo estate of each subscription
    "azure.compute.disk": 2,
    "azure.compute.vm": 1,
    "azure.network.load_balancer": 1,
    "azure.network.network_interface": 1,
    "azure.network.nsg": 1,
    "azure.network.public_ip": 2,
    "azure.network.subnet": 1,
    "azure.network.vnet": 1,
    "azure.resource.resource_group": 1,
    "azure.storage.account": 1,
}
# The platform and governance records of each subscription (demo/azure.py: add_demo_platform,
# add_demo_governance): production has most of them, dev a few.
PLATFORM = {
    PROD: {
        "azure.aks.cluster": 1,
        "azure.appservice.function_app": 1,
        "azure.appservice.plan": 1,
        "azure.appservice.web_app": 1,
        "azure.authorization.role_assignment": 3,
        "azure.authorization.role_definition": 1,
        "azure.containerregistry.registry": 1,
        "azure.cosmosdb.account": 1,
        "azure.monitor.diagnostic_setting": 2,
        "azure.monitor.log_analytics_workspace": 1,
        "azure.network.application_gateway": 1,
        "azure.resource.resource_group": 1,
        "azure.resource.subscription": 1,
        "azure.security.defender_plan": 3,
        "azure.security.settings": 1,
    },
    DEV: {
        "azure.appservice.plan": 1,
        "azure.authorization.role_assignment": 1,
        "azure.network.firewall": 1,
        "azure.resource.resource_group": 1,
        "azure.resource.subscription": 1,
        "azure.security.defender_plan": 1,
        "azure.security.settings": 1,
    },
}
BY_TYPE = {t: 2 * n for t, n in PER_SUBSCRIPTION.items()}
for counts in PLATFORM.values():
    for t, n in counts.items():
        BY_TYPE[t] = BY_TYPE.get(t, 0) + n
TOTAL = sum(BY_TYPE.values())  # 51
# Records of the subscription itself rather than of a location ("global").
SUBSCRIPTION_LEVEL = {
    "azure.resource.subscription",
    "azure.security.defender_plan",
    "azure.security.settings",
    "azure.authorization.role_assignment",
    "azure.authorization.role_definition",
    "azure.monitor.diagnostic_setting",  # the activity log's; a resource's is at the resource's location
}


def arm_id(sub: str, env: str, rtype: str = "", name: str = "") -> str:
    """The lowercase id of a resource of the demo estate (its resource group without ``rtype``)."""
    group = f"/subscriptions/{sub}/resourcegroups/rg-web-{env}"
    return f"{group}/providers/{rtype}/{name}".lower() if rtype else group


def in_fake(fake, resource_id: str) -> dict:
    return fake.resources[azure_arm._norm(resource_id)]


def inventory(connection) -> dict[str, tuple]:
    rows = Resource.objects.for_org(connection.org).filter(connection=connection).order_by()
    return {
        r.native_id: (r.pk, r.resource_type, r.region, r.name, r.tags, r.config, r.first_seen, r.updated_at)
        for r in rows
    }


def relationships(connection) -> set[tuple[str, str, str]]:
    rels = Relationship.objects.for_org(connection.org).filter(connection=connection)
    return {(r.source.native_id, r.target.native_id, r.kind) for r in rels.select_related("source", "target")}


def arm_requests(fake) -> list[azure_arm.RecordedRequest]:
    return [r for r in fake.requests if r.host == azure_arm.ARM_HOST]


# --- A full sync ---------------------------------------------------------------------------------


def test_a_full_sync_of_two_subscriptions(azure, azure_connection):
    run = sync_now(azure_connection)

    assert run.status == S.SUCCEEDED, (run.errors, run.warnings)
    assert run.completeness_percent == 100.0 and run.warnings == [] and run.errors == []
    assert run.progress_total == run.progress_done == 2 * len(AZURE_TYPES) == 60
    assert run.coverage == {t: {PROD: "collected", DEV: "collected"} for t in AZURE_TYPES}
    assert run.counts["by_type"] == BY_TYPE
    assert run.counts["by_type_region"]["azure.compute.disk"] == {PROD: 2, DEV: 2}
    assert run.counts["by_type_region"]["azure.security.defender_plan"] == {PROD: 3, DEV: 1}
    assert run.resource_count == run.created_count == TOTAL == 51 and run.unresolved_relations == 0
    assert run.api_calls == len(arm_requests(azure)), "every Resource Manager call is counted (and paced)"

    stored = inventory(azure_connection)
    assert len(stored) == TOTAL
    located = {row[2] for row in stored.values() if row[1] not in SUBSCRIPTION_LEVEL}
    assert located == {"westeurope"}, "a resource's region is its location"
    vm = Resource.objects.for_org(azure_connection.org).get(native_id=arm_id(PROD_SUB, "prod", *VM["prod"]))
    assert vm.provider == "azure" and vm.name == "vm-web-prod" and vm.tags == {"env": "prod", "role": "web"}
    assert vm.config["vm_size"] == "Standard_B2s" and vm.config["power_state"] == "running"

    rels = relationships(azure_connection)
    for sub, env in ((PROD_SUB, "prod"), (DEV_SUB, "dev")):
        ids = estate_ids(sub, env)
        expected = {
            (ids["nic"], ids["vm"], "attached_to"),
            (ids["nic"], ids["subnet"], "in_subnet"),
            (ids["subnet"], ids["vnet"], "in_vnet"),
            (ids["nic"], ids["nsg"], "uses_nsg"),
            (ids["subnet"], ids["nsg"], "uses_nsg"),
            (ids["disk_os"], ids["vm"], "attached_to"),
            (ids["pip_nic"], ids["nic"], "associated_with"),
            (ids["pip_lb"], ids["lb"], "associated_with"),
            (ids["nic"], ids["pip_nic"], "uses_public_ip"),
            (ids["lb"], ids["pip_lb"], "uses_public_ip"),
        }
        assert expected <= rels
        for short in ("vm", "nic", "subnet", "vnet", "nsg", "disk_os", "pip_nic", "storage"):
            assert (ids[short], arm_id(sub, env), "in_resource_group") in rels

    changes = ResourceChange.objects.for_org(azure_connection.org).filter(sync_run=run)
    assert changes.count() == TOTAL and set(changes.values_list("kind", flat=True)) == {"created"}
    counts = DailyCount.objects.for_org(azure_connection.org).filter(connection=azure_connection)
    daily = {(c.resource_type, c.region): c.count for c in counts}
    assert daily == dict(Counter((row[1], row[2]) for row in stored.values()))
    assert daily[("azure.compute.disk", "westeurope")] == 4 and daily[("azure.security.defender_plan", "global")] == 4

    # The rule engine's view: the scope of an Azure resource is its subscription, from its native id.
    seen = coverage.last_coverage(azure_connection)
    assert seen[("azure.compute.vm", PROD)] == "collected"
    assert coverage.scope_region("azure.compute.vm", "westeurope", vm.native_id) == PROD
    assert coverage.is_evaluated(seen, "azure.compute.vm", "westeurope", vm.native_id)
    assert not coverage.is_evaluated(seen, "azure.compute.vm", "westeurope"), "no native id: not evaluated"


VM = {env: ("Microsoft.Compute/virtualMachines", f"vm-web-{env}") for env in ("prod", "dev")}


def estate_ids(sub: str, env: str) -> dict[str, str]:
    net, comp = "Microsoft.Network", "Microsoft.Compute"
    vnet = arm_id(sub, env, f"{net}/virtualNetworks", f"vnet-{env}")
    return {
        "vm": arm_id(sub, env, *VM[env]),
        "nic": arm_id(sub, env, f"{net}/networkInterfaces", f"nic-web-{env}"),
        "vnet": vnet,
        "subnet": f"{vnet}/subnets/web",
        "nsg": arm_id(sub, env, f"{net}/networkSecurityGroups", f"nsg-web-{env}"),
        "lb": arm_id(sub, env, f"{net}/loadBalancers", f"lb-web-{env}"),
        "pip_nic": arm_id(sub, env, f"{net}/publicIPAddresses", f"pip-web-{env}"),
        "pip_lb": arm_id(sub, env, f"{net}/publicIPAddresses", f"pip-lb-{env}"),
        "disk_os": arm_id(sub, env, f"{comp}/disks", f"vm-web-{env}-os"),
        "disk_idle": arm_id(sub, env, f"{comp}/disks", f"disk-scratch-{env}"),
        "storage": arm_id(sub, env, "Microsoft.Storage/storageAccounts", f"stcontoso{env}"),
    }


def test_a_second_sync_keeps_ids_and_records_changes(azure, azure_connection):
    sync_now(azure_connection)
    before = inventory(azure_connection)
    again = sync_now(azure_connection)
    assert (again.status, again.created_count, again.modified_count, again.deleted_count) == (S.SUCCEEDED, 0, 0, 0)
    assert inventory(azure_connection) == before, "nothing changed: nothing written but last_seen"

    prod, dev = estate_ids(PROD_SUB, "prod"), estate_ids(DEV_SUB, "dev")
    vm = in_fake(azure, prod["vm"])
    vm["tags"]["owner"] = "ada"
    vm["properties"]["hardwareProfile"]["vmSize"] = "Standard_D4s_v5"
    del azure.resources[azure_arm._norm(dev["disk_idle"])]
    born = azure.add_resource(DEV_SUB, "rg-web-dev", "Microsoft.Compute/disks", "disk-new", location="westeurope")
    third = sync_now(azure_connection)

    assert third.status == S.SUCCEEDED
    assert (third.created_count, third.modified_count, third.deleted_count) == (1, 1, 1)
    after = inventory(azure_connection)
    for native_id, row in before.items():
        if native_id != dev["disk_idle"]:
            assert after[native_id][0] == row[0] and after[native_id][6] == row[6], "same id and first_seen"
    assert dev["disk_idle"] not in after and born["id"].lower() in after
    changes = {c.kind: c for c in ResourceChange.objects.for_org(azure_connection.org).filter(sync_run=third)}
    assert changes["modified"].resource_id == before[prod["vm"]][0]
    assert changes["modified"].diff == {
        "config.vm_size": {"old": "Standard_B2s", "new": "Standard_D4s_v5"},
        "tags.owner": {"old": None, "new": "ada"},
    }
    assert (changes["deleted"].native_id, changes["deleted"].resource) == (dev["disk_idle"], None)
    assert changes["created"].resource.native_id == born["id"].lower()


# --- Throttling, denials, failures --------------------------------------------------------------


def test_a_429_with_retry_after_is_waited_out(azure, azure_connection):
    vnets = f"{PROD}/providers/Microsoft.Network/virtualNetworks"
    azure.throttle(vnets, times=1, retry_after=1)
    run = sync_now(azure_connection)

    assert run.status == S.SUCCEEDED and run.warnings == []
    assert run.coverage["azure.network.vnet"][PROD] == run.coverage["azure.network.subnet"][PROD] == "collected"
    calls = azure.calls(vnets)
    throttled = [c for c in calls if c.status == 429]
    assert len(throttled) == 1 and len(calls) == 3  # the vnet and subnet collectors, and one retry
    assert max(c.at for c in calls) - throttled[0].at >= 0.95, "the retry waited for Retry-After"


def test_a_denied_resource_provider_keeps_that_types_records(azure, azure_connection):
    sync_now(azure_connection)
    before = inventory(azure_connection)
    prod, dev = estate_ids(PROD_SUB, "prod"), estate_ids(DEV_SUB, "dev")

    azure.deny_provider("Microsoft.Compute", PROD_SUB)
    # Both idle disks are really gone; only the dev one can be known to be.
    del azure.resources[azure_arm._norm(prod["disk_idle"])]
    del azure.resources[azure_arm._norm(dev["disk_idle"])]
    in_fake(azure, prod["storage"])["tags"] = {"owner": "data"}
    run = sync_now(azure_connection)

    assert run.status == S.PARTIAL
    assert run.completeness_percent == 95.0  # 57 of 60 units
    assert {(w["type"], w["region"], w["status"], w["code"]) for w in run.warnings} == {
        (t, PROD, "denied", "AuthorizationFailed") for t in COMPUTE
    }
    assert all("does not have authorization" in w["message"] for w in run.warnings)
    assert run.coverage["azure.compute.vm"] == {PROD: "denied", DEV: "collected"}
    after = inventory(azure_connection)
    kept = {k: v for k, v in before.items() if v[1] in COMPUTE and k.startswith(PROD)}
    assert len(kept) == 3 and all(after[k] == v for k, v in kept.items()), "untouched, idle disk included"
    assert dev["disk_idle"] not in after, "the collected subscription's part is replaced"
    assert after[prod["storage"]][4] == {"owner": "data"}, "the other providers of the subscription too"
    assert run.deleted_count == 1 and run.modified_count == 1
    assert (prod["disk_os"], prod["vm"], "attached_to") in relationships(azure_connection)
    assert (prod["nic"], prod["vm"], "attached_to") in relationships(azure_connection)

    seen = coverage.last_coverage(azure_connection)
    assert not coverage.is_evaluated(seen, "azure.compute.vm", "westeurope", prod["vm"])
    assert coverage.is_evaluated(seen, "azure.compute.vm", "westeurope", dev["vm"])


def test_a_subscription_denied_entirely_keeps_its_records_and_the_other_is_replaced(azure, azure_connection):
    sync_now(azure_connection)
    before = inventory(azure_connection)
    prod, dev = estate_ids(PROD_SUB, "prod"), estate_ids(DEV_SUB, "dev")

    azure.deny_subscription(DEV_SUB)  # the app lost its role on it
    del azure.resources[azure_arm._norm(prod["disk_idle"])]
    del azure.resources[azure_arm._norm(dev["disk_idle"])]
    run = sync_now(azure_connection)

    assert run.status == S.PARTIAL and run.completeness_percent == 50.0
    assert {(w["type"], w["region"], w["status"]) for w in run.warnings} == {(t, DEV, "denied") for t in AZURE_TYPES}
    assert all(status == {PROD: "collected", DEV: "denied"} for status in run.coverage.values())
    after = inventory(azure_connection)
    assert {k: v for k, v in after.items() if k.startswith(DEV)} == {
        k: v for k, v in before.items() if k.startswith(DEV)
    }
    assert prod["disk_idle"] not in after and run.deleted_count == 1


@pytest.mark.parametrize(
    ("status", "code", "headers", "outcome"),
    [
        (403, "AuthorizationFailed", {}, "denied"),
        (409, "MissingSubscriptionRegistration", {}, "skipped"),
        (400, "NoRegisteredProviderFound", {}, "skipped"),
        (429, "SubscriptionRequestsThrottled", {"Retry-After": "3600"}, "throttled"),  # longer than we wait
        (400, "InvalidApiVersionParameter", {}, "error"),
        (401, "InvalidAuthenticationToken", {}, "error"),
    ],
)
def test_resource_manager_errors_are_classified(azure, azure_connection, status, code, headers, outcome):
    storage = f"{PROD}/providers/Microsoft.Storage/storageAccounts"
    azure.fail(storage, status, arm_error(code, f"{code} (test)"), headers=headers)
    run = sync_now(azure_connection)
    assert run.status == S.PARTIAL
    assert run.coverage["azure.storage.account"] == {PROD: outcome, DEV: "collected"}
    [warning] = run.warnings
    assert (warning["type"], warning["region"], warning["status"], warning["code"]) == (
        "azure.storage.account",
        PROD,
        outcome,
        code,
    )
    assert f"{code} (test)" in warning["message"]


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (ServiceRequestError("connection refused"), "ServiceRequestError", "could not be reached"),
        (ServiceRequestTimeoutError("connect timed out"), "Timeout", "did not answer in time"),
        (ServiceResponseTimeoutError("read timed out"), "Timeout", "did not answer in time"),
        (ClientAuthenticationError("AADSTS7000222: The provided client secret keys are expired."), "", "expired"),
    ],
)
def test_transport_and_credential_errors_during_a_run_are_errors(exc, code, text):
    status, found_code, message = sync.classify_azure_error(exc)
    assert status == "error" and text in message
    assert found_code == (code or "ClientAuthenticationError")


def test_a_bug_in_an_azure_collector_is_an_error_without_details(azure, azure_connection, monkeypatch, caplog):
    def broken(ctx):
        raise KeyError("secret-looking-internal-detail")
        yield

    entry = base._REGISTRY["azure.keyvault.vault"]
    monkeypatch.setitem(base._REGISTRY, entry.full_type, dataclasses.replace(entry, func=broken))
    run = sync_now(azure_connection)
    assert run.status == S.PARTIAL
    assert {(w["status"], w["code"]) for w in run.warnings} == {("error", "KeyError")}
    assert all("secret-looking" not in w["message"] and "logged" in w["message"] for w in run.warnings)
    assert "collector azure.keyvault.vault failed in /subscriptions/" in caplog.text


def test_a_wrong_client_secret_fails_the_run_before_anything_is_read(azure, azure_connection):
    sync_now(azure_connection)
    before, rels_before = inventory(azure_connection), relationships(azure_connection)
    azure.set_secret(AZURE_TENANT, AZURE_CLIENT, "rotated-in-the-portal")
    azure.requests.clear()
    run = sync_now(azure_connection)

    assert run.status == S.FAILED
    [error] = run.errors
    assert error["code"] == "invalid_secret"
    assert error["message"].startswith("Could not sign in to Azure: Microsoft Entra ID rejected the client secret")
    assert AZURE_SECRET not in error["message"]
    assert arm_requests(azure) == [], "nothing asked of Resource Manager"
    assert inventory(azure_connection) == before and relationships(azure_connection) == rels_before
    assert not ResourceChange.objects.for_org(azure_connection.org).filter(sync_run=run).exists()


def test_a_connection_without_subscriptions_scans_every_enabled_one_it_can_read(azure, org):
    azure.add_subscription(AZURE_TENANT, "00000000-0000-4000-8000-00000000a003", "Old", state="Disabled")
    connection = make_azure_connection(org, subscriptions=[])
    run = sync_now(connection)
    assert run.status == S.SUCCEEDED
    assert set(run.coverage["azure.compute.vm"]) == {PROD, DEV}

    azure.deny_subscription(PROD_SUB)
    azure.deny_subscription(DEV_SUB)
    failed = sync_now(connection)
    assert failed.status == S.FAILED
    assert failed.errors[0]["code"] == "no_subscriptions" and "Reader role" in failed.errors[0]["message"]


# --- Rate limits ---------------------------------------------------------------------------------


def test_azure_quotas_are_documented_and_scaled_by_the_fraction(settings):
    settings.SYNC_RATE_FRACTION = 0.5
    limiter = ratelimit.limiter_for_subscription(PROD_SUB.upper())
    assert limiter.account_id == PROD_SUB
    assert limiter.quota_for(ratelimit.ACCOUNT_WIDE).rate == 12.5  # ARM's subscription bucket: 25/s
    assert limiter.quota_for(ratelimit.ACCOUNT_WIDE).burst == 125  # of 250
    assert limiter.quota_for("Microsoft.Network").rate == pytest.approx(10000 / 300 / 2)
    assert limiter.quota_for("Microsoft.Storage").rate == pytest.approx(800 / 300 / 2)
    assert limiter.quota_for("Microsoft.Unknown").rate == ratelimit.AZURE_DEFAULT_QUOTA.rate / 2
    assert all(q.source for q in AZURE_QUOTAS.values())
    sovereign = ratelimit.limiter_for_subscription(PROD_SUB, "china")
    assert sovereign.quota_for(ratelimit.ACCOUNT_WIDE).rate == pytest.approx(12000 / 3600 / 2)


def test_every_call_waits_for_its_provider_and_for_the_subscription():
    clock_now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        clock_now[0] += seconds

    limiter = RateLimiter(
        PROD_SUB,
        fraction=1.0,
        quotas={"Microsoft.Network": Quota(100, 100), "Microsoft.Compute": Quota(0.5, 1)},
        account_quota=Quota(2, 3),
        clock=lambda: clock_now[0],
        sleep=sleep,
    )
    for _ in range(3):
        limiter.acquire("Microsoft.Network", "global")
    assert slept == []
    limiter.acquire("Microsoft.Network", "global")  # its provider has tokens; the subscription has none
    assert slept == [0.5]
    limiter.acquire("Microsoft.Compute", "global")
    limiter.acquire("Microsoft.Compute", "global")  # its provider's bucket (0.5/s) is now the slower one
    assert slept == [0.5, 0.5, 1.5] and limiter.waited == 2.5


def test_a_sync_draws_on_each_subscriptions_buckets(azure, azure_connection):
    sync_now(azure_connection)
    keys = ratelimit.bucket_keys()  # in Redis when REDIS_URL is set, else this process's
    for sub in (PROD_SUB, DEV_SUB):
        assert {
            (sub, "global", ns) for ns in ("*", "Microsoft.Compute", "Microsoft.Network", "Microsoft.Resources")
        } <= keys
    assert {k[0] for k in keys} == {PROD_SUB, DEV_SUB}


# --- One sync per connection, cancel, schedules, "Scan now" -----------------------------------------


def test_one_sync_per_connection(azure, azure_connection):
    run, started = actions.do_start_sync(azure_connection, enqueue=False)
    joined, started_again = actions.do_start_sync(azure_connection, enqueue=False)
    assert started and not started_again and joined.pk == run.pk

    cache.set(sync.lock_key(azure_connection.pk), run.pk)  # another worker is on it
    with pytest.raises(sync.SyncBusy):
        sync.run_sync(run.pk)
    run.refresh_from_db()
    assert run.status == S.QUEUED and arm_requests(azure) == []
    cache.delete(sync.lock_key(azure_connection.pk))
    assert sync.run_sync(run.pk).status == S.SUCCEEDED
    assert cache.get(sync.lock_key(azure_connection.pk)) is None, "released at the end"


def test_cancel_during_fetch_changes_nothing(azure, azure_connection, settings, monkeypatch):
    settings.SYNC_MAX_WORKERS = 1
    sync_now(azure_connection)
    before = inventory(azure_connection)
    del azure.resources[azure_arm._norm(estate_ids(PROD_SUB, "prod")["disk_idle"])]

    run = SyncRun.objects.for_org(azure_connection.org).create(connection=azure_connection)
    first = threading.Event()

    def slow(func):
        def unit(ctx):
            if not first.is_set():  # the first unit: a member presses "Cancel" while it runs
                first.set()
                cache.set(sync.cancel_key(run.pk), True)
            else:
                time.sleep(0.5)  # the next unit is slow to make its first call
            yield from func(ctx)

        return unit

    for entry in collectors_for("azure"):
        monkeypatch.setitem(base._REGISTRY, entry.full_type, dataclasses.replace(entry, func=slow(entry.func)))
    azure.requests.clear()
    finished = sync.run_sync(run.pk)

    assert finished.status == S.CANCELLED and finished.finished_at is not None
    assert inventory(azure_connection) == before
    assert not ResourceChange.objects.for_org(azure_connection.org).filter(sync_run=run).exists()
    first_unit = f"{PROD}/providers/Microsoft.ContainerService/managedClusters"  # by type, then subscription
    assert [r.path for r in arm_requests(azure)] == [first_unit], "no call after the cancel"


def test_scheduled_scans_include_azure_connections(azure, org, eager_celery, django_capture_on_commit_callbacks):
    connection = make_azure_connection(org, scan_frequency=CloudConnection.ScanFrequency.HOURLY)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.enqueue_due_syncs() == 1
    run = SyncRun.objects.for_org(org).get(connection=connection)
    assert run.trigger == SyncRun.Trigger.SCHEDULE and run.status == S.SUCCEEDED
    assert Resource.objects.for_org(org).filter(connection=connection).count() == TOTAL


def test_scan_now_on_an_azure_connection(
    azure, azure_connection, org, client_for, member, eager_celery, django_capture_on_commit_callbacks, monkeypatch
):
    c = client_for(member)
    scan_now = reverse("inventory:scan_now", args=[org.slug, azure_connection.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(scan_now, follow=True)
    run = SyncRun.objects.for_org(org).get()
    assert response.redirect_chain[-1][0] == reverse("inventory:run_detail", args=[org.slug, run.pk])
    assert run.status == S.SUCCEEDED and run.triggered_by == member
    assert "Scan started." in response.content.decode()
    html = c.get(response.redirect_chain[-1][0]).content.decode()  # the task ran once the request committed
    assert 'data-testid="coverage"' in html and "cov-collected" in html and PROD in html

    # A provider without a fetcher is refused with a clear message.
    monkeypatch.delitem(sync.FETCHERS, "azure")
    response = c.post(scan_now, follow=True)
    assert "Azure inventory is not available yet." in response.content.decode()
    assert SyncRun.objects.for_org(org).count() == 1
