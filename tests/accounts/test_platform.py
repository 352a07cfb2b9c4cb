"""Production posture: headers, cookies, deploy checks, error pages, key rotation, admin, health."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from accounts.models import TOTPDevice
from cloustral import crypto
from tests.accounts.helpers import enable_mfa, login_with_mfa
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x7!k2#production-like-secret-key-with-plenty-of-entropy-9f8e7d6c5b4a",
    "ENCRYPTION_KEYS": "k1:" + "A" * 43,
    "ALLOWED_HOSTS": "cloustral.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "",
}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEBUG", "SECURE_", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC"))
    }
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ENCRYPTION_KEYS": ""}, "ENCRYPTION_KEYS must be set"),
        ({"ENCRYPTION_KEYS": "k1:tooshort"}, "must decode to 32 bytes"),
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
    ],
)
def test_production_start_up_stops_on_bad_configuration(env, message):
    result = run_manage("check", **{**PRODUCTION_ENV, **env})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_without_redis_is_flagged():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION_ENV, "REDIS_URL": ""})
    assert result.returncode != 0
    assert "cloustral.W001" in result.stderr + result.stdout


def test_security_headers_and_csp(client, db):
    response = client.get(reverse("account_login"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "'nonce-" in csp and "'unsafe-inline'" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_session_and_csrf_cookies_are_hardened(client, user, settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client.get(reverse("account_login"))
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD}, secure=True)
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"


def test_csrf_is_enforced_on_state_changing_requests(user, db):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 403


def test_not_found_page_is_styled(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content and b"app.css" in response.content


def test_server_error_page_is_styled_and_shows_no_traceback(client, db, settings):
    from django.urls import path

    def boom(request):
        raise RuntimeError("secret internals")

    import cloustral.urls as project_urls

    settings.ROOT_URLCONF = type("U", (), {"urlpatterns": [path("boom/", boom), *project_urls.urlpatterns]})
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"secret internals" not in response.content and b"Traceback" not in response.content


def test_healthz(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"


def test_rotate_encryption_keys_command(user, settings, capsys):
    settings.ENCRYPTION_KEYS = "old:" + "B" * 43
    device = enable_mfa(user, b"k" * 20)
    assert crypto.key_id_of(device.encrypted_key) == "old"
    settings.ENCRYPTION_KEYS = "new:" + "C" * 43 + ",old:" + "B" * 43
    call_command("rotate_encryption_keys")
    out = capsys.readouterr().out
    assert "accounts.TOTPDevice.encrypted_key: 1 rotated, 0 already current, 0 failed" in out
    device.refresh_from_db()
    assert crypto.key_id_of(device.encrypted_key) == "new"
    assert device.bin_key() == b"k" * 20
    call_command("rotate_encryption_keys")
    assert "0 rotated, 1 already current" in capsys.readouterr().out


def test_admin_never_shows_totp_secrets(client, user, make_user):
    device = enable_mfa(user, b"s" * 20)
    login_with_mfa(client, make_user("root@example.com", is_staff=True, is_superuser=True), b"r" * 20)
    pages = [
        client.get(reverse("admin:accounts_totpdevice_changelist")),
        client.get(reverse("admin:accounts_totpdevice_change", args=[device.pk])),
        client.get(reverse("admin:accounts_user_change", args=[user.pk])),
    ]
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        assert device.encrypted_key not in text and (b"s" * 20).hex() not in text


def test_no_plaintext_totp_secret_anywhere_in_the_database(user):
    raw = b"plaintext-never-here"
    enable_mfa(user, raw)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_totpdevice")
        rows = cursor.fetchall()
    dump = repr(rows)
    assert raw.hex() not in dump and "plaintext-never-here" not in dump
    assert TOTPDevice.objects.get(user=user).bin_key() == raw


def test_google_sign_in_configured_from_environment(settings, client, db):
    response = client.get(reverse("account_login"))
    assert b"/accounts/google/login/" not in response.content
    settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = "cid.apps.googleusercontent.com", "gsecret"
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {
            **settings.SOCIALACCOUNT_PROVIDERS["google"],
            "APPS": [{"client_id": "cid.apps.googleusercontent.com", "secret": "gsecret", "key": ""}],
        }
    }
    response = client.get(reverse("account_login"))
    assert b"/accounts/google/login/" in response.content
    redirect = client.post("/accounts/google/login/")
    assert redirect.status_code == 302 and "accounts.google.com" in redirect["Location"]
    assert "client_id=cid.apps.googleusercontent.com" in redirect["Location"]
    assert "gsecret" not in redirect["Location"]


def test_disallowed_host_is_a_400_page_not_a_500(client, db):
    client.raise_request_exception = False
    response = client.get("/accounts/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert b"Bad request" in response.content
