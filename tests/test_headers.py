"""Headers of cloustral.middleware.SecurityHeadersMiddleware: a restrictive Permissions-Policy on every
response, and ``Cache-Control: no-store`` on HTML answered to a signed-in user, and only there."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory
from django.urls import reverse

from cloustral.middleware import PERMISSIONS_POLICY, SecurityHeadersMiddleware


def _policy(response) -> dict[str, str]:
    return dict(item.strip().split("=", 1) for item in response["Permissions-Policy"].split(","))


def test_the_anonymous_login_page_has_the_permissions_policy(client, db):
    page = client.get(reverse("account_login"))
    assert page.status_code == 200
    policy = _policy(page)
    for feature in ("camera", "microphone", "geolocation", "usb"):
        assert policy[feature] == "()", feature
    assert policy["payment"] == "(self)"  # room for Stripe Elements, on our own pages only


def test_a_signed_in_page_is_not_stored(client_for, owner, org):
    page = client_for(owner).get(reverse("dashboard:home", args=[org.slug]))
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "no-store" in page["Cache-Control"] and "private" in page["Cache-Control"]
    assert page["Permissions-Policy"] == PERMISSIONS_POLICY


def test_an_htmx_partial_for_a_signed_in_user_is_not_stored(client_for, owner, org):
    url = reverse("dashboard:explorer", args=[org.slug])
    partial = client_for(owner).get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="explorer-results")
    assert partial.status_code == 200 and "no-store" in partial["Cache-Control"]


def test_error_pages_get_the_headers_too(client_for, owner, outsider, org):
    missing = client_for(outsider).get(reverse("dashboard:home", args=[org.slug]))
    assert missing.status_code == 404
    assert missing["Permissions-Policy"] == PERMISSIONS_POLICY and "no-store" in missing["Cache-Control"]


def test_static_files_keep_their_own_caching(client_for, owner):
    static = client_for(owner).get("/static/css/app.css")
    assert static.status_code == 200
    assert "no-store" not in static.get("Cache-Control", "")


@pytest.mark.parametrize(
    ("response", "authenticated", "no_store"),
    [
        (HttpResponse("<p>hi</p>"), True, True),
        (HttpResponse("<p>hi</p>"), False, False),
        (JsonResponse({"a": 1}), True, True),  # a resource's raw JSON holds its configuration too
        (HttpResponse("<p>hi</p>", headers={"Cache-Control": "private, max-age=60"}), True, False),
    ],
    ids=["html-signed-in", "html-anonymous", "json", "own-cache-control"],
)
def test_the_middleware_alone(response, authenticated, no_store, django_user_model, db):
    request = RequestFactory().get("/")
    request.user = django_user_model(email="x@example.com") if authenticated else AnonymousUser()
    own = response.get("Cache-Control")
    result = SecurityHeadersMiddleware(lambda _request: response)(request)
    assert result["Permissions-Policy"] == PERMISSIONS_POLICY
    assert ("no-store" in result.get("Cache-Control", "")) is no_store
    if own:
        assert result["Cache-Control"] == own


def test_a_view_that_sets_its_own_permissions_policy_keeps_it(db):
    response = HttpResponse(headers={"Permissions-Policy": "camera=(self)"})
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    assert SecurityHeadersMiddleware(lambda _r: response)(request)["Permissions-Policy"] == "camera=(self)"
