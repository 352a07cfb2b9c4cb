"""What the support console's organization and person pages show, each list short (the most recent
rows) with a link to the admin's full, paginated list. Read-only: no row is created by looking (a
missing billing row means Free, it is not made here). Never a secret: each list names its fields."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db.models import Exists, F, OuterRef, Q, Window
from django.db.models.functions import RowNumber

from accounts.models import AuditEvent, RecoveryCode, SignInEvent, TOTPDevice, User
from automations.models import Automation, Delivery, Suppression
from billing import limits
from billing.models import BillingAccount
from billing.plans import Plan
from billing.usage_page import UsageRow, usage_rows
from connections.models import CloudConnection
from inventory.models import SyncRun
from orgs.models import Membership, Organization
from privacy.models import ContactRequest, DeletionRequest

RECENT = 20
RUNS_PER_CONNECTION = 3


@dataclass
class ConnectionRow:
    connection: CloudConnection
    runs: list[SyncRun]


@dataclass
class OrgOverview:
    org: Organization
    plan: Plan
    account: BillingAccount | None
    usage: list[UsageRow]
    members: list[Membership]
    connections: list[ConnectionRow]
    automations: list[Automation]
    deliveries: list[Delivery]
    email_failures: list[Delivery]
    suppressions: list[Suppression]
    deletions: list[DeletionRequest]
    contacts: list[ContactRequest]
    audit_events: list[AuditEvent]


def _with_mfa(queryset, user_field: str):
    confirmed = TOTPDevice.objects.filter(user=OuterRef(user_field), confirmed=True)
    return queryset.annotate(mfa_on=Exists(confirmed))


def _addresses(user_ids: list[int]) -> list[str]:
    emails = set(User.objects.filter(pk__in=user_ids).values_list("email", flat=True))
    emails |= set(EmailAddress.objects.filter(user_id__in=user_ids).values_list("email", flat=True))
    return sorted({e.lower() for e in emails})


def _failures(org: Organization | None, emails: list[str]) -> list[Delivery]:
    """Deliveries that did not arrive: the organization's, and account emails to these addresses."""
    where = Q(org__isnull=True, recipient__in=emails)
    if org is not None:
        where |= Q(org=org)
    failed = Delivery.objects.unscoped().filter(where, status__in=Delivery.FAILURES)
    return list(failed.select_related("org").order_by("-created_at", "-id")[:RECENT])


def _last_runs(org: Organization) -> dict[int, list[SyncRun]]:
    rank = Window(RowNumber(), partition_by=[F("connection_id")], order_by=[F("created_at").desc(), F("id").desc()])
    runs = SyncRun.objects.for_org(org).annotate(rank=rank).filter(rank__lte=RUNS_PER_CONNECTION)
    by_connection: dict[int, list[SyncRun]] = {}
    for run in runs.order_by("connection_id", "-created_at", "-id"):
        by_connection.setdefault(run.connection_id, []).append(run)
    return by_connection


def org_overview(org: Organization) -> OrgOverview:
    plan = limits.plan_for(org)
    members = list(_with_mfa(Membership.objects.for_org(org), "user_id").select_related("user").order_by("user__email"))
    user_ids = [m.user_id for m in members]
    emails = _addresses(user_ids)
    runs = _last_runs(org)
    connections = [
        ConnectionRow(connection, runs.get(connection.pk, []))
        for connection in CloudConnection.objects.for_org(org).order_by("name", "id")
    ]
    return OrgOverview(
        org=org,
        plan=plan,
        account=BillingAccount.objects.for_org(org).first(),
        usage=usage_rows(org, plan),
        members=members,
        connections=connections,
        automations=list(Automation.objects.for_org(org).order_by("name", "id")),
        deliveries=list(Delivery.objects.for_org(org).order_by("-created_at", "-id")[:RECENT]),
        email_failures=_failures(org, emails),
        suppressions=list(Suppression.objects.active().filter(address__in=emails)),
        deletions=list(DeletionRequest.objects.filter(user_id__in=user_ids).select_related("user")),
        contacts=list(
            ContactRequest.objects.filter(Q(user_id__in=user_ids) | Q(email__in=emails)).order_by("-created_at")[
                :RECENT
            ]
        ),
        audit_events=list(AuditEvent.objects.filter(org=org).order_by("-created_at", "-id")[:RECENT]),
    )


@dataclass
class UserOverview:
    user: User
    emails: list[EmailAddress]
    mfa_on: bool
    recovery_codes_left: int
    sign_ins: list[SignInEvent]
    memberships: list[Membership]
    deletion: DeletionRequest | None
    email_failures: list[Delivery]
    suppressions: list[Suppression]
    contacts: list[ContactRequest]


def user_overview(user: User) -> UserOverview:
    addresses = list(EmailAddress.objects.filter(user=user).order_by("-primary", "email"))
    emails = _addresses([user.pk])
    return UserOverview(
        user=user,
        emails=addresses,
        mfa_on=TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        recovery_codes_left=RecoveryCode.objects.filter(user=user, used_at__isnull=True).count(),
        sign_ins=list(SignInEvent.objects.filter(user=user).order_by("-at", "-id")[:RECENT]),
        memberships=list(Membership.objects.for_user(user).select_related("org").order_by("org__name")),
        deletion=DeletionRequest.objects.filter(user=user).first(),
        email_failures=_failures(None, emails),
        suppressions=list(Suppression.objects.active().filter(address__in=emails)),
        contacts=list(
            ContactRequest.objects.filter(Q(user=user) | Q(email__in=emails)).order_by("-created_at")[:RECENT]
        ),
    )
