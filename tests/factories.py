"""factory-boy factories for the models every app's tests need (users, organizations, members)."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone
from django.utils.text import slugify
from factory.django import DjangoModelFactory

from accounts.models import User
from orgs.actions import invitation_expiry
from orgs.models import Invitation, Membership, Organization, hash_token
from orgs.roles import Role
from tests.conftest import PASSWORD


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(obj, create, extracted, **kwargs):
        """A verified primary address, as after a completed sign-up (``verified_email=False`` for none)."""
        if create and extracted is not False:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)
        if create:
            obj.save()


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    org = factory.SubFactory(OrganizationFactory)
    role = Role.MEMBER


class InvitationFactory(DjangoModelFactory):
    """``invitation.token`` holds the raw token of the link (only its hash is stored)."""

    class Meta:
        model = Invitation

    org = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.MEMBER
    invited_by = None
    token = factory.LazyFunction(Invitation.new_token)
    token_hash = factory.LazyAttribute(lambda o: hash_token(o.token))
    created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(invitation_expiry)

    @classmethod
    def _create(cls, model_class, *args, token: str, **kwargs):
        obj = super()._create(model_class, *args, **kwargs)
        obj.token = token
        return obj


# --- connections, inventory and findings ---------------------------------------------------------


class CloudConnectionFactory(DjangoModelFactory):
    """A verified AWS access-key connection (the secret is a fake key pair, encrypted as in production)."""

    class Meta:
        model = "connections.CloudConnection"

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Account {n}")
    provider = "aws"
    auth_method = "aws_keys"
    status = "verified"
    aws_account_id = factory.Sequence(lambda n: f"{100000000000 + n}")
    enabled_regions = factory.LazyFunction(lambda: ["eu-west-1", "us-east-1"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from connections import credentials

        obj = model_class(*args, **kwargs)
        if obj.provider == "azure":
            secret = {"client_secret": "fake-azure-secret-EXAMPLE"}
        else:
            secret = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "s" * 40}
        credentials.store_secret(obj, secret)
        obj.save()
        return obj


class ResourceFactory(DjangoModelFactory):
    class Meta:
        model = "inventory.Resource"

    connection = factory.SubFactory(CloudConnectionFactory)
    org = factory.LazyAttribute(lambda o: o.connection.org)
    provider = factory.LazyAttribute(lambda o: o.resource_type.split(".", 1)[0])
    resource_type = "aws.ec2.instance"
    region = "eu-west-1"
    name = factory.Sequence(lambda n: f"resource-{n}")
    native_id = factory.LazyAttribute(lambda o: f"arn:aws:test:{o.region}:123456789012:{o.resource_type}/{o.name}")
    tags = factory.LazyFunction(dict)
    config = factory.LazyFunction(dict)


class SyncRunFactory(DjangoModelFactory):
    """A finished run. Pass ``coverage={type: {region: status}}``: what the findings engine trusts."""

    class Meta:
        model = "inventory.SyncRun"

    connection = factory.SubFactory(CloudConnectionFactory)
    org = factory.LazyAttribute(lambda o: o.connection.org)
    status = "succeeded"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
    coverage = factory.LazyFunction(dict)


class RelationshipFactory(DjangoModelFactory):
    class Meta:
        model = "inventory.Relationship"

    source = factory.SubFactory(ResourceFactory)
    target = factory.SubFactory(ResourceFactory)
    org = factory.LazyAttribute(lambda o: o.source.org)
    connection = factory.LazyAttribute(lambda o: o.source.connection)
    kind = "attached_to"


class FindingFactory(DjangoModelFactory):
    class Meta:
        model = "findings.Finding"

    resource = factory.SubFactory(ResourceFactory)
    org = factory.LazyAttribute(lambda o: o.resource.org)
    connection = factory.LazyAttribute(lambda o: o.resource.connection)
    rule_id = "aws-ec2-instance-public-ip"
    title = "Instance has a public IP address"
    severity = "high"
    category = "security"
    resource_type = factory.LazyAttribute(lambda o: o.resource.resource_type)
    native_id = factory.LazyAttribute(lambda o: o.resource.native_id)
    resource_name = factory.LazyAttribute(lambda o: o.resource.name)
    region = factory.LazyAttribute(lambda o: o.resource.region)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Created as the engine would: the open tallies the pages read count it (findings/tallies.py)."""
        from findings import tallies

        finding = super()._create(model_class, *args, **kwargs)
        tallies.recount(finding.org_id, finding.connection_id, [finding.rule_id])
        return finding


def recount_findings(org) -> None:
    """After findings were written directly (bulk_create, update): the open tallies count them again."""
    from connections.models import CloudConnection
    from findings import tallies

    for pk in CloudConnection.objects.for_org(org).values_list("pk", flat=True):
        tallies.recount(org.pk, pk)


def synced(connection, types: dict[str, list[str]] | None = None, **kwargs):
    """Record a successful sync of ``connection`` that collected ``{type: [regions]}`` (the coverage
    the findings engine trusts). Returns the SyncRun."""
    kwargs.setdefault("coverage", {t: dict.fromkeys(regions, "collected") for t, regions in (types or {}).items()})
    return SyncRunFactory(connection=connection, **kwargs)
