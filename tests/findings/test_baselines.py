"""Baselines in the UI: approve one resource or a whole connection, drift shown field by field in the
resource page's panel, re-approve resolves, remove; the list, roles and isolation."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import AuditEvent
from findings import lifecycle
from findings.models import Baseline, Finding
from findings.sources import BASELINE_RULE_ID
from findings.views.baselines import baseline_panel_context
from inventory.models import Resource
from orgs.decorators import load_membership
from tests.factories import CloudConnectionFactory, FindingFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db
A = AuditEvent.Action
VOLUME = "aws.ec2.volume"


def url(name: str, org, **kwargs) -> str:
    return reverse(f"findings:{name}", kwargs={"org_slug": org.slug, **kwargs})


def resource_page(org, resource) -> str:
    return f"/o/{org.slug}/resources/{resource.pk}/"


def volume(conn, name: str, **config):
    base = {"volume_id": name, "size_gb": 8, "volume_type": "gp3", "encrypted": True, "state": "in-use"}
    return ResourceFactory(
        connection=conn, resource_type=VOLUME, name=name, region="eu-west-1", config={**base, **config}
    )


@pytest.fixture
def conn(org):
    c = CloudConnectionFactory(org=org, name="Production")
    synced(c, {VOLUME: ["eu-west-1"]})
    return c


@pytest.fixture
def vols(conn):
    return [volume(conn, f"vol-{i}") for i in range(3)]


def panel(person, org, resource) -> str:
    """The resource page's baseline panel, as that page renders it."""
    request = RequestFactory().get(resource_page(org, resource))
    request.user = person
    request.membership = load_membership(person, org.slug)
    request.org = request.membership.org
    resource = Resource.objects.for_org(org).get(pk=resource.pk)
    return render_to_string("findings/_baseline_panel.html", baseline_panel_context(request, resource), request=request)


def drift_finding(org, resource) -> Finding | None:
    return Finding.objects.for_org(org).filter(rule_id=BASELINE_RULE_ID, native_id=resource.native_id).first()


def test_approve_one_resource(client_for, member, org, vols, django_capture_on_commit_callbacks):
    target = vols[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(member).post(url("baseline_approve", org, resource_id=target.pk))
    assert response.status_code == 302 and response["Location"] == resource_page(org, target)
    baseline = Baseline.objects.for_org(org).get()
    assert baseline.resource == target and baseline.approved_by == member and baseline.connection == target.connection
    assert baseline.approved == {"config": target.config, "tags": {}}
    event = AuditEvent.objects.get(action=A.BASELINE_APPROVED)
    assert event.org == org and event.metadata["target"] == target.native_id


def test_approve_a_whole_connection(client_for, member, org, conn, vols, django_capture_on_commit_callbacks):
    other = CloudConnectionFactory(org=org)
    ResourceFactory(connection=other)
    client = client_for(member)
    confirm = client.get(url("baseline_approve_connection", org, connection_id=conn.pk))
    assert confirm.status_code == 200 and "Approve 3 resources" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("baseline_approve_connection", org, connection_id=conn.pk))
    assert response.status_code == 302 and response["Location"] == url("baselines", org)
    assert set(Baseline.objects.for_org(org).values_list("resource_id", flat=True)) == {v.pk for v in vols}
    assert AuditEvent.objects.get(action=A.BASELINE_APPROVED).metadata["resources"] == 3
    # Again: the same rows are re-approved, not duplicated.
    again = client.get(url("baseline_approve_connection", org, connection_id=conn.pk))
    assert "3 already approved" in again.content.decode()
    client.post(url("baseline_approve_connection", org, connection_id=conn.pk))
    assert Baseline.objects.for_org(org).count() == 3


def test_approve_an_empty_connection_says_scan_first(client_for, member, org):
    empty = CloudConnectionFactory(org=org, name="Empty")
    client = client_for(member)
    assert (
        "no resources yet"
        in client.get(url("baseline_approve_connection", org, connection_id=empty.pk)).content.decode()
    )
    response = client.post(url("baseline_approve_connection", org, connection_id=empty.pk), follow=True)
    assert "has no resources yet" in response.content.decode()


def test_drift_is_shown_field_by_field_until_reapproved(
    client_for, member, org, conn, vols, django_capture_on_commit_callbacks
):
    target = vols[0]
    client = client_for(member)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("baseline_approve", org, resource_id=target.pk))
    assert drift_finding(org, target) is None
    assert "As approved" in panel(member, org, target)

    # A later sync sees a bigger volume and a new tag: drift.
    Resource.objects.for_org(org).filter(pk=target.pk).update(
        config={**target.config, "size_gb": 16}, tags={"env": "prod"}
    )
    lifecycle.evaluate_connection(conn)
    finding = drift_finding(org, target)
    assert finding.status == Finding.Status.OPEN and finding.category == "drift"
    assert finding.detail["diff"] == {"config.size_gb": {"old": 8, "new": 16}, "tags.env": {"old": None, "new": "prod"}}

    html = panel(member, org, target)
    assert "Drifted" in html and "Approved by Mel" in html
    assert "<code>config.size_gb</code>" in html and "<code>8</code>" in html and "<code>16</code>" in html
    assert "<code>tags.env</code>" in html and "<code>prod</code>" in html
    assert url("baseline_approve", org, resource_id=target.pk) in html and "Re-approve" in html

    listing = client.get(url("baselines", org)).content.decode()
    assert "Drifted" in listing and "2 fields changed" in listing
    drifted_only = client.get(url("baselines", org), {"drifted": "1"})
    assert [r["baseline"].resource_id for r in drifted_only.context["rows"]] == [target.pk]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("baseline_approve", org, resource_id=target.pk))
    finding.refresh_from_db()
    assert finding.status == Finding.Status.RESOLVED
    assert "As approved" in panel(member, org, target)
    assert Baseline.objects.for_org(org).get().approved["config"]["size_gb"] == 16


def test_reverting_the_change_resolves_the_drift(
    client_for, member, org, conn, vols, django_capture_on_commit_callbacks
):
    target = vols[1]
    with django_capture_on_commit_callbacks(execute=True):
        client_for(member).post(url("baseline_approve", org, resource_id=target.pk))
    Resource.objects.for_org(org).filter(pk=target.pk).update(config={**target.config, "encrypted": False})
    lifecycle.evaluate_connection(conn)
    assert drift_finding(org, target).status == Finding.Status.OPEN
    Resource.objects.for_org(org).filter(pk=target.pk).update(config=target.config)
    lifecycle.evaluate_connection(conn)
    assert drift_finding(org, target).status == Finding.Status.RESOLVED


def test_remove_a_baseline(client_for, member, org, conn, vols, django_capture_on_commit_callbacks):
    target = vols[0]
    client = client_for(member)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("baseline_approve", org, resource_id=target.pk))
    Resource.objects.for_org(org).filter(pk=target.pk).update(config={**target.config, "size_gb": 99})
    lifecycle.evaluate_connection(conn)
    baseline = Baseline.objects.for_org(org).get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("baseline_remove", org, baseline_id=baseline.pk))
    assert response.status_code == 302 and response["Location"] == url("baselines", org)
    assert not Baseline.objects.for_org(org).exists()
    assert AuditEvent.objects.get(action=A.BASELINE_REMOVED).metadata["target"] == target.native_id
    assert drift_finding(org, target).status == Finding.Status.RESOLVED  # no baseline, no drift
    assert "No baseline" in panel(member, org, target)


def test_remove_goes_back_to_a_safe_next_only(client_for, member, org, vols):
    client = client_for(member)
    first = Baseline.objects.for_org(org).create(connection=vols[0].connection, resource=vols[0], approved={})
    response = client.post(url("baseline_remove", org, baseline_id=first.pk), {"next": resource_page(org, vols[0])})
    assert response["Location"] == resource_page(org, vols[0])
    second = Baseline.objects.for_org(org).create(connection=vols[1].connection, resource=vols[1], approved={})
    response = client.post(url("baseline_remove", org, baseline_id=second.pk), {"next": "https://evil.example/"})
    assert response["Location"] == url("baselines", org)


def test_panel_without_baseline_offers_approval(member, org, vols):
    html = panel(member, org, vols[2])
    assert "No baseline" in html and "Approve as baseline" in html
    assert url("baseline_approve", org, resource_id=vols[2].pk) in html and "csrfmiddlewaretoken" in html


def test_list_empty_state_offers_connections(client_for, member, org, conn):
    body = client_for(member).get(url("baselines", org)).content.decode()
    assert "No baselines yet" in body and url("baseline_approve_connection", org, connection_id=conn.pk) in body


def test_list_filters_by_connection(client_for, member, org, conn, vols):
    other = CloudConnectionFactory(org=org, name="Other")
    theirs = ResourceFactory(connection=other)
    for r in (vols[0], theirs):
        Baseline.objects.for_org(org).create(connection=r.connection, resource=r, approved={})
    response = client_for(member).get(url("baselines", org), {"connection": other.pk})
    assert [row["baseline"].resource_id for row in response.context["rows"]] == [theirs.pk]


def test_list_query_count_is_bounded(client_for, member, org, conn, django_assert_max_num_queries):
    for i in range(40):
        r = volume(conn, f"v{i:02d}")
        Baseline.objects.for_org(org).create(connection=conn, resource=r, approved={}, approved_by=member)
        if i % 2:
            FindingFactory(
                resource=r, rule_id=BASELINE_RULE_ID, detail={"diff": {"config.size_gb": {"old": 1, "new": 2}}}
            )
    client = client_for(member)
    with django_assert_max_num_queries(14):  # session, membership, nav: ~10; the page: 4
        response = client.get(url("baselines", org))
    assert response.status_code == 200
    assert len(response.context["rows"]) == 40 and sum(r["drifted"] for r in response.context["rows"]) == 20


# --- roles and isolation -------------------------------------------------------------------------


@pytest.mark.parametrize("member_role", ["viewer"])
def test_viewer_sees_baselines_but_may_not_change_them(client_for, member, org, conn, vols):
    baseline = Baseline.objects.for_org(org).create(connection=conn, resource=vols[0], approved={})
    client = client_for(member)
    listing = client.get(url("baselines", org))
    assert listing.status_code == 200 and vols[0].name in listing.content.decode()
    assert url("baseline_remove", org, baseline_id=baseline.pk) not in listing.content.decode()
    html = panel(member, org, vols[0])
    assert "Approved by" in html and "Re-approve" not in html and "Remove baseline" not in html
    assert client.post(url("baseline_approve", org, resource_id=vols[1].pk)).status_code == 403
    assert client.get(url("baseline_approve_connection", org, connection_id=conn.pk)).status_code == 403
    assert client.post(url("baseline_approve_connection", org, connection_id=conn.pk)).status_code == 403
    assert client.post(url("baseline_remove", org, baseline_id=baseline.pk)).status_code == 403
    assert Baseline.objects.for_org(org).count() == 1


def test_outsider_gets_404_everywhere(client_for, outsider, org, conn, vols):
    baseline = Baseline.objects.for_org(org).create(connection=conn, resource=vols[0], approved={})
    client = client_for(outsider)
    assert client.get(url("baselines", org)).status_code == 404
    assert client.get(url("baseline_approve_connection", org, connection_id=conn.pk)).status_code == 404
    targets = [
        ("baseline_approve", {"resource_id": vols[1].pk}),
        ("baseline_approve_connection", {"connection_id": conn.pk}),
        ("baseline_remove", {"baseline_id": baseline.pk}),
    ]
    for name, kwargs in targets:
        assert client.post(url(name, org, **kwargs)).status_code == 404
        # Our ids under their own organization: still 404.
        theirs = reverse(f"findings:{name}", kwargs={"org_slug": outsider.org.slug, **kwargs})
        assert client.post(theirs).status_code == 404
    assert Baseline.objects.for_org(org).count() == 1
