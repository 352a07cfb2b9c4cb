"""The legal pages, the footer of every page, the sign-up and "check your email" pages, and the map from
each promise of the privacy policy to the code that keeps it (docs/privacy.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template.loader import get_template
from django.urls import reverse

from privacy.subprocessors import LAST_CHANGED, SUBPROCESSORS

ROOT = Path(__file__).resolve().parents[2]
FOOTER_LINKS = {
    "Privacy policy": "/legal/privacy/",
    "Cookie policy": "/legal/privacy/#cookies",
    "Sub-processors": "/legal/sub-processors/",
    "Terms of service": "/legal/terms/",
    "Contact": "/contact/",
}


def _footer(html: str) -> str:
    return html[html.index('<footer class="footer privacy-footer">') : html.index("</footer>")]


def _assert_footer(html: str) -> None:
    footer = _footer(html)
    for label, href in FOOTER_LINKS.items():
        assert f'<a href="{href}">{label}</a>' in footer, label
    assert "data-cookie-settings" in footer and "Cookie settings" in footer


@pytest.mark.parametrize("name", ["account_login", "account_signup", "account_reset_password", "privacy:contact"])
def test_footer_on_public_pages(client, db, name):
    _assert_footer(client.get(reverse(name)).content.decode())


def test_footer_on_signed_in_pages(client_for, member, org):
    c = client_for(member)
    pages = [reverse("dashboard:home", args=[org.slug]), reverse("profile"), reverse("orgs:members", args=[org.slug])]
    for url in pages:
        _assert_footer(c.get(url).content.decode())


def test_footer_on_error_pages(client_for, outsider, org):
    response = client_for(outsider).get(reverse("orgs:members", args=[org.slug]))
    assert response.status_code == 404
    _assert_footer(response.content.decode())


@pytest.mark.parametrize("name", ["privacy:policy", "privacy:subprocessors", "privacy:terms"])
def test_legal_pages_are_public(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert client.post(reverse(name)).status_code == 405


def test_policy_has_the_cookie_policy_section(client, db):
    page = client.get(reverse("privacy:policy")).content.decode()
    assert '<section id="cookies">' in page
    for cookie in ("sessionid", "csrftoken", "cloustral.consent"):
        assert f"<code>{cookie}</code>" in page
    assert "30 days" in page and "72 hours" in page


def test_subprocessors_page_lists_the_data_with_its_date(client, db):
    page = client.get(reverse("privacy:subprocessors")).content.decode()
    for sp in SUBPROCESSORS:
        assert sp.name in page and sp.purpose in page and sp.location in page
    assert f'datetime="{LAST_CHANGED:%Y-%m-%d}"' in page
    purposes = " ".join(sp.purpose.lower() for sp in SUBPROCESSORS)
    for kind in ("hosting", "email", "payment", "analytics", "google"):
        assert kind in purposes


def test_signup_links_to_the_terms_and_the_privacy_policy(client, db):
    page = client.get(reverse("account_signup")).content.decode()
    legal = page[page.index('data-testid="signup-legal"') :]
    assert 'href="/legal/terms/"' in legal[:400] and 'href="/legal/privacy/"' in legal[:400]
    assert 'name="email"' in page  # allauth's form is still there


def test_the_confirm_email_page_links_contact(client, db):
    html = get_template("account/verification_sent.html").render({}, None)
    assert 'href="/contact/?topic=support">Contact us</a>' in html


def test_profile_links_export_and_deletion(client_for, member):
    page = client_for(member).get(reverse("profile")).content.decode()
    assert reverse("privacy:export") in page and reverse("privacy:delete_account") in page


def test_owners_see_data_and_privacy_in_the_menu(client_for, owner, member, org):
    link = reverse("privacy:org", args=[org.slug])
    assert link in client_for(owner).get(reverse("orgs:members", args=[org.slug])).content.decode()
    assert link not in client_for(member).get(reverse("orgs:members", args=[org.slug])).content.decode()


# --- the policy, sentence by sentence ------------------------------------------------------------


def test_the_security_page_shows_the_log_with_ip(client, member):
    from tests.conftest import PASSWORD

    client.post(reverse("account_login"), {"login": member.email, "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")
    page = client.get(reverse("security")).content.decode()
    assert "Logged in" in page and "203.0.113.7" in page


def test_profile_corrects_name_and_timezone(client_for, member):
    c = client_for(member)
    c.post(reverse("profile"), {"first_name": "Melanie", "last_name": "Lee", "timezone": "Asia/Tokyo"})
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.timezone) == ("Melanie", "Lee", "Asia/Tokyo")
    assert reverse("account_email") in c.get(reverse("profile")).content.decode()  # the address, too


def test_docs_map_every_promise_of_the_policy_to_code():
    policy = (ROOT / "templates" / "privacy" / "policy.html").read_text()
    claims = re.findall(r'data-claim="([a-z0-9-]+)"', policy)
    assert len(claims) == len(set(claims)) >= 20
    docs = (ROOT / "docs" / "privacy.md").read_text()
    mapped = re.findall(r"^\|\s*`([a-z0-9-]+)`\s*\|", docs, re.MULTILINE)
    assert sorted(mapped) == sorted(claims), "docs/privacy.md must have one row per data-claim of the policy"
    # Each row names code that exists.
    for line in docs.splitlines():
        if re.match(r"^\|\s*`[a-z0-9-]+`\s*\|", line):
            paths = re.findall(r"`([\w/.-]+\.(?:py|js|html|md))(?::[\w.]+)?`", line)
            assert paths, f"no code named for: {line[:80]}"
            for path in paths:
                assert (ROOT / path).exists(), f"docs/privacy.md names {path}, which does not exist"
