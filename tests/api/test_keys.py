"""API keys: the token (prefix, checksum, only its hash stored), scopes, expiry, revocation, the
per-key rate limit, personal keys following their owner's membership, and the one 401 answer."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import AuditEvent
from api import keys
from api.models import ApiKey
from orgs.models import Membership
from orgs.roles import Role
from tests.api.conftest import KeyClient
from tests.factories import CloudConnectionFactory, FindingFactory, MembershipFactory, UserFactory

FINDINGS = "/api/v1/findings/"
INVALID = {"code": "invalid_api_key", "message": "Invalid API key."}


def test_token_format_prefix_and_checksum():
    token = keys.new_token()
    assert token.startswith("clst_") and len(token) == keys.TOKEN_LENGTH
    assert keys.looks_like_token(token)
    assert token != keys.new_token()
    # One changed character breaks the checksum: a typo is refused before any database lookup.
    tampered = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    assert not keys.looks_like_token(tampered)
    assert not keys.looks_like_token("clst_" + "a" * 36)  # right shape, no valid checksum
    assert not keys.looks_like_token("ghp_" + token[5:])
    assert not keys.looks_like_token(token + "x")


def test_only_the_hash_is_stored(org, owner, make_key):
    api_key, token = make_key(org, user=owner)
    assert api_key.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert api_key.prefix == token[:13] and api_key.prefix.startswith("clst_")
    stored = ApiKey.objects.for_org(org).filter(pk=api_key.pk).values().get()
    assert token not in str(stored)


def test_a_key_reads_its_org(org, make_key):
    FindingFactory(resource__connection=CloudConnectionFactory(org=org))
    _, token = make_key(org)
    response = KeyClient(token).get(FINDINGS)
    assert response.status_code == 200 and len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    "header",
    ["Bearer clst_nothing", "Bearer " + "clst_" + "0" * 36, "Token abc", "Bearer", "Bearer a b", "Basic dXNlcjpwYXNz"],
)
def test_malformed_or_unknown_keys_get_the_one_401(db, header):
    response = KeyClient(None).get(FINDINGS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json() == INVALID
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_no_key_says_how_to_send_one(db):
    response = KeyClient(None).get(FINDINGS)
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated", "message": "Send an API key: Authorization: Bearer <key>."}


def test_expired_revoked_and_unknown_keys_are_indistinguishable(org, owner, make_key):
    expired, expired_token = make_key(org, expires_at=timezone.now() + timedelta(hours=1))
    ApiKey.objects.for_org(org).filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked, revoked_token = make_key(org)
    from api.actions import do_revoke_api_key

    assert do_revoke_api_key(revoked, user=owner)
    unknown = keys.new_token()
    answers = [KeyClient(t).get(FINDINGS) for t in (expired_token, revoked_token, unknown)]
    assert {r.status_code for r in answers} == {401}
    assert [r.content for r in answers] == [answers[0].content] * 3
    assert answers[0].json() == INVALID


def test_revocation_takes_effect_at_once(org, owner, make_key):
    api_key, token = make_key(org)
    client = KeyClient(token)
    assert client.get(FINDINGS).status_code == 200
    from api.actions import do_revoke_api_key

    assert do_revoke_api_key(api_key, user=owner)
    assert client.get(FINDINGS).status_code == 401
    assert not do_revoke_api_key(api_key, user=owner)  # already revoked: nothing recorded twice
    assert AuditEvent.objects.filter(action="api_key_revoked").count() == 1


def test_expiry(org, make_key):
    api_key, token = make_key(org, expires_at=timezone.now() + timedelta(minutes=5))
    assert KeyClient(token).get(FINDINGS).status_code == 200
    ApiKey.objects.for_org(org).filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert KeyClient(token).get(FINDINGS).status_code == 401


def test_expiry_in_the_past_is_refused(org, owner):
    from api.actions import ApiKeyError, do_create_api_key

    with pytest.raises(ApiKeyError):
        do_create_api_key(org, user=owner, kind="org", name="x", expires_at=timezone.now() - timedelta(days=1))
    with pytest.raises(ApiKeyError):
        do_create_api_key(org, user=owner, kind="org", name="   ")


def test_read_scope_cannot_write(org, make_key):
    finding = FindingFactory(resource__connection=CloudConnectionFactory(org=org))
    _, token = make_key(org, scope=ApiKey.Scope.READ)
    response = KeyClient(token).post(f"/api/v1/findings/{finding.pk}/suppress/", {"reason": "accepted"})
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    finding.refresh_from_db()
    assert finding.status == "open"


def test_write_scope_writes_and_is_audited_with_the_key(org, make_key):
    finding = FindingFactory(resource__connection=CloudConnectionFactory(org=org))
    api_key, token = make_key(org, scope=ApiKey.Scope.READ_WRITE, name="SIEM")
    response = KeyClient(token).post(f"/api/v1/findings/{finding.pk}/suppress/", {"reason": "accepted"})
    assert response.status_code == 200 and response.json()["status"] == "suppressed"
    event = AuditEvent.objects.get(action="finding_suppressed")
    assert event.actor is None and event.org == org
    assert event.metadata["via"] == f"API key {api_key.prefix}… (SIEM)"


def test_last_use_time_and_ip_are_recorded(org, make_key):
    api_key, token = make_key(org)
    assert api_key.last_used_at is None
    KeyClient(token).get(FINDINGS, REMOTE_ADDR="203.0.113.9")
    api_key.refresh_from_db()
    assert api_key.last_used_ip == "203.0.113.9"
    assert timezone.now() - api_key.last_used_at < timedelta(seconds=30)


@pytest.mark.parametrize("member_role", ["member"])
def test_personal_key_follows_its_owner_membership(org, member, make_key):
    finding = FindingFactory(resource__connection=CloudConnectionFactory(org=org))
    _, token = make_key(org, user=member, scope=ApiKey.Scope.READ_WRITE)
    client = KeyClient(token)
    assert client.post(f"/api/v1/findings/{finding.pk}/suppress/", {"reason": "ok"}).status_code == 200

    # Demoted to viewer: the same key now reads only (the role is loaded on every request).
    Membership.objects.for_user(member).filter(org=org).update(role=Role.VIEWER)
    response = client.post(f"/api/v1/findings/{finding.pk}/unsuppress/")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert client.get(FINDINGS).status_code == 200

    # Removed from the organization: the key stops working, with the same 401 as any bad key.
    Membership.objects.for_user(member).filter(org=org).delete()
    response = client.get(FINDINGS)
    assert response.status_code == 401 and response.json() == INVALID


@pytest.mark.parametrize("member_role", ["admin"])
def test_leaving_revokes_personal_keys_for_good(org, owner, member, make_key):
    from orgs.actions import do_remove_member

    personal, token = make_key(org, user=member)
    org_key, org_token = make_key(org, user=member, kind=ApiKey.Kind.ORGANIZATION)
    do_remove_member(Membership.objects.for_org(org).get(user=owner), Membership.objects.for_org(org).get(user=member))
    personal.refresh_from_db()
    assert personal.revoked_at is not None
    # Invited back later: the old personal key stays dead; the organization key they made lives on.
    MembershipFactory(user=member, org=org, role=Role.ADMIN)
    assert KeyClient(token).get(FINDINGS).status_code == 401
    assert KeyClient(org_token).get(FINDINGS).status_code == 200


def test_personal_key_of_a_deactivated_user_stops(org, make_key):
    person = UserFactory()
    MembershipFactory(user=person, org=org, role=Role.ADMIN)
    _, token = make_key(org, user=person)
    assert KeyClient(token).get(FINDINGS).status_code == 200
    person.is_active = False
    person.save(update_fields=["is_active"])
    assert KeyClient(token).get(FINDINGS).json() == INVALID


def test_personal_key_refused_when_the_org_requires_mfa_and_its_owner_has_none(org, owner, make_key):
    _, token = make_key(org, user=owner)
    org.require_mfa = True
    org.save(update_fields=["require_mfa"])
    response = KeyClient(token).get(FINDINGS)
    assert response.status_code == 403 and response.json()["code"] == "mfa_required"


def test_org_key_acts_as_viewer_or_member(org):
    read = ApiKey(org=org, kind=ApiKey.Kind.ORGANIZATION, scope=ApiKey.Scope.READ)
    write = ApiKey(org=org, kind=ApiKey.Kind.ORGANIZATION, scope=ApiKey.Scope.READ_WRITE)
    assert read.allows("view") and not read.allows("run_scans")
    assert write.allows("run_scans") and write.allows("manage_rules") and write.allows("manage_suppressions")
    # Never more than a member: no connections, members or billing through an organization key.
    for capability in ("manage_connections", "manage_members", "manage_api_keys", "manage_billing", "delete_org"):
        assert not write.allows(capability)


# --- the rate limit ---------------------------------------------------------------------------------


@pytest.fixture
def mid_window(monkeypatch):
    """The clock stands in the middle of a one-minute window: requests of a slow run never straddle two."""
    from api import throttling

    monkeypatch.setattr(throttling.time, "time", lambda: 1_800_000_030.0)


@override_settings(API_RATE_LIMIT_PER_MINUTE=3)
def test_rate_limit_per_key_answers_429_with_retry_after(org, make_key, mid_window):
    _, token = make_key(org)
    _, other_token = make_key(org)
    client = KeyClient(token)
    assert [client.get(FINDINGS).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(FINDINGS)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Per key: another key of the same organization is not held back.
    assert KeyClient(other_token).get(FINDINGS).status_code == 200


@override_settings(API_RATE_LIMIT_PER_MINUTE=2)
def test_requests_refused_by_role_count_too(org, make_key, mid_window):
    finding = FindingFactory(resource__connection=CloudConnectionFactory(org=org))
    _, token = make_key(org, scope=ApiKey.Scope.READ)
    client = KeyClient(token)
    url = f"/api/v1/findings/{finding.pk}/suppress/"
    assert [client.post(url, {"reason": "x"}).status_code for _ in range(3)] == [403, 403, 429]


def test_the_window_rolls_over(org, make_key, settings):
    from api import throttling

    settings.API_RATE_LIMIT_PER_MINUTE = 1
    assert throttling.hit(999, now=120.0) == (True, 60)
    assert throttling.hit(999, now=150.5)[0] is False
    assert throttling.hit(999, now=180.0)[0] is True


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI runs it against Redis)")
def test_rate_limit_is_shared_through_redis(org, make_key):
    """Two processes share the count: here two cache connections to the same Redis."""
    from django.core.cache import caches

    from api import throttling

    assert "redis" in caches["default"].__class__.__module__
    with override_settings(API_RATE_LIMIT_PER_MINUTE=2):
        assert throttling.hit(424242, now=60.0)[0]
        caches["default"].close()
        assert throttling.hit(424242, now=61.0)[0]
        assert not throttling.hit(424242, now=62.0)[0]
