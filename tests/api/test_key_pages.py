"""The API keys page under the organization: making a key (shown once, after a fresh proof of identity),
who may make which kind, revoking (own personal keys; admins any key), the audit log, and isolation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from api import keys
from api.models import ApiKey
from tests.accounts.helpers import confirm_identity
from tests.api.conftest import KeyClient


def url(name: str, org) -> str:
    return reverse(f"api:{name}", kwargs={"org_slug": org.slug})


def confirm_next(response) -> str:
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    assert location.path == reverse("sudo_confirm"), response["Location"]
    return parse_qs(location.query)["next"][0]


def test_making_a_key_needs_a_fresh_proof(org, owner, client_for):
    client = client_for(owner)  # force_login: no proof of identity in this session
    assert confirm_next(client.get(url("key_new", org))) == url("key_new", org)
    response = client.post(url("key_new", org), {"name": "CI", "kind": "org", "scope": "read", "expires": "30"})
    confirm_next(response)
    assert not ApiKey.objects.for_org(org).exists()


def test_an_admin_makes_an_org_key_shown_once(org, owner, client_for):
    client = confirm_identity(client_for(owner))
    form = client.get(url("key_new", org))
    assert form.status_code == 200 and b'value="org"' in form.content
    response = client.post(url("key_new", org), {"name": "SIEM", "kind": "org", "scope": "read_write", "expires": "90"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]  # the one page that shows the key is never cached
    api_key = ApiKey.objects.for_org(org).get()
    token = response.context["token"]
    assert keys.looks_like_token(token) and token in response.content.decode()
    assert api_key.kind == "org" and api_key.user is None and api_key.scope == "read_write"
    assert api_key.created_by == owner and api_key.expires_at is not None
    assert api_key.token_hash == keys.hash_token(token)
    # The list shows its prefix, never the key.
    listing = client.get(url("keys", org)).content.decode()
    assert api_key.prefix in listing and token not in listing
    event = AuditEvent.objects.get(action="api_key_created")
    assert event.org == org and event.actor == owner and event.metadata["target"] == api_key.label
    assert token not in str(event.metadata)
    assert KeyClient(token).get("/api/v1/findings/").status_code == 200


@pytest.mark.parametrize("member_role", ["viewer"])
def test_a_viewer_makes_personal_keys_only(org, member, client_for):
    client = confirm_identity(client_for(member))
    assert b'value="org"' not in client.get(url("key_new", org)).content
    refused = client.post(url("key_new", org), {"name": "x", "kind": "org", "scope": "read", "expires": "30"})
    assert refused.status_code == 400 and not ApiKey.objects.for_org(org).exists()
    made = client.post(
        url("key_new", org), {"name": "mine", "kind": "personal", "scope": "read_write", "expires": "never"}
    )
    assert made.status_code == 201
    api_key = ApiKey.objects.for_org(org).get()
    assert api_key.user == member and api_key.expires_at is None
    # Read and write scope, but a viewer's role: it reads only.
    token = made.context["token"]
    assert KeyClient(token).post("/api/v1/custom-rules/", {"source": "x"}).status_code == 403


def test_the_form_rejects_bad_input(org, owner, client_for):
    client = confirm_identity(client_for(owner))
    response = client.post(url("key_new", org), {"name": "", "kind": "robot", "scope": "all", "expires": "1000"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "kind", "scope", "expires"}


@pytest.mark.parametrize("member_role", ["member"])
def test_revoking_own_personal_key_and_others_keys(org, owner, member, client_for, make_key):
    mine, my_token = make_key(org, user=member)
    theirs, _ = make_key(org, user=owner)
    org_key, _ = make_key(org)
    client = client_for(member)

    # Not the member's key: 403 before any prompt.
    assert client.post(url("key_revoke", org), {"key": org_key.pk}).status_code == 403
    assert client.post(url("key_revoke", org), {"key": theirs.pk}).status_code == 403
    # Their own key: asked to confirm first, then revoked.
    assert confirm_next(client.post(url("key_revoke", org), {"key": mine.pk})) == url("keys", org)
    assert ApiKey.objects.for_org(org).get(pk=mine.pk).revoked_at is None
    confirm_identity(client)
    response = client.post(url("key_revoke", org), {"key": mine.pk})
    assert response.status_code == 302 and response["Location"] == url("keys", org)
    assert ApiKey.objects.for_org(org).get(pk=mine.pk).revoked_by == member
    assert KeyClient(my_token).get("/api/v1/findings/").status_code == 401
    assert AuditEvent.objects.filter(action="api_key_revoked", org=org).count() == 1

    # The member sees organization keys and their own, not the owner's personal key.
    listing = client.get(url("keys", org)).content.decode()
    assert org_key.prefix in listing and mine.prefix in listing and theirs.prefix not in listing


def test_an_admin_revokes_any_key(org, owner, member, client_for, make_key):
    personal, token = make_key(org, user=member)
    client = confirm_identity(client_for(owner))
    assert client.post(url("key_revoke", org), {"key": personal.pk}).status_code == 302
    assert KeyClient(token).get("/api/v1/findings/").status_code == 401
    assert personal.prefix in client.get(url("keys", org)).content.decode()


@pytest.mark.parametrize("bad", ["", "abc", "-1", "99999999999999999999"])
def test_revoke_without_a_key_is_400(org, owner, client_for, bad):
    assert client_for(owner).post(url("key_revoke", org), {"key": bad}).status_code == 400


def test_another_orgs_key_is_404(org, outsider, client_for, make_key):
    victim_key, token = make_key(org)
    client = confirm_identity(client_for(outsider))
    outsider_revoke = reverse("api:key_revoke", kwargs={"org_slug": outsider.org.slug})
    assert client.post(outsider_revoke, {"key": victim_key.pk}).status_code == 404
    assert client.get(url("keys", org)).status_code == 404
    assert KeyClient(token).get("/api/v1/findings/").status_code == 200


def test_empty_state_and_nav_link(org, owner, client_for):
    response = client_for(owner).get(url("keys", org))
    assert response.status_code == 200
    html = response.content.decode()
    assert "No API keys yet." in html and reverse("api:reference") in html
    home = client_for(owner).get(reverse("dashboard:home", kwargs={"org_slug": org.slug})).content.decode()
    assert url("keys", org) in home


def test_reference_page_and_schema_are_public(client, db):
    page = client.get(reverse("api:reference"))
    assert page.status_code == 200 and b"swagger-ui-bundle.js" in page.content
    assert b"<script>" not in page.content  # the CSP allows no inline script
    schema = client.get(reverse("api:schema"), HTTP_ACCEPT="application/json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    assert "/api/v1/findings/ocsf/" in schema.json()["paths"]


def test_every_operation_has_an_example_and_documents_its_errors(client, db):
    schema = client.get(reverse("api:schema") + "?format=json").json()
    operations = [(m.upper(), path, op) for path, ops in schema["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 20
    for method, path, op in operations:
        responses = op["responses"]
        examples = [c for r in responses.values() for c in r.get("content", {}).values() if "examples" in c]
        assert examples, f"{method} {path} has no example"
        assert {"401", "403", "429"} <= set(responses), f"{method} {path} does not document its errors"
        assert op["security"] == [{"ApiKey": []}], f"{method} {path}"
