"""What goes into an export: the tables of a person's archive and of an organization's.

Each table is a name (its file in the zip), a description (for the README) and a function that
yields plain dicts, reading with ``.iterator()`` so a table of any size streams. Secrets never leave:
columns registered as ciphertexts (``cloustral.crypto.register_encrypted_field``) and columns whose
name says secret, token, hash, key... are never exported, and the tables below name their columns
explicitly where a secret sits next to data (connections, MFA devices).

Apps added later are covered without a change here: every other table with a foreign key to the
organization goes into the organization's archive, every other table with one to the person (and
none to an organization) into the person's, under the same secret rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import AuditEvent, RecoveryCode, TOTPDevice
from cloustral import crypto
from connections.models import CloudConnection
from findings.models import (
    Baseline,
    CustomRule,
    DailyFindingCount,
    Finding,
    FindingEvent,
    OrgPolicy,
    RuleStatus,
)
from inventory.models import DailyCount, Relationship, Resource, ResourceChange, SyncRun
from orgs.models import Invitation, Membership, Organization
from privacy.models import AnalyticsEvent, ConsentRecord, ContactRequest, DeletionRequest, ExportJob, Tombstone

CHUNK = 2000
# A column whose name says it holds a secret is never exported, in any table.
SECRET_NAME = re.compile(
    r"secret|password|passwd|token|hash|salt|nonce|encrypted|credential|external_id|(^|_)key$", re.I
)

Rows = Iterator[dict[str, Any]]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    rows: Callable[[Any], Rows]


def exportable_columns(model: type[models.Model], exclude: tuple[str, ...] = ()) -> list[str]:
    """The model's concrete columns (``attname``: ``connection_id`` for a foreign key), minus ciphertexts,
    secret-named ones and ``exclude``."""
    encrypted = {field for m, field, _ in crypto.encrypted_fields() if m is model}
    return [
        f.attname
        for f in model._meta.concrete_fields
        if f.name not in encrypted
        and f.attname not in encrypted
        and f.name not in exclude
        and not SECRET_NAME.search(f.name)
    ]


def stream(queryset: models.QuerySet, columns: list[str]) -> Rows:
    yield from queryset.order_by("pk").values(*columns).iterator(chunk_size=CHUNK)


def model_table(
    name: str, description: str, model: type[models.Model], scope: Callable[[Any], models.QuerySet], exclude=()
) -> Table:
    """Every exportable column of ``model``, for the rows ``scope(subject)`` selects."""
    return Table(name, description, lambda subject: stream(scope(subject), exportable_columns(model, exclude)))


def values_table(name: str, description: str, scope: Callable[[Any], models.QuerySet], columns: list[str]) -> Table:
    return Table(name, description, lambda subject: stream(scope(subject), columns))


# --- an organization ---------------------------------------------------------------------------


def _org(model: type[models.Model]) -> Callable[[Organization], models.QuerySet]:
    # The base manager: every row of the organization, whatever a default manager would hide.
    return lambda org: model._base_manager.filter(org=org)


ORG_TABLES: list[Table] = [
    values_table(
        "organization",
        "The organization's settings.",
        lambda org: Organization.objects.filter(pk=org.pk),
        ["id", "name", "slug", "require_mfa", "created_at", "processing_paused_at"],
    ),
    values_table(
        "members",
        "Members, their role and when they joined.",
        lambda org: Membership.objects.for_org(org),
        ["id", "user__email", "user__first_name", "user__last_name", "role", "created_at", "last_used_at"],
    ),
    values_table(
        "invitations",
        "Invitations sent, with their state (the links themselves are not kept).",
        lambda org: Invitation.objects.for_org(org),
        [
            "id",
            "email",
            "role",
            "invited_by__email",
            "created_at",
            "sent_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ],
    ),
    model_table(
        "connections",
        "Cloud connections: provider, account, regions, schedule and status. Never a credential.",
        CloudConnection,
        _org(CloudConnection),
    ),
    model_table("sync_runs", "Scan history: every scan, its outcome, counts and coverage.", SyncRun, _org(SyncRun)),
    model_table(
        "resources", "The inventory: every resource with its tags and configuration.", Resource, _org(Resource)
    ),
    model_table(
        "relationships",
        "Links between resources (source and target are resource ids).",
        Relationship,
        _org(Relationship),
    ),
    model_table(
        "resource_changes",
        "Change history: field-level differences found by each scan.",
        ResourceChange,
        _org(ResourceChange),
    ),
    model_table("daily_counts", "Resources per type and region, per day.", DailyCount, _org(DailyCount)),
    model_table("findings", "Findings with their status, suppressions and details.", Finding, _org(Finding)),
    model_table(
        "finding_events",
        "Each finding's history: opened, resolved, reopened, suppressed.",
        FindingEvent,
        _org(FindingEvent),
    ),
    model_table("rule_statuses", "Pass / fail / not evaluated per rule and connection.", RuleStatus, _org(RuleStatus)),
    model_table("custom_rules", "Custom rules as written, and parsed.", CustomRule, _org(CustomRule)),
    values_table(
        "custom_rule_connections",
        "The connections each custom rule is limited to (none: all).",
        lambda org: CustomRule.connections.through.objects.filter(customrule__org=org),
        ["id", "customrule_id", "cloudconnection_id"],
    ),
    model_table(
        "policies", "Organization policies (required tags, allowed regions and sizes).", OrgPolicy, _org(OrgPolicy)
    ),
    model_table("baselines", "Approved configurations that drift is measured against.", Baseline, _org(Baseline)),
    model_table(
        "daily_finding_counts",
        "Open findings per severity and category, per day.",
        DailyFindingCount,
        _org(DailyFindingCount),
    ),
    values_table(
        "audit_log",
        "The organization's audit log.",
        lambda org: AuditEvent.objects.filter(org=org),
        ["id", "created_at", "action", "actor_email", "ip", "user_agent", "metadata"],
    ),
]
# Org-owned tables deliberately left out, with the reason (the README lists them too).
ORG_TABLES_LEFT_OUT: dict[type[models.Model], str] = {
    ExportJob: "the bookkeeping of exports like this one",
}


def _org_owned_models() -> list[type[models.Model]]:
    found = []
    for model in apps.get_models():
        field = next((f for f in model._meta.concrete_fields if f.name == "org"), None)
        if field is not None and field.is_relation and field.related_model is Organization:
            found.append(model)
    return found


# The org-owned models ORG_TABLES covers; every other one gets a table of its own (org_tables).
ORG_COVERED: set[type[models.Model]] = {
    Organization,
    Membership,
    Invitation,
    AuditEvent,
    CloudConnection,
    SyncRun,
    Resource,
    Relationship,
    ResourceChange,
    DailyCount,
    Finding,
    FindingEvent,
    RuleStatus,
    CustomRule,
    OrgPolicy,
    Baseline,
    DailyFindingCount,
}


def generic_name(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}_{model._meta.model_name}"


def org_tables() -> list[Table]:
    """ORG_TABLES, then every other org-owned table of the project (apps added since, e.g. automations)."""
    skip = ORG_COVERED | set(ORG_TABLES_LEFT_OUT)
    extra = [
        model_table(generic_name(m), f"{m._meta.verbose_name_plural.capitalize()} ({m._meta.app_label}).", m, _org(m))
        for m in _org_owned_models()
        if m not in skip
    ]
    return ORG_TABLES + extra


# --- a person ----------------------------------------------------------------------------------


def _audit_about(user) -> models.QuerySet:
    return AuditEvent.objects.filter(Q(actor=user) | Q(actor_email__iexact=user.email) | Q(metadata__target=user.email))


def _notification_settings(user) -> Rows:
    yield {
        "security_emails": bool(getattr(settings, "ACCOUNT_EMAIL_NOTIFICATIONS", False)),
        "about": "Security emails (password, email address, two-factor changes) are always sent; "
        "per-organization summaries, if any, are in the tables of the app that sends them.",
    }


PERSON_TABLES: list[Table] = [
    values_table(
        "profile",
        "Your account: email address, names, timezone, dates.",
        lambda user: type(user).objects.filter(pk=user.pk),
        [
            "id",
            "email",
            "first_name",
            "last_name",
            "timezone",
            "date_joined",
            "last_login",
            "age_confirmed_at",
            "signup_org_name",
        ],
    ),
    values_table(
        "email_addresses",
        "Your email addresses and whether each is verified.",
        lambda user: EmailAddress.objects.filter(user=user),
        ["id", "email", "verified", "primary"],
    ),
    values_table(
        "social_accounts",
        "Sign-in accounts connected to yours (Google), with what they told us about you.",
        lambda user: SocialAccount.objects.filter(user=user),
        ["id", "provider", "uid", "date_joined", "last_login", "extra_data"],
    ),
    values_table(
        "memberships",
        "The organizations you belong to and your role in each.",
        lambda user: Membership.objects.for_user(user),
        ["id", "org__name", "org__slug", "role", "created_at", "last_used_at"],
    ),
    values_table(
        "audit_events",
        "Security and organization events about you: logins, changes you made, changes made to your access.",
        _audit_about,
        ["id", "created_at", "action", "org__name", "actor_email", "ip", "user_agent", "metadata"],
    ),
    values_table(
        "two_factor_devices",
        "Your authenticator app, if any (never its secret key).",
        lambda user: TOTPDevice.objects.filter(user=user),
        ["id", "name", "confirmed", "created_at"],
    ),
    values_table(
        "recovery_codes",
        "When your recovery codes were made and used (never the codes).",
        lambda user: RecoveryCode.objects.filter(user=user),
        ["id", "created_at", "used_at"],
    ),
    Table("notification_settings", "Which emails you receive.", _notification_settings),
    values_table(
        "consent_history",
        "Your cookie choices made while signed in: analytics accepted or declined, and when.",
        lambda user: ConsentRecord.objects.filter(user=user),
        ["id", "created_at", "analytics", "policy_version", "browser_id"],
    ),
    values_table(
        "analytics_events",
        "Page views and product events recorded with your consent.",
        lambda user: AnalyticsEvent.objects.filter(user=user),
        ["id", "created_at", "name", "page", "properties"],
    ),
    values_table(
        "contact_requests",
        "Messages you sent us from the contact page.",
        lambda user: ContactRequest.objects.filter(Q(user=user) | Q(email__iexact=user.email)),
        ["id", "created_at", "topic", "name", "email", "message"],
    ),
]
# Tables with a link to the person that the tables above already cover, or that hold nothing of theirs.
PERSON_COVERED: set[type[models.Model]] = {
    EmailAddress,
    SocialAccount,
    Membership,
    AuditEvent,
    TOTPDevice,
    RecoveryCode,
    ConsentRecord,
    AnalyticsEvent,
    ContactRequest,
    ExportJob,
    DeletionRequest,
    Tombstone,
}


def _user_fields(model: type[models.Model]) -> list[str]:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    return [f.name for f in model._meta.concrete_fields if f.is_relation and f.related_model is user_model]


def person_tables() -> list[Table]:
    """PERSON_TABLES, then every other table that points at the person and at no organization."""
    extra = []
    for model in apps.get_models():
        if model in PERSON_COVERED or model._meta.auto_created or any(f.name == "org" for f in model._meta.fields):
            continue
        fields = _user_fields(model)
        if not fields:
            continue

        def scope(user, model=model, fields=fields) -> models.QuerySet:
            query = Q()
            for name in fields:
                query |= Q(**{name: user})
            return model._base_manager.filter(query)

        extra.append(
            model_table(
                generic_name(model),
                f"{model._meta.verbose_name_plural.capitalize()} ({model._meta.app_label}).",
                model,
                scope,
            )
        )
    return PERSON_TABLES + extra
