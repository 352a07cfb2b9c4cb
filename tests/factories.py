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
