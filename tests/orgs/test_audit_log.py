"""The organization's audit log: admins only, its own events only, 25 a page, newest first, in the
viewer's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from orgs.roles import Role

pytestmark = pytest.mark.django_db


def audit_url(org, page=None) -> str:
    base = reverse("orgs:audit_log", kwargs={"org_slug": org.slug})
    return f"{base}?page={page}" if page else base


def test_paginated_newest_first_in_the_viewers_timezone(client, owner, org, outsider):
    owner.timezone = "Asia/Tokyo"
    owner.save()
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for i in range(30):
        AuditEvent.objects.create(
            org=org,
            actor=owner,
            actor_email=owner.email,
            action="member_role_changed",
            ip="203.0.113.7",
            metadata={"target": f"person{i:02d}@example.com", "old_role": "member", "new_role": "viewer"},
            created_at=start + timedelta(minutes=i),
        )
    AuditEvent.objects.create(
        org=outsider.org, actor=outsider, action="org_renamed", metadata={"target": "SECRET-NAME"}
    )
    AuditEvent.objects.create(actor=owner, action="login")  # personal, not org business

    client.force_login(owner)
    page1 = client.get(audit_url(org)).content.decode()
    assert page1.count("<tr>") - 1 == 25  # header row + 25 events
    # Newest first: event 29 at 12:29 UTC is 21:29 in Tokyo (JST).
    assert page1.index("person29@example.com") < page1.index("person28@example.com")
    assert "2026-03-01 21:29 JST" in page1
    assert "Role changed" in page1 and "owner@example.com" in page1 and "203.0.113.7" in page1
    assert "member → viewer" in page1
    assert "Page 1 of 2" in page1
    assert "SECRET-NAME" not in page1 and "Logged in" not in page1

    page2 = client.get(audit_url(org, 2)).content.decode()
    assert "person04@example.com" in page2 and "person05@example.com" not in page2
    assert "2026-03-01 21:00 JST" in page2
    # A bad page number is the last or first page, never an error.
    assert client.get(audit_url(org, "zzz")).status_code == 200
    assert client.get(audit_url(org, 999)).status_code == 200


@pytest.mark.parametrize("member_role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_cannot_read_it(client, org, member):
    client.force_login(member)
    assert client.get(audit_url(org)).status_code == 403


@pytest.mark.parametrize("member_role", [Role.ADMIN])
def test_actions_show_up_in_the_log(client, org, member):
    client.force_login(member)
    client.post(reverse("orgs:invite", kwargs={"org_slug": org.slug}), {"email": "log@example.com", "role": "member"})
    page = client.get(audit_url(org)).content.decode()
    assert "Invitation sent" in page and "log@example.com" in page and "member@example.com" in page
    assert "127.0.0.1" in page
