"""Enumerate the project's URL patterns, and build a victim organization with one object of each kind.

Shared by the isolation test (every pattern that takes an identifier, requested by a member of
another organization, must answer 404) and the role test (every org view, by every role, answers as
the matrix says).

**When you add a view whose URL takes a new kwarg** (``connection_id``, ``resource_id``...), create
one such object in ``build_world`` and register the kwarg in ``SAMPLES``. The isolation test fails
until you do, by design.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from orgs.models import Invitation, Membership, Organization
from orgs.roles import Role


@dataclass(frozen=True)
class Route:
    route: str
    name: str  # "namespace:name"; empty when the pattern is unnamed
    kwargs: tuple[str, ...]
    callback: Callable
    namespace: str = ""

    @property
    def org_capability(self) -> str | None:
        return getattr(self.callback, "org_capability", None)

    @property
    def org_methods(self) -> tuple[str, ...] | None:
        return getattr(self.callback, "org_methods", None)

    def __str__(self) -> str:
        return f"{self.name or '<unnamed>'} ({self.route})"


def _kwarg_names(pattern) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return list(converters)
    regex = getattr(pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def walk_urls(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "", kwargs=()) -> Iterator[Route]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        names = tuple(kwargs) + tuple(_kwarg_names(entry.pattern))
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from walk_urls(entry, prefix + str(entry.pattern), ns, names)
        elif isinstance(entry, URLPattern):
            full_name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield Route(prefix + str(entry.pattern), full_name, names, entry.callback, namespace)


def org_routes() -> list[Route]:
    """Every route served by an ``@org_view``."""
    return [r for r in walk_urls() if r.org_capability is not None]


@dataclass
class World:
    """An organization with one object of every kind a URL can name."""

    org: Organization
    owner: object
    membership: Membership  # a plain member (the target of member actions)
    invitation: Invitation  # a pending invitation
    extra: dict[str, object] = field(default_factory=dict)


def build_world(name: str, owner=None) -> World:
    from tests.factories import InvitationFactory, MembershipFactory, OrganizationFactory, UserFactory

    org = OrganizationFactory(name=name)
    owner = owner or UserFactory()
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    target = MembershipFactory(org=org, role=Role.MEMBER)
    invitation = InvitationFactory(org=org, invited_by=owner, role=Role.MEMBER)
    world = World(org=org, owner=owner, membership=target, invitation=invitation)
    for add in WORLD_BUILDERS:
        add(world)
    return world


# --- one object of each kind from the other apps ----------------------------------------------


def _add_connection(world: World) -> None:
    from connections import credentials
    from connections.models import CloudConnection

    conn = CloudConnection(org=world.org, name="Sample keys", provider="aws", auth_method="aws_keys")
    credentials.store_secret(conn, {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "s" * 40})
    conn.save()
    world.extra["connection"] = conn


def _add_sync_run(world: World) -> None:
    from inventory.models import SyncRun

    world.extra["sync_run"] = SyncRun.objects.for_org(world.org).create(
        connection=world.extra["connection"], status=SyncRun.Status.SUCCEEDED
    )


def _add_inventory(world: World) -> None:
    from inventory.models import Resource

    world.extra["resource"] = Resource.objects.create(
        org=world.org,
        connection=world.extra["connection"],
        provider="aws",
        resource_type="aws.ec2.volume",
        native_id=f"arn:aws:ec2:eu-west-1:123456789012:volume/vol-{world.org.pk}",
        region="eu-west-1",
        name="sample-volume",
        config={"state": "available", "size_gb": 10, "volume_type": "gp3", "encrypted": True},
    )


def _add_findings(world: World) -> None:
    from findings.models import Baseline, CustomRule, Finding, OrgPolicy

    resource = world.extra["resource"]
    world.extra["finding"] = Finding.objects.create(
        org=world.org,
        connection=resource.connection,
        resource=resource,
        rule_id="aws-ec2-volume-unattached",
        title="Unattached volume",
        severity="low",
        category="cost",
        resource_type=resource.resource_type,
        native_id=resource.native_id,
        region=resource.region,
    )
    world.extra["custom_rule"] = CustomRule.objects.create(
        org=world.org,
        rule_id="custom-sample",
        source="id: sample",
        document={
            "id": "sample",
            "title": "Sample",
            "severity": "low",
            "category": "hygiene",
            "resource_types": ["aws.ec2.volume"],
            "condition": {"path": "config.encrypted", "op": "equals", "value": False},
        },
        title="Sample",
        severity="low",
        category="hygiene",
    )
    world.extra["policy"] = OrgPolicy.objects.create(
        org=world.org, name="Owner tag", kind=OrgPolicy.Kind.REQUIRED_TAGS, values=["owner"]
    )
    world.extra["baseline"] = Baseline.objects.create(
        org=world.org, connection=resource.connection, resource=resource, approved={"config": {}, "tags": {}}
    )


def _add_automations(world: World) -> None:
    from automations.models import Automation, AutomationRun, Channel, Suppression

    channel = Channel.objects.create(org=world.org, name="Admins by email", kind="email", roles=["owner", "admin"])
    automation = Automation.objects.create(org=world.org, name="Weekly summary", frequency="weekly")
    automation.channels.through.objects.create(automation=automation, channel=channel)
    world.extra["channel"] = channel
    world.extra["automation"] = automation
    world.extra["automation_run"] = AutomationRun.objects.create(
        org=world.org, automation=automation, key="sample", status=AutomationRun.Status.EMPTY
    )
    # A suppressed address of one of the organization's members (the only ones it may clear).
    world.extra["suppression"] = Suppression.objects.create(address=world.membership.user.email, reason="bounced")


def _add_api_key(world: World) -> None:
    """An organization key of the world (read and write): the API walks compare its answers with the
    answers to another organization's keys."""
    from api.actions import do_create_api_key

    api_key, token = do_create_api_key(world.org, user=world.owner, kind="org", name="walk", scope="read_write")
    world.extra["api_key"] = api_key
    world.extra["api_token"] = token


def _add_billing(world: World) -> None:
    """A paid plan's billing row (no Stripe ids: the walk never reaches Stripe)."""
    from billing.models import BillingAccount

    world.extra["billing_account"] = BillingAccount.objects.create(
        org=world.org, plan="team", status="active", stripe_subscription_id="sub_walk"
    )


def _add_acceptance(world: World) -> None:
    """An acceptance of a rule's findings within a scope (findings/bulk.py)."""
    from findings.models import SuppressionRule

    world.extra["acceptance"] = SuppressionRule.objects.create(
        org=world.org, rule_id="aws-ec2-volume-unattached", region="eu-west-1", reason="sample"
    )


def _add_export(world: World) -> None:
    """The owner's export of the organization and its download link's token (privacy/). Not built: the
    walk needs the ids, and another person's link is refused before any file is read."""
    from django.utils import timezone

    from privacy import exports
    from privacy.models import ExportJob

    job = ExportJob.objects.create(
        kind=ExportJob.Kind.ORG, user=world.owner, org=world.org, status=ExportJob.Status.READY,
        finished_at=timezone.now(), expires_at=timezone.now() + exports.link_max_age(),
    )  # fmt: skip
    world.extra["export"] = job
    world.extra["export_token"] = exports.download_token(job)


WORLD_BUILDERS: list[Callable[[World], None]] = [
    _add_connection,
    _add_sync_run,
    _add_inventory,
    _add_findings,
    _add_acceptance,
    _add_automations,
    _add_api_key,
    _add_billing,
    _add_export,
]

# Identifier kwarg -> the world's object it names. Register every identifier of every URL here.
SAMPLES: dict[str, Callable[[World], object]] = {
    "org_slug": lambda w: w.org.slug,
    "membership_id": lambda w: w.membership.pk,
    "invitation_id": lambda w: w.invitation.pk,
    "connection_id": lambda w: w.extra["connection"].pk,
    "run_id": lambda w: w.extra["sync_run"].pk,
    "resource_id": lambda w: w.extra["resource"].pk,
    "finding_id": lambda w: w.extra["finding"].pk,
    "custom_rule_id": lambda w: w.extra["custom_rule"].pk,
    "policy_id": lambda w: w.extra["policy"].pk,
    "baseline_id": lambda w: w.extra["baseline"].pk,
    "acceptance_id": lambda w: w.extra["acceptance"].pk,
    "automation_id": lambda w: w.extra["automation"].pk,
    "channel_id": lambda w: w.extra["channel"].pk,
    "automation_run_id": lambda w: w.extra["automation_run"].pk,
    "suppression_id": lambda w: w.extra["suppression"].pk,
    "export_id": lambda w: w.extra["export"].pk,
    "export_token": lambda w: w.extra["export_token"],
}
# Kwargs that name no object (a choice among fixed values): a valid constant each.
CONSTANTS: dict[str, object] = {
    "method": "aws-keys",  # connections:create
    "kind": "policy",  # connections:role_setup_file
    "fmt": "csv",  # exports: csv | json
    "rule_id": "aws-ec2-volume-unattached",  # a built-in rule (the catalog is the same for every org)
    "framework": "cis-aws-1.5",  # findings:compliance_framework
    "channel_kind": "email",  # automations:channel_new (email | slack | webhook)
}


def url_for(route: Route, world: World, overrides: dict | None = None) -> str:
    """The route's URL for ``world``'s objects; fails the test for a kwarg without a sample."""
    missing = [k for k in route.kwargs if k not in SAMPLES and k not in CONSTANTS]
    if missing:
        pytest.fail(
            f"URL {route} takes {missing}, which the org tests do not know. If it names an object, create one "
            f"in tests/orgs/urlwalk.py:build_world() (WORLD_BUILDERS) and register the kwarg in SAMPLES; if "
            f"it is a fixed choice, add a valid value to CONSTANTS. Then the tests can prove that another "
            f"organization's member gets a 404 and that each role gets what the matrix says.",
            pytrace=False,
        )
    kwargs = {k: SAMPLES[k](world) if k in SAMPLES else CONSTANTS[k] for k in route.kwargs}
    kwargs.update(overrides or {})
    if route.name:
        return reverse(route.name, kwargs=kwargs)
    # An unnamed pattern (none yet outside the admin): fill in the route by hand.
    path = route.route
    for key, value in kwargs.items():
        path = path.replace(f"<{key}>", str(value))
        for conv in ("int", "slug", "str", "uuid", "path"):
            path = path.replace(f"<{conv}:{key}>", str(value))
    return "/" + path


# --- the REST API (api/): its routes take object ids but no org slug: the key names the organization ---


def api_routes() -> list[Route]:
    """Every endpoint of the REST API (a DRF view of ``api.views``), with the capability of each method."""
    from api.views.base import ApiView

    return [
        r
        for r in walk_urls()
        if isinstance(getattr(r.callback, "cls", None), type) and issubclass(r.callback.cls, ApiView)
    ]


def api_methods(route: Route) -> list[str]:
    """The HTTP methods an API route serves (GET, POST, PUT)."""
    cls = route.callback.cls
    return [m.upper() for m in ("get", "post", "put") if hasattr(cls, m)]


def api_capability(route: Route, method: str) -> str:
    from api.permissions import required_capability

    return required_capability(route.callback.cls, method)
