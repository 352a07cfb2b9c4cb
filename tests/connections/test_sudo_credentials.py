"""Credential forms and re-authentication (accounts/sudo.py): the form is shown and accepted only after
a fresh proof of identity, and a form posted without one is refused, never stashed: no session row
ever holds a submitted cloud secret."""

from __future__ import annotations

import json
from importlib import import_module
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse

from accounts.sudo import SESSION_KEY
from connections import actions, credentials
from connections.models import CloudConnection
from connections.providers.base import CheckResult
from inventory.models import SyncRun
from tests.accounts.helpers import confirm_identity

pytestmark = pytest.mark.django_db

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSUDOTESTKEY"
AZ_SECRET = "az~sudo.secret_0987654321-never-stored"
TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
SUB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

FORMS = {
    "aws-keys": (
        {"name": "Keys", "access_key_id": "AKIASUDOTESTEXAMPLE1", "secret_access_key": AWS_SECRET},
        AWS_SECRET,
    ),
    "azure": (
        {
            "name": "Contoso",
            "azure_cloud": "public",
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "client_secret": AZ_SECRET,
            "subscription_ids": SUB,
        },
        AZ_SECRET,
    ),
}


@pytest.fixture
def checked(monkeypatch):
    """The cloud check, stubbed: it records the secrets it was given and accepts them."""
    seen: list[str] = []

    def fake_check(connection):
        if connection.provider == CloudConnection.Provider.AWS:
            seen.append(credentials.aws_credentials(connection).secret_access_key)
            return CheckResult(account_id="123456789012", regions=["us-east-1"])
        seen.append(credentials.azure_client_secret(connection))
        return CheckResult(account_id=TENANT, subscriptions=[{"id": SUB, "name": "Prod", "state": "Enabled"}])

    monkeypatch.setattr(actions, "run_check", fake_check)
    return seen


def all_session_data() -> list[str]:
    """Every row of django_session, decoded, as text (plus the raw column, in case it is not encoded)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    rows = list(Session.objects.values_list("session_data", flat=True))
    assert rows, "the test client's session is in the table"
    return [json.dumps(store.decode(raw), default=str) + raw for raw in rows]


def assert_no_session_holds(secret: str) -> None:
    # Also as a form-encoded or JSON-escaped string: a stashed POST is stored urlencoded inside JSON.
    forms = {secret, quote_plus(secret), quote(secret, safe=""), json.dumps(secret)[1:-1]}
    for text in all_session_data():
        assert not any(form in text for form in forms)


def confirm_next(response) -> str:
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == reverse("sudo_confirm"), response["Location"]
    return parse_qs(location.query)["next"][0]


def url(name, org, *args):
    return reverse(f"connections:{name}", args=[org.slug, *args])


def existing_connection(org, method: str) -> CloudConnection:
    if method == "aws-keys":
        conn = CloudConnection(org=org, name="Keys", provider="aws", auth_method="aws_keys")
        credentials.store_secret(conn, {"access_key_id": "AKIAOLDKEYEXAMPLE000", "secret_access_key": "old-secret"})
    else:
        conn = CloudConnection(
            org=org,
            name="Contoso",
            provider="azure",
            auth_method="azure_sp",
            tenant_id=TENANT,
            client_id=CLIENT,
            subscriptions=[{"id": SUB, "name": "Prod", "state": "Enabled"}],
        )
        credentials.store_secret(conn, {"client_secret": "old-secret"})
    conn.save()
    return conn


@pytest.mark.parametrize("method", list(FORMS))
def test_create_form_posted_without_fresh_proof_is_refused_and_never_stashed(client, org, owner, method, checked):
    data, secret = FORMS[method]
    client.force_login(owner)  # logged in long ago: no recent proof of identity
    form_url = url("create", org, method)

    # The form itself is not shown without a proof; the way back is the form.
    assert confirm_next(client.get(form_url)) == form_url

    # A form posted anyway (the window ran out while it was being filled in) is refused, not kept.
    response = client.post(form_url, data)
    assert confirm_next(response) == form_url
    assert not CloudConnection.objects.for_org(org).exists() and checked == []
    assert_no_session_holds(secret)
    page = client.get(response["Location"])
    assert "submit the form again" in page.content.decode()
    assert secret not in page.content.decode()

    # Confirmed, the person submits again: saved, and still no secret in any session.
    confirm_identity(client)
    response = client.post(form_url, data)
    conn = CloudConnection.objects.for_org(org).get()
    first_scan = SyncRun.objects.for_org(org).get(connection=conn)  # a new connection lands on its first scan
    assert response.status_code == 302 and response["Location"] == first_scan.get_absolute_url()
    assert checked == [secret]
    assert_no_session_holds(secret)


@pytest.mark.parametrize("method", list(FORMS))
def test_edit_form_posted_without_fresh_proof_is_refused_and_never_stashed(client, org, owner, method, checked):
    data, secret = FORMS[method]
    conn = existing_connection(org, method)
    before = conn.encrypted_secret
    client.force_login(owner)
    form_url = url("edit", org, conn.pk)

    assert confirm_next(client.get(form_url)) == form_url
    assert confirm_next(client.post(form_url, data)) == form_url
    conn.refresh_from_db()
    assert conn.encrypted_secret == before and checked == []
    assert_no_session_holds(secret)

    confirm_identity(client)
    assert client.post(form_url, data).status_code == 302
    conn.refresh_from_db()
    assert conn.encrypted_secret != before and checked == [secret]
    assert_no_session_holds(secret)


def test_delete_needs_a_fresh_proof(client, org, owner):
    conn = existing_connection(org, "aws-keys")
    client.force_login(owner)
    form_url = url("delete", org, conn.pk)
    assert confirm_next(client.post(form_url, {"confirm_name": "Keys"})) == form_url
    assert CloudConnection.objects.for_org(org).filter(pk=conn.pk).exists()
    confirm_identity(client)
    assert client.post(form_url, {"confirm_name": "Keys"}).status_code == 302
    assert not CloudConnection.objects.for_org(org).filter(pk=conn.pk).exists()


def test_the_window_closes(client, org, owner, settings):
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
    client.force_login(owner)
    confirm_identity(client)
    form_url = url("create", org, "aws-keys")
    assert client.get(form_url).status_code == 200
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "at": session[SESSION_KEY]["at"] - 301}
    session.save()
    assert confirm_next(client.get(form_url)) == form_url


def test_user_without_password_is_asked_too(client, org, make_user):
    """Signed up with Google (no usable password, no MFA): the credential pages still ask for a proof."""
    from orgs.roles import Role
    from tests.factories import MembershipFactory

    google_user = make_user("gina@example.com", password=None)
    MembershipFactory(user=google_user, org=org, role=Role.ADMIN)
    conn = existing_connection(org, "aws-keys")
    client.force_login(google_user)
    for form_url in (url("create", org, "aws-keys"), url("edit", org, conn.pk), url("delete", org, conn.pk)):
        assert confirm_next(client.get(form_url)) == form_url


def test_outsider_gets_404_and_member_403_before_any_prompt(client_for, org, member, outsider):
    conn = existing_connection(org, "aws-keys")
    attacker = client_for(outsider)
    for name in ("edit", "delete"):
        for slug_org in (org, outsider.org):
            for method in ("get", "post"):
                response = getattr(attacker, method)(url(name, slug_org, conn.pk))
                assert response.status_code == 404, (name, slug_org, method)
    weak = client_for(member)
    for target in (url("create", org, "aws-keys"), url("edit", org, conn.pk), url("delete", org, conn.pk)):
        assert weak.get(target).status_code == 403
        assert weak.post(target).status_code == 403
