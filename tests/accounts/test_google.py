"""Sign in with Google: configured from the environment; the Google account id is stored. Google's
token endpoint and id-token verification are faked at their boundary (no network here)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from accounts.models import User

GOOGLE_SUB = "109876543210987654321"


@pytest.fixture
def google(settings, monkeypatch):
    settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = "cid.apps.googleusercontent.com", "gsecret"
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {
            **settings.SOCIALACCOUNT_PROVIDERS["google"],
            "APPS": [{"client_id": "cid.apps.googleusercontent.com", "secret": "gsecret", "key": ""}],
        }
    }
    from allauth.socialaccount.providers.google import views as google_views
    from allauth.socialaccount.providers.oauth2.client import OAuth2Client

    monkeypatch.setattr(
        OAuth2Client,
        "get_access_token",
        lambda self, code, pkce_code_verifier=None, extra_data=None: {
            "access_token": "at",
            "id_token": "idt",
            "expires_in": 3600,
        },
    )
    claims = {
        "sub": GOOGLE_SUB,
        "email": "gina@example.com",
        "email_verified": True,
        "given_name": "Gina",
        "family_name": "G",
    }
    monkeypatch.setattr(google_views, "_verify_and_decode", lambda app, credential, verify_signature=True: claims)


def test_google_sign_up_stores_the_google_account_id(client, db, google):
    start = client.post("/accounts/google/login/")
    assert start.status_code == 302 and start["Location"].startswith("https://accounts.google.com/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    callback = client.get("/accounts/google/login/callback/", {"code": "c0de", "state": state})
    assert callback.status_code == 302 and "/accounts/3rdparty/signup/" in callback["Location"]
    form = client.get(callback["Location"])
    assert b"I am 18 years of age or older" in form.content
    done = client.post(
        callback["Location"],
        {"email": "gina@example.com", "organization_name": "Gina Co", "timezone": "UTC", "confirm_age": "on"},
    )
    assert done.status_code == 302, done.content.decode()[:2000]
    user = User.objects.get(email="gina@example.com")
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("google", GOOGLE_SUB)
    assert user.age_confirmed_at is not None and user.signup_org_name == "Gina Co"
    assert client.get(reverse("profile")).status_code == 200
