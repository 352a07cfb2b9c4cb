"""What a support person sees: the search, an organization's page (plan and usage, members with roles
and MFA, connections with their last scans, automations and deliveries, email failures, deletions,
contact requests, the recent audit log) and a person's page (emails, MFA on/off, sign-ins, memberships,
deletion state). Read-only things stay read-only; times are in the staff member's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import SignInEvent, TOTPDevice
from automations.models import Automation, Delivery, Suppression
from orgs.models import Membership
from orgs.roles import Role
from privacy.models import ContactRequest, DeletionRequest
from tests.accounts.helpers import enable_mfa, login_with_mfa
from tests.factories import CloudConnectionFactory, MembershipFactory, SyncRunFactory, UserFactory
from tests.support.conftest import staff_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_org(org, owner, member):
    """``org`` with something in every section of its support page."""
    enable_mfa(owner)
    connection = CloudConnectionFactory(org=org, name="Prod AWS")
    SyncRunFactory(
        connection=connection,
        status="partial",
        progress_total=10,
        completeness_percent=90.0,
        warnings=[{"type": "aws.s3.bucket", "region": "global", "status": "denied", "code": "AccessDenied",
                   "message": "Access denied to s3:ListAllMyBuckets"}],
    )  # fmt: skip
    SyncRunFactory(
        connection=connection, status="failed", errors=[{"code": "expired_token", "message": "The keys expired."}]
    )
    automation = Automation.objects.for_org(org).create(name="Weekly summary")
    Delivery.objects.for_org(org).create(
        automation=automation, automation_name=automation.name, kind="email", category="digest",
        recipient=member.email, subject="Your summary", status="bounced", error="550 mailbox unavailable",
    )  # fmt: skip
    Delivery.objects.unscoped().create(kind="email", recipient=owner.email, subject="Reset your password",
                                       status="failed", error="SMTP timeout")  # fmt: skip
    Suppression.objects.create(address=member.email, reason="bounced")
    DeletionRequest.objects.create(user=member, purge_after=timezone.now() + timedelta(days=30))
    ContactRequest.objects.create(name="Olive", email=owner.email, topic="support", message="Why did my scan fail?")
    return org


def test_search_finds_people_by_email_or_name_and_orgs_by_name_or_slug(support_client, org, owner):
    url = reverse("admin:support_search")
    by_email = support_client.get(url, {"q": "owner@exam"}).content.decode()
    assert reverse("admin:support_user", args=[owner.pk]) in by_email
    assert reverse("admin:support_user", args=[owner.pk]) in support_client.get(url, {"q": "olive"}).content.decode()
    by_name = support_client.get(url, {"q": "acme"}).content.decode()
    assert reverse("admin:support_org", args=[org.pk]) in by_name
    assert reverse("admin:support_org", args=[org.pk]) in support_client.get(url, {"q": "acme-cl"}).content.decode()
    nothing = support_client.get(url, {"q": "zzz-nobody"}).content.decode()
    assert "No organization matches" in nothing and "No person matches" in nothing
    # The admin's own lists search the same way (and paginate).
    users = support_client.get(reverse("admin:accounts_user_changelist"), {"q": "Olive"}).content.decode()
    assert owner.email in users
    orgs = support_client.get(reverse("admin:orgs_organization_changelist"), {"q": "acme-cloud"}).content.decode()
    assert "Acme Cloud" in orgs
    # The index offers the search to those who may use it.
    assert 'data-testid="support-search"' in support_client.get(reverse("admin:index")).content.decode()


def test_long_search_results_are_cut_with_a_link_to_the_paginated_list(support_client):
    for n in range(52):
        UserFactory(email=f"bulk{n:02d}@many.example")
    page = support_client.get(reverse("admin:support_search"), {"q": "many.example"}).content.decode()
    assert page.count("@many.example</a>") == 50
    assert reverse("admin:accounts_user_changelist") + "?q=many.example" in page


def test_org_page_shows_every_section(support_client, busy_org, owner, member):
    page = support_client.get(reverse("admin:support_org", args=[busy_org.pk])).content.decode()
    assert 'data-testid="plan-name">Free<' in page and "Connections" in page  # plan and usage
    members = page.split('data-testid="org-members"')[1].split("</div>")[0]
    assert owner.email in members and member.email in members and "Owner" in members and "Member" in members
    assert members.count('data-testid="member-mfa">on<') == 1 and members.count('data-testid="member-mfa">off<') == 1
    assert "Prod AWS" in page and "Partly collected" in page and "90.0% of 10 steps" in page
    assert "AccessDenied" in page and "Access denied to s3:ListAllMyBuckets" in page  # warnings as the user saw them
    assert "expired_token" in page and "The keys expired." in page  # run-level errors
    assert "Weekly summary" in page and "550 mailbox unavailable" in page  # automations and their deliveries
    assert "Reset your password" in page and "SMTP timeout" in page  # an account email to a member that failed
    assert f"{member.email} · Hard bounce" in page  # a member's suppressed address
    deletions = page.split('data-testid="org-deletions"')[1].split("</div>")[0]
    assert member.email in deletions
    assert "Why did my scan fail?" in page  # contact requests


def test_org_page_shows_the_recent_audit_log(support_client, org, owner):
    from accounts import audit

    audit.record("member_role_changed", actor=owner, org=org, target="mel@example.com")
    page = support_client.get(reverse("admin:support_org", args=[org.pk])).content.decode()
    audit_section = page.split('data-testid="org-audit"')[1]
    assert "Role changed" in audit_section and "mel@example.com" in audit_section


def test_user_page_shows_emails_mfa_sign_ins_orgs_and_deletion(support_client, org, member):
    enable_mfa(member)
    EmailAddress.objects.create(user=member, email="mel.other@example.com", verified=False)
    SignInEvent.objects.create(user=member, ip="203.0.113.9", ip_network="203.0.113.0/24", browser="Firefox on Linux")
    DeletionRequest.objects.create(user=member, purge_after=timezone.now() + timedelta(days=30))
    page = support_client.get(reverse("admin:support_user", args=[member.pk])).content.decode()
    assert "mel.other@example.com" in page and 'data-testid="action-resend-verification"' in page
    assert 'data-testid="user-mfa">on' in page
    assert "203.0.113.0/24" in page and "Firefox on Linux" in page
    assert reverse("admin:support_org", args=[org.pk]) in page and "Acme Cloud" in page
    assert "pending: asked" in page and 'data-testid="action-cancel-deletion"' in page
    assert reverse("admin:accounts_signinevent_changelist") + f"?user__id__exact={member.pk}" in page


def test_times_are_in_the_staff_members_timezone(support_client, org):
    org.created_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    org.save()
    page = support_client.get(reverse("admin:support_org", args=[org.pk])).content.decode()
    assert "2026-03-01 21:00 JST" in page  # Asia/Tokyo, the support user's timezone
    change = support_client.get(reverse("admin:orgs_organization_change", args=[org.pk])).content.decode()
    assert "March 1, 2026, 9 p.m." in change  # the admin's own format, same timezone


def test_long_lists_are_paginated(support_client, member):
    SignInEvent.objects.bulk_create(
        SignInEvent(user=member, ip="203.0.113.9", ip_network="203.0.113.0/24", browser="Firefox") for _ in range(130)
    )
    page = support_client.get(reverse("admin:support_user", args=[member.pk])).content.decode()
    assert page.count("203.0.113.0/24") == 20  # the most recent, with a link to all of them
    full = support_client.get(reverse("admin:accounts_signinevent_changelist"), {"user__id__exact": member.pk})
    assert full.status_code == 200 and f"?p=2&amp;user__id__exact={member.pk}" in full.content.decode()


def test_support_can_look_but_not_change(support_client, org, member):
    membership = Membership.objects.for_org(org).get(user=member)
    change_url = reverse("admin:orgs_membership_change", args=[membership.pk])
    page = support_client.get(change_url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert support_client.post(change_url, {"role": Role.ADMIN}).status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER
    assert support_client.get(reverse("admin:orgs_membership_add")).status_code == 403
    assert (
        support_client.post(reverse("admin:orgs_membership_delete", args=[membership.pk]), {"post": "yes"}).status_code
        == 403
    )
    user_url = reverse("admin:accounts_user_change", args=[member.pk])
    assert b'name="_save"' not in support_client.get(user_url).content
    assert support_client.post(user_url, {"email": "x@example.com", "is_staff": "on"}).status_code == 403
    member.refresh_from_db()
    assert not member.is_staff and member.email == "member@example.com"
    connection = CloudConnectionFactory(org=org)
    assert (
        b'name="_save"'
        not in support_client.get(reverse("admin:connections_cloudconnection_change", args=[connection.pk])).content
    )
    assert Membership.objects.for_org(org).filter(user=member).exists()


def test_support_cannot_take_superuser_actions(support_client, chief_client, member):
    device = enable_mfa(member)
    delete_url = reverse("admin:accounts_totpdevice_delete", args=[device.pk])  # an MFA reset: superusers only
    assert support_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert support_client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 403
    assert support_client.get(reverse("admin:auth_group_changelist")).status_code == 403
    assert chief_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert chief_client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 200


def test_staff_groups_come_from_the_migration():
    support = Group.objects.get(name="support")
    codenames = set(support.permissions.values_list("codename", flat=True))
    assert {
        "view_organization",
        "view_membership",
        "view_cloudconnection",
        "view_syncrun",
        "view_delivery",
    } <= codenames
    assert {"use_console", "start_scan", "cancel_scan", "clear_suppression", "extend_trial"} <= codenames
    assert not {c for c in codenames if c.startswith(("change_", "add_", "delete_"))}
    assert "view_auditevent" not in codenames
    superuser = Group.objects.get(name="superuser")
    assert {"change_membership", "delete_totpdevice", "view_auditevent", "use_console"} <= set(
        superuser.permissions.values_list("codename", flat=True)
    )


def test_staff_without_mfa_reach_no_console_page(client, org):
    helper = staff_in("support", "nomfa@staff.example")
    client.force_login(helper)
    for url in (
        reverse("admin:index"),
        reverse("admin:support_search"),
        reverse("admin:support_org", args=[org.pk]),
        reverse("admin:orgs_organization_changelist"),
        reverse("admin:support_action", args=["start-scan", 1]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("mfa_setup"), url


def test_staff_outside_the_groups_and_customers_are_kept_out(org, owner):
    loner = UserFactory(email="loner@staff.example", is_staff=True)
    client = login_with_mfa(Client(), loner)
    assert client.get(reverse("admin:support_org", args=[org.pk])).status_code == 403
    assert client.get(reverse("admin:support_search")).status_code == 403
    customer = login_with_mfa(Client(), owner)
    response = customer.get(reverse("admin:support_org", args=[org.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_unknown_ids_are_404_never_500(support_client, chief_client):
    for url in (
        reverse("admin:support_org", args=[999999]),
        reverse("admin:support_user", args=[999999]),
        reverse("admin:support_action", args=["start-scan", 999999]),
        reverse("admin:support_action", args=["cancel-scan", 999999]),
        reverse("admin:support_action", args=["no-such-action", 1]),
        f"/{reverse('admin:index').strip('/')}/support/orgs/not-a-number/",
    ):
        assert support_client.get(url).status_code == 404, url
        assert support_client.post(url).status_code in (403, 404, 405), url
    # The admin's own change views answer a missing or malformed id with a redirect, not an error.
    for pk in ("999999", "abc"):
        url = reverse("admin:orgs_membership_change", args=[pk])
        assert chief_client.get(url).status_code == 302
        assert chief_client.post(url, {"role": "owner"}).status_code in (302, 403)


def test_console_pages_take_only_get(support_client, org):
    assert support_client.post(reverse("admin:support_org", args=[org.pk])).status_code == 405
    assert support_client.delete(reverse("admin:support_action", args=["extend-trial", org.pk])).status_code == 405


def test_deactivated_members_are_shown_as_such(support_client, org, member):
    MembershipFactory(org=org, user=UserFactory(email="later@example.com", is_active=False))
    page = support_client.get(reverse("admin:support_org", args=[org.pk])).content.decode()
    assert "later@example.com" in page and "deactivated" in page


def test_every_console_url_is_closed_to_customers_and_staff_outside_the_groups(client, org, owner):
    """A walk over the console's own routes (support/urls.py): anonymous visitors and customers are sent
    to the admin's login (which refuses non-staff), staff in neither group get a 403."""
    from support.site import SupportAdminSite
    from support.urls import console_urls

    samples = {"org_id": org.pk, "user_id": owner.pk, "action": "start-scan", "object_id": org.pk}
    routes = console_urls(SupportAdminSite())
    loner = login_with_mfa(Client(), UserFactory(email="loner@staff.example", is_staff=True))
    customer = login_with_mfa(Client(), owner)
    for route in routes:
        kwargs = {k: samples[k] for k in route.pattern.converters}
        path = reverse(f"admin:{route.name}", kwargs=kwargs)
        for who in (client, customer):
            response = who.get(path)
            assert response.status_code == 302 and "login" in response["Location"], (path, response.status_code)
        assert loner.get(path).status_code == 403, path
    assert len(routes) == 4


def test_support_sees_every_product_model_and_changes_none(support_client):
    from django.contrib import admin

    from support.permissions import SUPERUSER_ONLY_VIEWS, VISIBLE_APPS
    from tests.support import world

    world.build()
    checked = 0
    for model in admin.site._registry:
        meta = model._meta
        if meta.app_label not in VISIBLE_APPS or f"view_{meta.model_name}" in SUPERUSER_ONLY_VIEWS:
            continue
        listing = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert support_client.get(listing).status_code == 200, listing
        obj = model._base_manager.first()
        change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        page = support_client.get(change)
        assert page.status_code == 200 and b'name="_save"' not in page.content, change
        assert support_client.post(change, {}).status_code == 403, change
        checked += 1
    assert checked >= 30


def test_the_org_page_runs_a_fixed_number_of_queries(support_client, busy_org):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:support_org", args=[busy_org.pk])
    support_client.get(url)  # the first request after the login also starts the staff session's clocks
    with CaptureQueriesContext(db) as small:
        assert support_client.get(url).status_code == 200
    for n in range(5):
        connection = CloudConnectionFactory(org=busy_org, name=f"Extra {n}")
        for _ in range(4):
            SyncRunFactory(connection=connection)
        MembershipFactory(org=busy_org)
    with CaptureQueriesContext(db) as large:
        assert support_client.get(url).status_code == 200
    assert len(large) == len(small) <= 35
