"""The Azure connection test, against the fake Entra ID + Resource Manager (tests/fakes/azure_arm.py)
through the real ClientSecretCredential (MSAL) and the real SDK clients."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from connections.providers import azure
from connections.providers.base import ConnectionCheckError
from tests.fakes.azure_arm import FakeAzure

SECRET = "Zq8~kP3.vT_9xLr2-SECRET-VALUE-4fGh1"
TENANT = "6f1c2a3b-1111-4a5b-9c8d-0123456789ab"
CLIENT = "0d9e8f7a-2222-4b6c-8d9e-abcdefabcdef"
SUB_PROD = "11111111-aaaa-4bbb-8ccc-000000000001"
SUB_DEV = "11111111-aaaa-4bbb-8ccc-000000000002"
OTHER_TENANT = "99999999-3333-4c7d-9e0f-fedcba987654"


@dataclass
class Estate:
    fake: FakeAzure

    def check(self, *, tenant=TENANT, client=CLIENT, secret=SECRET, cloud="public", subs=(SUB_PROD,), **kw):
        return azure.check(tenant, client, secret, cloud, list(subs), **kw)


@pytest.fixture
def estate(fake_azure):
    """A tenant (contoso.onmicrosoft.com) with our app and two subscriptions, and a second tenant."""
    fake_azure.add_tenant(TENANT, domain="contoso.onmicrosoft.com", display_name="Contoso")
    fake_azure.add_app(TENANT, CLIENT, SECRET)
    fake_azure.add_subscription(TENANT, SUB_PROD, "Contoso Production")
    fake_azure.add_subscription(TENANT, SUB_DEV, "Contoso Dev", state="Warned")
    fake_azure.add_tenant(OTHER_TENANT, domain="fabrikam.onmicrosoft.com")
    return Estate(fake_azure)


def test_happy_path_signs_in_and_reads_each_subscription(estate):
    result = estate.check(subs=[SUB_PROD, SUB_DEV])

    assert result.account_id == TENANT
    assert result.display_name == "Contoso Production"
    assert result.subscriptions == [
        {"id": SUB_PROD, "name": "Contoso Production", "state": "Enabled"},
        {"id": SUB_DEV, "name": "Contoso Dev", "state": "Warned"},
    ]
    assert result.identity == CLIENT
    # The real credential went through Entra discovery and the token endpoint, then ARM with its token.
    calls = [(c.method, c.host, c.path, c.status) for c in estate.fake.calls()]
    assert calls[:2] == [
        ("GET", "localhost", f"/{TENANT}/v2.0/.well-known/openid-configuration", 200),
        ("POST", "localhost", f"/{TENANT}/oauth2/v2.0/token", 200),
    ]
    arm_calls = [c for c in estate.fake.calls() if c.host == "127.0.0.1"]
    assert [c.path for c in arm_calls] == [f"/subscriptions/{SUB_PROD}", f"/subscriptions/{SUB_DEV}"]
    assert all(c.client_id == CLIENT and c.query.get("api-version") for c in arm_calls)


def test_tenant_domain_and_messy_ids_are_accepted(estate):
    result = estate.check(
        tenant=" Contoso.onmicrosoft.com ", client=CLIENT.upper(), subs=[f"/subscriptions/{SUB_PROD.upper()}", SUB_PROD]
    )
    assert result.account_id == TENANT  # resolved to the GUID from the subscription
    assert [s["id"] for s in result.subscriptions] == [SUB_PROD]


@pytest.mark.parametrize(
    ("arrange", "kwargs", "code", "field", "mentions"),
    [
        pytest.param(None, {"secret": "not-the-secret"}, "invalid_secret", "client_secret", "Value", id="wrong-secret"),
        pytest.param(
            None,
            {"tenant": "12345678-0000-4000-8000-000000000000"},
            "tenant_not_found",
            "tenant_id",
            "12345678-0000-4000-8000-000000000000",
            id="unknown-tenant",
        ),
        pytest.param(
            None,
            {"tenant": "nosuch.onmicrosoft.com"},
            "tenant_not_found",
            "tenant_id",
            "nosuch.onmicrosoft.com",
            id="unknown-tenant-domain",
        ),
        pytest.param(
            None,
            {"client": "ffffffff-0000-4000-8000-000000000000"},
            "client_not_found",
            "client_id",
            "ffffffff-0000-4000-8000-000000000000",
            id="unknown-client",
        ),
        pytest.param(
            None, {"tenant": OTHER_TENANT}, "client_not_found", "client_id", OTHER_TENANT, id="app-in-another-tenant"
        ),
        pytest.param(
            lambda f: f.set_secret(TENANT, CLIENT, SECRET, expired=True),
            {},
            "secret_expired",
            "client_secret",
            "expired",
            id="expired-secret",
        ),
        pytest.param(
            None,
            {"subs": [SUB_PROD, "22222222-0000-4000-8000-000000000000"]},
            "subscription_not_found",
            "subscriptions",
            "22222222-0000-4000-8000-000000000000",
            id="subscription-not-found",
        ),
        pytest.param(
            lambda f: f.deny_subscription(SUB_DEV, CLIENT),
            {"subs": [SUB_PROD, SUB_DEV]},
            "access_denied",
            "subscriptions",
            "Reader",
            id="access-denied",
        ),
        pytest.param(
            lambda f: f.add_subscription(OTHER_TENANT, "33333333-0000-4000-8000-000000000000"),
            {"subs": ["33333333-0000-4000-8000-000000000000"]},
            "subscription_in_other_tenant",
            "subscriptions",
            "33333333-0000-4000-8000-000000000000",
            id="subscription-in-other-tenant",
        ),
    ],
)
def test_each_failure_has_a_specific_actionable_error(estate, arrange, kwargs, code, field, mentions):
    if arrange:
        arrange(estate.fake)
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check(**kwargs)
    assert (caught.value.code, caught.value.field) == (code, field), caught.value.message
    assert mentions in caught.value.message
    assert SECRET not in caught.value.message


def test_access_denied_message_names_the_subscription_and_the_role(estate):
    estate.fake.deny_subscription(SUB_PROD)
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check()
    assert SUB_PROD in caught.value.message and "Reader role" in caught.value.message


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({"tenant": "not a tenant"}, "malformed_tenant_id", "tenant_id"),
        ({"tenant": ""}, "malformed_tenant_id", "tenant_id"),
        ({"client": "my-app"}, "malformed_client_id", "client_id"),
        ({"client": CLIENT + "0"}, "malformed_client_id", "client_id"),
        ({"subs": ["prod"]}, "malformed_subscription_id", "subscriptions"),
        ({"subs": []}, "no_subscriptions", "subscriptions"),
        ({"subs": ["  "]}, "no_subscriptions", "subscriptions"),
        ({"secret": "  "}, "missing_secret", "client_secret"),
        ({"cloud": "mars"}, "unknown_cloud", "cloud"),
    ],
)
def test_malformed_input_is_refused_before_any_request(estate, kwargs, code, field):
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check(**kwargs)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert estate.fake.calls() == []


def test_a_secret_pasted_into_the_subscriptions_field_is_not_echoed(estate):
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check(subs=[SUB_PROD, SECRET])
    assert caught.value.code == "malformed_subscription_id" and "entry 2" in caught.value.message
    assert SECRET not in caught.value.message


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_authority_answers_quickly_and_names_the_host(estate, settings):
    url = f"https://127.0.0.1:{_closed_port()}"
    settings.AZURE_AUTHORITY_HOST = url
    started = time.monotonic()
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check()
    assert time.monotonic() - started < 5
    assert caught.value.code == "endpoint_unreachable"
    assert url.removeprefix("https://") in caught.value.message and "refused" in caught.value.message


def test_unreachable_resource_manager_is_reported_with_its_host(estate, monkeypatch):
    port = _closed_port()
    real_kwargs = azure.arm_client_kwargs

    def kwargs_elsewhere(cloud, **kw):  # a token for the fake's ARM audience, but the calls go nowhere
        return {**real_kwargs(cloud, **kw), "base_url": f"https://127.0.0.1:{port}"}

    monkeypatch.setattr(azure, "arm_client_kwargs", kwargs_elsewhere)
    started = time.monotonic()
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check()
    assert time.monotonic() - started < 5
    assert caught.value.code == "endpoint_unreachable"
    assert f"127.0.0.1:{port}" in caught.value.message


def test_wrong_cloud_for_the_tenant(estate, settings):
    settings.AZURE_ARM_ENDPOINT = "https://management.chinacloudapi.cn"  # a token audience the tenant does not know
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check()
    assert (caught.value.code, caught.value.field) == ("wrong_cloud", "cloud")


def test_unresolvable_host_is_unreachable(estate, settings, monkeypatch):
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):  # answer NXDOMAIN at once, whatever resolver this machine has
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    settings.AZURE_AUTHORITY_HOST = "https://login.cloustral-test.invalid"
    started = time.monotonic()
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check()
    assert time.monotonic() - started < 5
    assert caught.value.code == "endpoint_unreachable"
    assert "login.cloustral-test.invalid" in caught.value.message and "resolved" in caught.value.message


def test_a_stalled_endpoint_times_out_instead_of_hanging(estate):
    estate.fake.stall(f"/{TENANT}/oauth2/v2.0/token", seconds=10)
    quick = azure.HttpProfile(
        connection_timeout=1, read_timeout=0.5, retry_total=0, max_retry_after=1, operation_timeout=2
    )
    started = time.monotonic()
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check(profile=quick)
    assert time.monotonic() - started < 3
    assert caught.value.code == "endpoint_unreachable"
    assert "did not answer within 0.5 seconds" in caught.value.message


def test_untrusted_certificate_is_a_tls_error(estate, settings):
    settings.AZURE_CA_BUNDLE = None  # the fake's CA is not among the public ones
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check()
    assert caught.value.code == "tls_error"
    assert "localhost:" in caught.value.message
    assert estate.fake.calls() == []


def test_throttled_subscription_read_is_retried_after_retry_after(estate):
    path = f"/subscriptions/{SUB_PROD}"
    estate.fake.throttle(path, times=1, retry_after=1)
    result = estate.check()
    assert result.display_name == "Contoso Production"
    first, second = estate.fake.calls(path)
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.95


def test_a_long_retry_after_is_not_waited_for_in_a_check(estate):
    estate.fake.throttle(f"/subscriptions/{SUB_PROD}", times=5, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check()
    assert time.monotonic() - started < 3
    assert caught.value.code == "throttled"


def test_secret_never_appears_in_errors_or_logs(estate, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("azure", "azure.core", "azure.identity", "msal", "urllib3", "connections"):
        caplog.set_level(logging.DEBUG, logger=name)
    errors = []
    estate.check()
    estate.fake.set_secret(TENANT, CLIENT, SECRET, expired=True)
    for kwargs in ({"secret": SECRET + "x"}, {}, {"tenant": OTHER_TENANT}):
        with pytest.raises(ConnectionCheckError) as caught:
            estate.check(**kwargs)
        errors.append(caught.value)
    estate.fake.set_secret(TENANT, CLIENT, SECRET)
    estate.fake.deny_subscription(SUB_PROD)
    with pytest.raises(ConnectionCheckError) as caught:
        estate.check()
    errors.append(caught.value)

    assert len(caplog.records) > 10  # the SDK's debug logging really was on
    for record in caplog.records:
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        assert SECRET not in text, f"secret in log record from {record.name}"
    for error in errors:
        for linked in (error, error.__cause__, error.__context__):
            assert linked is None or SECRET not in str(linked)
        assert SECRET not in repr(error.args)


def test_cloud_endpoints(settings):
    settings.AZURE_ARM_ENDPOINT = None
    settings.AZURE_AUTHORITY_HOST = None
    assert azure.endpoints("public") == ("https://management.azure.com", "https://login.microsoftonline.com")
    assert azure.endpoints("china") == ("https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn")
    assert azure.endpoints("usgov") == ("https://management.usgovcloudapi.net", "https://login.microsoftonline.us")
    kwargs = azure.arm_client_kwargs("china")
    assert kwargs["base_url"] == "https://management.chinacloudapi.cn"
    assert kwargs["credential_scopes"] == ["https://management.chinacloudapi.cn/.default"]
    assert {key for key, _ in azure.CLOUD_CHOICES} == {"public", "china", "usgov"}
    with pytest.raises(ConnectionCheckError) as caught:
        azure.endpoints("mars")
    assert caught.value.field == "cloud"


def test_endpoint_settings_override_every_cloud(settings):
    settings.AZURE_ARM_ENDPOINT = "https://arm.example.test/"
    settings.AZURE_AUTHORITY_HOST = "https://login.example.test"
    for cloud in azure.AZURE_CLOUDS:
        assert azure.endpoints(cloud) == ("https://arm.example.test", "https://login.example.test")
    assert azure.arm_client_kwargs("usgov")["credential_scopes"] == ["https://arm.example.test/.default"]


def test_ca_bundle_adds_to_the_public_roots(fake_azure, settings):
    import certifi

    bundle = Path(azure.ca_bundle())
    text = bundle.read_text()
    assert Path(fake_azure.ca_bundle).read_text().strip() in text
    assert Path(certifi.where()).read_text().strip()[:2000] in text
    assert azure.arm_client_kwargs("public")["connection_verify"] == str(bundle)
    settings.AZURE_CA_BUNDLE = None
    assert azure.ca_bundle() is None
    assert "connection_verify" not in azure.arm_client_kwargs("public")


# --- The fake itself, through the SDK clients the inventory collectors will use --------------------
def test_fake_resource_tree_pages_and_denies_a_provider(estate):
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    fake = estate.fake
    fake.page_size = 2
    for i in range(3):
        fake.add_resource_group(SUB_PROD, f"rg-{i}", tags={"n": str(i)})
    for i in range(5):
        fake.add_resource(SUB_PROD, "rg-0", "Microsoft.Network/virtualNetworks", f"vnet-{i}", tags={"i": str(i)})
    fake.add_resource(
        SUB_PROD,
        "rg-0",
        "Microsoft.Network/virtualNetworks/subnets",
        "vnet-0/web",
        location=None,
        properties={"addressPrefix": "10.0.1.0/24"},
    )
    fake.add_resource(SUB_PROD, "rg-1", "Microsoft.Compute/virtualMachines", "vm-1")
    cred = azure.credential(TENANT, CLIENT, SECRET, "public")
    resources = ResourceManagementClient(cred, SUB_PROD, **azure.arm_client_kwargs("public"))
    network = NetworkManagementClient(cred, SUB_PROD, **azure.arm_client_kwargs("public"))

    assert sorted(g.name for g in resources.resource_groups.list()) == ["rg-0", "rg-1", "rg-2"]
    generic = list(resources.resources.list())
    assert len(generic) == 6 and {r.type for r in generic} == {
        "Microsoft.Network/virtualNetworks",
        "Microsoft.Compute/virtualMachines",
    }
    assert len(fake.calls(f"/subscriptions/{SUB_PROD}/resources")) == 3  # followed nextLink twice
    vnets = list(network.virtual_networks.list_all())
    assert sorted(v.name for v in vnets) == [f"vnet-{i}" for i in range(5)]
    assert [s.address_prefix for s in network.subnets.list("rg-0", "vnet-0")] == ["10.0.1.0/24"]
    assert network.virtual_networks.get("rg-0", "vnet-3").tags == {"i": "3"}

    fake.deny_provider("Microsoft.Network")
    fake.throttle(f"/subscriptions/{SUB_PROD}/resourcegroups", retry_after=1)
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as caught:
        list(network.virtual_networks.list_all())
    assert caught.value.status_code == 403 and caught.value.error.code == "AuthorizationFailed"
    assert len(list(resources.resource_groups.list())) == 3  # other providers still answer, after a 429
    statuses = [c.status for c in fake.calls(f"/subscriptions/{SUB_PROD}/resourcegroups")]
    assert statuses[-3:] == [429, 200, 200]
    cred.close()


def test_fake_requires_a_token_from_the_right_tenant(estate):
    import requests

    fake = estate.fake
    answer = requests.get(f"{fake.arm_url}/subscriptions?api-version=2022-12-01", verify=fake.ca_bundle, timeout=5)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "AuthenticationFailed"
    assert "WWW-Authenticate" in answer.headers
    token = requests.post(
        f"{fake.authority_url}/{TENANT}/oauth2/v2.0/token",
        verify=fake.ca_bundle,
        timeout=5,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "scope": fake.arm_scope,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    listed = requests.get(
        f"{fake.arm_url}/subscriptions?api-version=x", headers=headers, verify=fake.ca_bundle, timeout=5
    ).json()
    assert {s["subscriptionId"] for s in listed["value"]} == {SUB_PROD, SUB_DEV}
    missing_version = requests.get(f"{fake.arm_url}/subscriptions", headers=headers, verify=fake.ca_bundle, timeout=5)
    assert missing_version.json()["error"]["code"] == "MissingApiVersionParameter"
    # Entra paths are not served on the ARM host, nor ARM paths on the Entra host.
    wrong_host = requests.get(
        f"{fake.authority_url}/subscriptions?api-version=x", headers=headers, verify=fake.ca_bundle, timeout=5
    )
    assert wrong_host.status_code == 404
    fake.expire_tokens()
    expired = requests.get(
        f"{fake.arm_url}/subscriptions?api-version=x", headers=headers, verify=fake.ca_bundle, timeout=5
    )
    assert (expired.status_code, expired.json()["error"]["code"]) == (401, "ExpiredAuthenticationToken")
