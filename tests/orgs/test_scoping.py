"""The fail-closed manager: a query of org data that does not start from an organization is an error."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.test import RequestFactory

from orgs.access import get_for_member, get_invitation_for_member, get_membership_for_member
from orgs.models import Invitation, Membership, Organization
from orgs.roles import Capability, Role
from orgs.scoping import OrgScopeError
from tests.factories import InvitationFactory, MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

UNSCOPED_USES = {
    "iterate": lambda qs: list(qs),
    "get": lambda qs: qs.get(pk=1),
    "first": lambda qs: qs.first(),
    "count": lambda qs: qs.count(),
    "exists": lambda qs: qs.exists(),
    "aggregate": lambda qs: qs.aggregate(n=Count("id")),
    "update": lambda qs: qs.update(role="viewer"),
    "delete": lambda qs: qs.delete(),
    "values_list": lambda qs: list(qs.values_list("pk", flat=True)),
    "iterator": lambda qs: list(qs.iterator()),
    "bool": lambda qs: bool(qs),
    "subquery": lambda qs: list(Organization.objects.filter(pk__in=qs.values("org"))),
    "get_or_create": lambda qs: qs.get_or_create(pk=1),
}


@pytest.mark.parametrize("model", [Invitation, Membership])
@pytest.mark.parametrize("use", list(UNSCOPED_USES), ids=str)
def test_unscoped_queries_raise(model, use):
    OrganizationFactory()
    with pytest.raises(OrgScopeError, match=r"for_org\(org\)"):
        UNSCOPED_USES[use](model.objects.filter(pk__gt=0))


def test_for_org_returns_only_that_orgs_rows():
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    a = InvitationFactory(org=mine)
    InvitationFactory(org=theirs)
    assert list(Invitation.objects.for_org(mine)) == [a]
    assert Invitation.objects.for_org(mine).count() == 1
    # Chaining keeps the scope; filters after for_org are fine.
    assert list(Invitation.objects.for_org(mine).filter(email=a.email).order_by("id")) == [a]
    assert Invitation.objects.filter(email=a.email).for_org(mine).get() == a


def test_for_org_refuses_no_org():
    with pytest.raises(OrgScopeError):
        Invitation.objects.for_org(None)


def test_unscoped_is_an_explicit_global_query():
    InvitationFactory(), InvitationFactory()
    assert Invitation.objects.unscoped().count() == 2


def test_related_managers_from_the_org_are_scoped():
    org = OrganizationFactory()
    inv = InvitationFactory(org=org)
    membership = MembershipFactory(org=org)
    assert list(org.invitations.all()) == [inv]
    assert list(org.memberships.all()) == [membership]
    assert list(Organization.objects.prefetch_related("invitations").get(pk=org.pk).invitations.all()) == [inv]


def test_memberships_can_also_be_scoped_to_a_user():
    m1, m2 = MembershipFactory(), MembershipFactory()
    assert list(Membership.objects.for_user(m1.user)) == [m1]
    assert list(m2.user.memberships.all()) == [m2]
    with pytest.raises(OrgScopeError):
        Membership.objects.for_user(None)


def test_creating_and_saving_need_no_scope():
    org = OrganizationFactory()
    membership = Membership.objects.create(user=MembershipFactory().user, org=org, role=Role.VIEWER)
    membership.role = Role.ADMIN
    membership.save()
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    org.delete()  # cascades through the base manager
    assert not Membership.objects.unscoped().filter(pk=membership.pk).exists()


# --- access helpers ---------------------------------------------------------------------------


def _request(membership: Membership):
    request = RequestFactory().get("/")
    request.user, request.org, request.membership = membership.user, membership.org, membership
    return request


def test_access_helpers_404_for_other_orgs_objects_and_403_for_weak_roles():
    mine = MembershipFactory(role=Role.ADMIN)
    other = InvitationFactory()
    own = InvitationFactory(org=mine.org)
    request = _request(mine)
    assert get_invitation_for_member(request, own.pk) == own
    with pytest.raises(Http404):
        get_invitation_for_member(request, other.pk)
    with pytest.raises(Http404):
        get_invitation_for_member(request, 987654)
    with pytest.raises(Http404):
        get_membership_for_member(request, MembershipFactory().pk)

    viewer = MembershipFactory(org=mine.org, role=Role.VIEWER)
    with pytest.raises(PermissionDenied):
        get_invitation_for_member(_request(viewer), own.pk)
    # 404 wins over 403: a weak role learns nothing about other organizations either.
    with pytest.raises(Http404):
        get_invitation_for_member(_request(viewer), other.pk)
    assert get_for_member(_request(viewer), Invitation, Capability.VIEW, pk=own.pk) == own


def test_access_helpers_need_an_org_request():
    request = RequestFactory().get("/")
    with pytest.raises(Http404):
        get_for_member(request, Invitation, pk=1)


def test_create_through_a_scope_lands_in_that_scope():
    org = OrganizationFactory()
    person = MembershipFactory().user
    created = Membership.objects.for_org(org).create(user=person, role=Role.VIEWER)
    assert created.org == org
    again, was_created = Membership.objects.for_org(org).get_or_create(user=person)
    assert (again, was_created) == (created, False)
    other = OrganizationFactory()
    joined = Membership.objects.for_user(person).create(org=other)
    assert joined.user == person and joined.org == other
