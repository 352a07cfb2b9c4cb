import base64
import hashlib

import pytest
from django.core.exceptions import ImproperlyConfigured

from cloustral import crypto


def ring(*kids: str) -> str:
    return ",".join(f"{kid}:{base64.urlsafe_b64encode(hashlib.sha256(kid.encode()).digest()).decode()}" for kid in kids)


@pytest.fixture
def keys(settings):
    def _use(spec: str | None, debug: bool = False):
        settings.ENCRYPTION_KEYS = spec
        settings.DEBUG = debug

    return _use


def test_round_trip_and_key_id_in_token(keys):
    keys(ring("a"))
    token = crypto.encrypt("hunter2", aad="row:1")
    assert token.startswith("v1:a:")
    assert "hunter2" not in token
    assert crypto.decrypt(token, aad="row:1") == "hunter2"


def test_each_encryption_uses_a_fresh_nonce(keys):
    keys(ring("a"))
    assert crypto.encrypt("same", aad="x") != crypto.encrypt("same", aad="x")


def test_ciphertext_bound_to_its_row(keys):
    keys(ring("a"))
    token = crypto.encrypt("secret", aad="row:1")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, aad="row:2")


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-4] + "AAAA", lambda t: "v1:a:" + "x" * 40, lambda t: "plaintext", lambda t: "v2" + t[2:]]
)
def test_tampered_or_foreign_tokens_fail_closed(keys, mangle):
    keys(ring("a"))
    token = crypto.encrypt("secret", aad="r")
    with pytest.raises(crypto.DecryptionError) as exc:
        crypto.decrypt(mangle(token), aad="r")
    assert "secret" not in str(exc.value)


def test_rotation_first_key_encrypts_all_decrypt(keys):
    keys(ring("old"))
    old_token = crypto.encrypt("s3", aad="r")
    keys(ring("new", "old"))
    assert crypto.decrypt(old_token, aad="r") == "s3"
    assert crypto.needs_rotation(old_token)
    rotated = crypto.rotate(old_token, aad="r")
    assert crypto.key_id_of(rotated) == "new"
    keys(ring("new"))
    assert crypto.decrypt(rotated, aad="r") == "s3"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(old_token, aad="r")  # the retired key is gone: fail closed


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nokey", "keyid:base64key"),
        ("a:!!!notbase64", "base64"),
        ("a:" + base64.urlsafe_b64encode(b"short").decode(), "32 bytes"),
        (ring("a") + "," + ring("a"), "twice"),
    ],
)
def test_malformed_key_ring_is_a_clear_error(keys, spec, message):
    keys(spec)
    with pytest.raises(ImproperlyConfigured, match=message):
        crypto.encrypt("x", aad="r")


def test_missing_keys_stop_production(keys):
    keys(None, debug=False)
    with pytest.raises(ImproperlyConfigured, match="ENCRYPTION_KEYS must be set"):
        crypto.key_ring()


def test_missing_keys_in_development_use_a_derived_key(keys):
    keys(None, debug=True)
    assert crypto.decrypt(crypto.encrypt("x", aad="r"), aad="r") == "x"


def test_startup_refuses_a_malformed_ring_in_production(keys):
    from django.apps import apps

    keys("broken", debug=False)
    with pytest.raises(ImproperlyConfigured):
        apps.get_app_config("accounts").ready()


def test_deploy_check_reports_a_bad_ring(keys):
    from accounts.checks import check_encryption_keys

    keys("broken", debug=False)
    assert [e.id for e in check_encryption_keys(None)] == ["cloustral.E001"]
