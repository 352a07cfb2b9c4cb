"""Exports: a person's data and an organization's, built by the task into a zip (one JSON file per table
and a README), delivered by a signed link that works for the requester only and expires."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from orgs.roles import Role
from privacy import exports, tables
from privacy.archive import ArchiveWriter
from privacy.models import ConsentRecord, ExportJob
from tests.factories import MembershipFactory, UserFactory
from tests.privacy.conftest import SECRETS, clock_at, days, estate

LINK = re.compile(r"https?://[^\s]+/privacy/exports/download/([^/\s]+)/")


def _link_token(message) -> str:
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def _archive(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:500]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _table(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return json.loads(archive.read(f"{name}.json"))


# --- a person's export ---------------------------------------------------------------------------


def test_person_export_end_to_end(client_for, member, org, django_capture_on_commit_callbacks):
    ConsentRecord.objects.create(browser_id="7f0c5c1e-1c1b-4a53-9a51-0d4c4b6a0e11", user=member, analytics=True,
                                 policy_version="2026-11-01")  # fmt: skip
    c = client_for(member)
    c.post(reverse("profile"), {"first_name": "Mel", "last_name": "Lee", "timezone": "Europe/Paris"})
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(reverse("privacy:export"))
    job = ExportJob.objects.for_user(member).get()
    assert response.status_code == 302 and response["Location"] == reverse("privacy:export_detail", args=[job.pk])
    assert job.status == "ready" and job.kind == "person" and job.org is None  # eager Celery: built already

    # The progress page and its htmx panel.
    page = c.get(reverse("privacy:export_detail", args=[job.pk])).content.decode()
    assert 'data-status="ready"' in page and "hx-get" not in page

    # The emailed link, signed and bound to the person.
    [message] = [m for m in mail.outbox if m.to == [member.email] and "export" in m.subject.lower()]
    assert message.alternatives and "text/html" in message.alternatives[0][1]
    archive = _archive(c.get(reverse("privacy:export_download", args=[_link_token(message)])))
    names = set(archive.namelist())
    for expected in ("profile", "email_addresses", "memberships", "audit_events", "notification_settings",
                     "consent_history", "two_factor_devices", "analytics_events", "contact_requests"):  # fmt: skip
        assert f"{expected}.json" in names
    assert "README.md" in names
    [profile] = _table(archive, "profile")
    assert profile["email"] == member.email and profile["last_name"] == "Lee" and profile["timezone"] == "Europe/Paris"
    assert "password" not in profile
    assert [m["org__name"] for m in _table(archive, "memberships")] == [org.name]
    assert _table(archive, "consent_history")[0]["analytics"] is True
    actions = {e["action"] for e in _table(archive, "audit_events")}
    assert {"profile_updated", "data_export_requested"} <= actions
    readme = archive.read("README.md").decode()
    assert "one JSON file per table" in readme.replace("One JSON", "one JSON") and "`profile.json`" in readme
    # Nobody else's data.
    assert org.memberships.count() == 2
    assert b"owner@example.com" not in b"".join(archive.read(n) for n in names if n != "README.md")
    # Downloading is audited and recorded.
    job.refresh_from_db()
    assert job.downloaded_at is not None
    assert AuditEvent.objects.filter(actor=member, action="data_export_downloaded").exists()


def test_a_second_request_joins_the_export_under_way(member, monkeypatch):
    monkeypatch.setattr(exports, "_enqueue", lambda job_id: None)  # stays queued
    first, created = exports.do_request_export(member)
    again, created_again = exports.do_request_export(member)
    assert created and not created_again and again.pk == first.pk


def test_progress_panel_polls_while_the_export_is_built(client_for, member, monkeypatch):
    monkeypatch.setattr(exports, "_enqueue", lambda job_id: None)
    job, _ = exports.do_request_export(member)
    ExportJob.objects.for_user(member).filter(pk=job.pk).update(
        status="running", progress_done=3, progress_total=11, current_table="memberships", rows_written=42
    )
    panel = client_for(member).get(reverse("privacy:export_progress", args=[job.pk])).content.decode()
    assert "hx-get" in panel and 'hx-trigger="every 2s"' in panel
    assert "3 of 11 tables" in panel and "memberships" in panel and "42 rows" in panel


def test_another_persons_export_is_a_404(client_for, member, owner, monkeypatch):
    monkeypatch.setattr(exports, "_enqueue", lambda job_id: None)
    job, _ = exports.do_request_export(member)
    c = client_for(owner)
    for name in ("privacy:export_detail", "privacy:export_progress"):
        assert c.get(reverse(name, args=[job.pk])).status_code == 404
        assert c.post(reverse(name, args=[job.pk])).status_code == 404


# --- the link ------------------------------------------------------------------------------------


def _ready_job(user):
    job, _ = exports.do_request_export(user)
    exports.build(job.pk)
    job.refresh_from_db()
    assert job.status == "ready"
    return job


def test_link_works_only_for_the_person_who_asked(client_for, member, owner):
    job = _ready_job(member)
    token = exports.download_token(job)
    other = client_for(owner).get(reverse("privacy:export_download", args=[token]))
    assert other.status_code == 404 and b"another account" in other.content
    anonymous = client_for(member)
    anonymous.logout()
    response = anonymous.get(reverse("privacy:export_download", args=[token]))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


@pytest.mark.parametrize("damage", ["truncated", "tampered", "garbage"])
def test_a_damaged_link_gets_a_clear_page(client_for, member, damage):
    token = exports.download_token(_ready_job(member))
    bad = {"truncated": token[:-5], "tampered": token.replace(token[2], "x" if token[2] != "x" else "y", 1),
           "garbage": "not-a-token"}[damage]  # fmt: skip
    response = client_for(member).get(reverse("privacy:export_download", args=[bad]))
    assert response.status_code == 404
    assert b"not valid" in response.content


def test_an_expired_link_gets_a_clear_page(client_for, member, settings):
    job = _ready_job(member)
    with clock_at(timezone.now() - days(4)):  # made 4 days ago; links last 72 hours
        token = exports.download_token(job)
    response = client_for(member).get(reverse("privacy:export_download", args=[token]))
    assert response.status_code == 410 and b"expired" in response.content


def test_expiry_deletes_the_file_and_the_link_says_so(client_for, member):
    job = _ready_job(member)
    path = exports.file_path(job)
    assert path is not None and path.is_file()
    token = exports.download_token(job)
    assert exports.expire_exports(now=timezone.now() + days(4)) == 1
    assert not path.exists()
    job.refresh_from_db()
    assert job.status == "expired"
    response = client_for(member).get(reverse("privacy:export_download", args=[token]))
    assert response.status_code == 410 and b"expired" in response.content


def test_a_failing_export_is_marked_failed_and_leaves_no_file(member, monkeypatch, settings):
    def broken(user):
        raise RuntimeError("database went away")

    monkeypatch.setattr(tables, "PERSON_TABLES", [tables.Table("profile", "x", broken)])
    job, _ = exports.do_request_export(member)
    assert exports.build(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and "try again" in job.error
    assert not any(settings.EXPORT_DIR.iterdir())


# --- an organization's export ----------------------------------------------------------------------


def test_org_export_has_everything_and_no_secret(
    client_for, owner, member, org, sudo, django_capture_on_commit_callbacks
):
    things = estate(org, user=owner)
    c = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(reverse("privacy:org_export", args=[org.slug]))
    job = ExportJob.objects.for_org(org).get()
    assert response.status_code == 302 and job.status == "ready" and job.user == owner and job.kind == "org"
    [message] = [m for m in mail.outbox if m.to == [owner.email] and "export" in m.subject.lower()]
    archive = _archive(c.get(reverse("privacy:export_download", args=[_link_token(message)])))

    for name in ("organization", "members", "invitations", "connections", "resources", "relationships", "findings",
                 "finding_events", "custom_rules", "custom_rule_connections", "policies", "baselines", "sync_runs",
                 "resource_changes", "daily_counts", "rule_statuses", "daily_finding_counts", "audit_log"):  # fmt: skip
        assert f"{name}.json" in archive.namelist(), name
    [settings_row] = _table(archive, "organization")
    assert settings_row["slug"] == org.slug and settings_row["processing_paused_at"] is None
    assert {m["user__email"] for m in _table(archive, "members")} == {owner.email, member.email}
    resources = {r["name"]: r for r in _table(archive, "resources")}
    assert resources["web-1"]["tags"] == {"owner": "team-a"} and resources["web-1"]["config"]["public_ip"]
    [rel] = _table(archive, "relationships")
    assert rel["target_id"] == things["web"].pk
    assert len(_table(archive, "connections")) == 2
    assert _table(archive, "custom_rule_connections")[0]["cloudconnection_id"] == things["aws"].pk

    # No secret anywhere: neither the credentials nor their ciphertext, nor the external id.
    everything = b"".join(archive.read(n) for n in archive.namelist())
    for secret in SECRETS:
        assert secret.encode() not in everything
    for conn in (things["aws"], things["azure"]):
        conn.refresh_from_db()
        assert conn.encrypted_secret and conn.encrypted_secret.encode() not in everything
    for row in _table(archive, "connections"):
        assert not {"encrypted_secret", "external_id"} & set(row)
    readme = archive.read("README.md").decode()
    assert "`resources.json` | 2 |" in readme and "Secrets are never exported" in readme


def test_every_org_owned_table_is_in_the_org_archive():
    """Apps added later (automations...) are exported too, without a change in privacy/tables.py."""
    names = [t.name for t in tables.org_tables()]
    assert len(names) == len(set(names))  # no table twice
    for model in tables._org_owned_models():
        if model in tables.ORG_TABLES_LEFT_OUT:
            continue
        assert model in tables.ORG_COVERED or tables.generic_name(model) in names, model


def test_generic_tables_never_export_secret_columns():
    from connections.models import CloudConnection

    columns = tables.exportable_columns(CloudConnection)
    assert "encrypted_secret" not in columns and "external_id" not in columns and "name" in columns
    from accounts.models import RecoveryCode, TOTPDevice

    assert "encrypted_key" not in tables.exportable_columns(TOTPDevice)
    assert not {"code_hash", "salt"} & set(tables.exportable_columns(RecoveryCode))


@pytest.mark.parametrize("member_role", [Role.ADMIN])
def test_only_an_owner_can_export_the_organization(client_for, member, org, sudo):
    response = client_for(member).post(reverse("privacy:org_export", args=[org.slug]))
    assert response.status_code == 403
    assert not ExportJob.objects.for_org(org).exists()


def test_org_export_asks_for_a_fresh_proof_first(client_for, owner, org):
    response = client_for(owner).post(reverse("privacy:org_export", args=[org.slug]))
    assert response.status_code == 302 and reverse("sudo_confirm") in response["Location"]
    assert reverse("privacy:org", args=[org.slug]) in response["Location"].replace("%2F", "/")
    assert not ExportJob.objects.for_org(org).exists()


def test_an_owner_who_stepped_down_can_no_longer_download(client_for, owner, member, org):
    from orgs.actions import do_transfer_ownership
    from orgs.models import Membership

    job, _ = exports.do_request_export(owner, membership=Membership.objects.for_org(org).get(user=owner))
    exports.build(job.pk)
    token = exports.download_token(job)
    c = client_for(owner)
    assert c.get(reverse("privacy:export_download", args=[token])).status_code == 200
    mine = Membership.objects.for_org(org).get(user=owner)
    do_transfer_ownership(mine, Membership.objects.for_org(org).get(user=member))
    response = c.get(reverse("privacy:export_download", args=[token]))
    assert response.status_code == 403 and b"Only an owner" in response.content


def test_deleting_the_organization_deletes_its_export_files(owner, org, settings):
    from orgs.models import Membership

    job, _ = exports.do_request_export(owner, membership=Membership.objects.for_org(org).get(user=owner))
    exports.build(job.pk)
    job.refresh_from_db()
    path = exports.file_path(job)
    assert path is not None and path.is_file()
    org.delete()
    assert not path.exists()


def test_the_archive_is_written_row_by_row(tmp_path):
    """Rows come from a generator and go straight into the zip entry: nothing collects them."""
    seen = []

    def rows():
        for i in range(12_000):
            seen.append(i)
            yield {"id": i, "name": f"row-{i}"}

    progress = []
    with ArchiveWriter(tmp_path / "a.zip") as archive:
        assert archive.write_table("big", rows(), progress.append) == 12_000
        archive.write_table("empty", iter(()))
    assert progress == [5000, 5000, 2000]
    with zipfile.ZipFile(tmp_path / "a.zip") as done:
        assert json.loads(done.read("empty.json")) == []
        assert len(json.loads(done.read("big.json"))) == 12_000


def test_person_tables_cover_new_apps_and_skip_org_tables():
    names = {t.name for t in tables.person_tables()}
    assert {"profile", "memberships", "consent_history", "notification_settings"} <= names
    # A table tied to an organization is the organization's data, not the person's.
    assert "inventory_syncrun" not in names and "findings_customrule" not in names


def test_members_of_another_role_can_not_see_the_org_data_page(client_for, org):
    viewer = UserFactory()
    MembershipFactory(user=viewer, org=org, role=Role.VIEWER)
    assert client_for(viewer).get(reverse("privacy:org", args=[org.slug])).status_code == 403
