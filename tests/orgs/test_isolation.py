"""Tenant isolation, for every URL of the project, present and future.

Each URL pattern that takes an identifier (an org slug, an object id, any kwarg) is requested, GET
and POST, by a member of another organization (who owns an organization with data of its own), with
the victim organization's real slug and object ids. The answer must be 404: the same as for
something that does not exist, so nothing confirms that the victim's objects exist. A pattern that
takes a kwarg nobody registered fails the test until its sample is added to ``urlwalk.SAMPLES``.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from tests.api.conftest import KeyClient
from tests.orgs.urlwalk import (
    CONSTANTS,
    SAMPLES,
    Route,
    World,
    api_methods,
    api_routes,
    build_world,
    url_for,
    walk_urls,
)

# Patterns that take an identifier but do not serve organization data, each with the reason.
# Keep this list short; everything else must be org-scoped.
NOT_ORG_SCOPED: dict[str, str] = {
    "orgs:invitation": "a bearer link: the token is the credential, not an org id (see test_invitations.py)",
    "account_confirm_email": "allauth: the key from the confirmation email",
    "account_reset_password_from_key": "allauth: the key from the password reset email",
    "automations:unsubscribe": "a signed one-click unsubscribe link: the token is the credential (tests/automations)",
    "privacy:restore_account": "the signed link of the deletion email: the token is the credential (tests/privacy)",
}
# Whole namespaces outside tenant data: the Django admin is for staff only (checked below).
STAFF_ONLY_NAMESPACES = {"admin"}


def routes_with_identifiers() -> list[Route]:
    return [r for r in walk_urls() if r.kwargs]


def _param_id(route: Route) -> str:
    return route.name or route.route


# The REST API authenticates with keys, not the session: its routes are walked with another
# organization's API keys below (test_other_orgs_api_keys_get_404_everywhere).
API_ROUTES = {r.name for r in api_routes()}


def _is_exempt(route: Route) -> bool:
    return (
        route.name in NOT_ORG_SCOPED
        or route.namespace.split(":")[0] in STAFF_ONLY_NAMESPACES
        or route.name in API_ROUTES
    )


@pytest.fixture
def victim(db) -> World:
    return build_world("Victim Corp")


@pytest.fixture
def attacker(outsider, client_for):
    return client_for(outsider)


@pytest.mark.parametrize("route", [r for r in routes_with_identifiers() if not _is_exempt(r)], ids=_param_id)
@pytest.mark.parametrize("method", ["get", "post"])
def test_other_orgs_member_gets_404_everywhere(route, method, victim, outsider, attacker):
    url = url_for(route, victim)
    response = getattr(attacker, method)(url)
    assert response.status_code == 404, f"{method.upper()} {url} ({route}) answered {response.status_code}"

    # The same object ids under the outsider's own organization (where they are an owner with every
    # permission): the object lookup itself must be scoped to the current organization.
    if "org_slug" in route.kwargs and any(k in SAMPLES and k != "org_slug" for k in route.kwargs):
        allowed = {m.lower() for m in (route.org_methods or ("GET", "POST"))}
        if method in allowed:
            url = url_for(route, victim, {"org_slug": outsider.org.slug})
            response = getattr(attacker, method)(url)
            assert response.status_code == 404, f"{method.upper()} {url} ({route}) answered {response.status_code}"


def test_every_org_slug_route_goes_through_org_view():
    unscoped = [str(r) for r in routes_with_identifiers() if "org_slug" in r.kwargs and r.org_capability is None]
    assert not unscoped, f"These views take org_slug without @org_view (orgs/decorators.py): {unscoped}"


def test_registered_samples_and_exemptions_are_all_used():
    routes = routes_with_identifiers()
    used_kwargs = {k for r in routes for k in r.kwargs}
    registered = set(SAMPLES) | set(CONSTANTS)
    assert registered <= used_kwargs, f"SAMPLES/CONSTANTS entries no URL uses any more: {registered - used_kwargs}"
    names = {r.name for r in routes}
    assert set(NOT_ORG_SCOPED) <= names, f"NOT_ORG_SCOPED entries no URL has: {set(NOT_ORG_SCOPED) - names}"


def test_there_are_org_routes_to_check():
    # Guards the walker itself: if it found nothing, every test above would pass vacuously.
    checked = [r for r in routes_with_identifiers() if not _is_exempt(r)]
    assert len(checked) >= 10
    assert any(r.name == "orgs:remove_member" for r in checked)


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_and_foreign_org_slugs_are_the_same_404(method, victim, attacker):
    foreign = getattr(attacker, method)(reverse("dashboard:home", kwargs={"org_slug": victim.org.slug}))
    missing = getattr(attacker, method)(reverse("dashboard:home", kwargs={"org_slug": "no-such-org"}))
    assert foreign.status_code == missing.status_code == 404
    assert victim.org.name.encode() not in foreign.content


def test_staff_only_admin_is_closed_to_org_members(victim, attacker):
    # The outsider owns an organization but is not staff: every admin page sends them to the admin login.
    url = reverse("admin:orgs_organization_change", kwargs={"object_id": victim.org.pk})
    response = attacker.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/{settings.ADMIN_URL}login/")


def test_anonymous_visitors_are_sent_to_login(client, victim):
    response = client.get(reverse("orgs:members", kwargs={"org_slug": victim.org.slug}))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


# --- the REST API: another organization's keys, organization and personal, get 404 on every object ---

API_OBJECT_CASES = [
    (route, method)
    for route in api_routes()
    if any(k in SAMPLES for k in route.kwargs)
    for method in api_methods(route)
]


@pytest.mark.parametrize(("route", "method"), API_OBJECT_CASES, ids=[f"{r.name}-{m}" for r, m in API_OBJECT_CASES])
def test_other_orgs_api_keys_get_404_everywhere(route, method, victim, outsider):
    from api.actions import do_create_api_key

    url = url_for(route, victim)
    _, org_token = do_create_api_key(outsider.org, user=outsider, kind="org", name="attacker", scope="read_write")
    _, personal_token = do_create_api_key(
        outsider.org, user=outsider, kind="personal", name="attacker's own", scope="read_write"
    )
    for token in (org_token, personal_token):
        response = getattr(KeyClient(token), method.lower())(url)
        assert response.status_code == 404, f"{method} {url} ({route}) answered {response.status_code}"
        assert response.json()["code"] == "not_found"
    # Without a key: 401, whatever the object.
    assert getattr(KeyClient(None), method.lower())(url).status_code == 401
    # The victim's own key reaches the object (so the 404 above is about the organization, not the URL).
    if method == "GET":
        own = KeyClient(victim.extra["api_token"]).get(url)
        assert own.status_code == 200, f"GET {url} with the victim's key answered {own.status_code}"


def test_the_api_walk_sees_every_object_endpoint():
    names = {route.name for route, _ in API_OBJECT_CASES}
    assert {"api:resource", "api:finding", "api:finding_suppress", "api:scan_cancel", "api:custom_rule"} <= names
    assert len(API_OBJECT_CASES) >= 10
