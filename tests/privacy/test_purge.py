"""After the purge nothing of the person remains but the tombstone: every table of the project (every
model Django knows, present and future) is scanned for their id and their email addresses."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import RecoveryCode, TOTPDevice, User
from orgs.actions import do_invite
from orgs.models import Membership
from privacy import deletion, exports
from privacy.models import AnalyticsEvent, ConsentRecord, ContactRequest, Tombstone
from tests.factories import InvitationFactory, SyncRunFactory
from tests.privacy.conftest import days, estate

ADDRESSES = ("member@example.com", "mel.second@example.com")
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)  # EmailField is a CharField


def _leftovers(user_id: int, addresses: tuple[str, ...]) -> list[str]:
    """Every place in the database that still holds the person's id or one of their addresses."""
    user_model = apps.get_model("accounts", "User")
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model is Tombstone:
            continue
        manager = model._base_manager
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is user_model:
                if manager.filter(**{field.attname: user_id}).exists():
                    found.append(f"{model._meta.label}.{field.name} = user {user_id}")
            elif not field.is_relation and isinstance(field, TEXT_FIELDS):
                for value in manager.exclude(**{f"{field.attname}__isnull": True}).values_list(
                    field.attname, flat=True
                ):
                    text = str(value).lower()
                    for address in addresses:
                        if address in text:
                            found.append(f"{model._meta.label}.{field.name} mentions {address}")
        names = {f.name for f in model._meta.concrete_fields}
        if {"content_type", "object_id"} <= names:  # generic links (the admin's log)
            about = manager.filter(content_type=ContentType.objects.get_for_model(user_model), object_id=str(user_id))
            if about.exists():
                found.append(f"{model._meta.label} points at user {user_id}")
    for session in Session.objects.all():
        if session.get_decoded().get(SESSION_KEY) == str(user_id):
            found.append(f"session {session.session_key}")
    return found


def _person_with_everything(member, owner, org, client_for):
    """``member`` as a real person leaves traces: two addresses, Google, MFA, sessions, audit events in
    their log and the organization's, invitations, rows they created, consent, analytics, a contact
    message, an export, the admin's log, emails sent to them."""
    EmailAddress.objects.create(user=member, email=ADDRESSES[1], verified=True)
    SocialAccount.objects.create(user=member, provider="google", uid="1122334455", extra_data={"email": ADDRESSES[0]})
    device = TOTPDevice(user=member, name="phone", confirmed=False)  # (confirmed, logins would need a code)
    device.set_key(TOTPDevice.new_key())
    device.save()
    RecoveryCode.objects.create(user=member, salt="s", code_hash="h")
    estate(org, user=member)
    SyncRunFactory(connection=org.connections.first(), triggered_by=member, cancel_requested_by=member)
    owner_membership = Membership.objects.for_org(org).get(user=owner)
    do_invite(owner_membership, "someone.else@example.com", "member")  # the owner's, not the person's
    InvitationFactory(org=org, email=ADDRESSES[1], invited_by=owner, accepted_by=member)
    audit.record("member_role_changed", actor=owner, org=org, target=ADDRESSES[0], new_role="admin")
    audit.record("login_failed", actor_email=ADDRESSES[1])
    ConsentRecord.objects.create(browser_id="8d1b6a0e-2c2b-4b53-8a51-1d4c4b6a0e12", user=member, analytics=True,
                                 policy_version="2026-11-01")  # fmt: skip
    AnalyticsEvent.objects.create(name="pageview", page="dashboard:home", user=member)
    ContactRequest.objects.create(name="Mel", email=ADDRESSES[0], topic="support", message="Hi", user=member)
    ContactRequest.objects.create(name="Mel", email=ADDRESSES[1], topic="privacy", message="Hello again")
    job, _ = exports.do_request_export(member)
    exports.build(job.pk)
    job.refresh_from_db()
    LogEntry.objects.create(
        user=owner, content_type=ContentType.objects.get_for_model(User), object_id=str(member.pk),
        object_repr=member.email, action_flag=CHANGE, change_message="changed the name",
    )  # fmt: skip
    client_for(member).get(reverse("profile"))  # a session of their own
    return job


def test_nothing_of_the_person_remains_after_the_purge(client_for, member, owner, org, sudo):
    job = _person_with_everything(member, owner, org, client_for)
    export_file = exports.file_path(job)
    before = _leftovers(member.pk, ADDRESSES)
    assert len(before) > 20, before  # the scan does see the traces while the person is there

    response = client_for(member).post(reverse("privacy:delete_account"), {"confirm": "on"})
    assert response.status_code == 200
    assert deletion.purge_due_accounts(now=timezone.now() + days(31)) == 1

    assert _leftovers(member.pk, ADDRESSES) == []
    assert export_file is not None and not export_file.exists()
    # What stays: the tombstone (address, Google id, time) ...
    rows = list(Tombstone.objects.values("email", "google_id", "deleted_at", "signed_up_again_at"))
    assert {(r["email"], r["google_id"]) for r in rows} == {(ADDRESSES[0], "1122334455"), (ADDRESSES[1], "")}
    # ... and the organization's own data, without the person (their rule is still the org's rule).
    assert org.custom_rules.get(rule_id="custom.sample").created_by is None
    assert org.audit_events.filter(action="member_role_changed", metadata__target="a deleted user").exists()
    assert User.objects.filter(email=owner.email).exists()
