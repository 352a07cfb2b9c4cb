"""Organization policies in the UI: each kind produces drift findings, edits and disabling resolve them,
validation of values and types, the list's counts, roles and isolation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from findings.forms import PolicyForm, split_values
from findings.models import Finding, OrgPolicy
from tests.factories import CloudConnectionFactory, FindingFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db
A = AuditEvent.Action
INSTANCE = "aws.ec2.instance"
VOLUME = "aws.ec2.volume"


def url(name: str, org, **kwargs) -> str:
    return reverse(f"findings:{name}", kwargs={"org_slug": org.slug, **kwargs})


@pytest.fixture
def conn(org):
    c = CloudConnectionFactory(org=org, name="Production")
    synced(c, {INSTANCE: ["eu-west-1", "us-east-1"], VOLUME: ["eu-west-1"]})
    return c


@pytest.fixture
def fleet(conn):
    return {
        "web-1": ResourceFactory(
            connection=conn,
            resource_type=INSTANCE,
            name="web-1",
            region="eu-west-1",
            tags={"owner": "team-a"},
            config={"state": "running", "instance_type": "t3.micro"},
        ),
        "web-2": ResourceFactory(
            connection=conn,
            resource_type=INSTANCE,
            name="web-2",
            region="us-east-1",
            config={"state": "running", "instance_type": "m5.large"},
        ),
        "vol-1": ResourceFactory(
            connection=conn,
            resource_type=VOLUME,
            name="vol-1",
            region="eu-west-1",
            config={"state": "in-use", "size_gb": 8, "volume_type": "gp3", "encrypted": True},
        ),
    }


def data(kind: str, values: str, *, name: str = "Policy", types=(), severity: str = "medium", enabled: bool = True):
    out = {"name": name, "kind": kind, "values": values, "resource_types": list(types), "severity": severity}
    if enabled:
        out["enabled"] = "on"
    return out


def open_names(org, policy: OrgPolicy) -> set[str]:
    return set(
        Finding.objects.for_org(org)
        .filter(rule_id=f"policy-{policy.pk}", status=Finding.Status.OPEN)
        .values_list("resource_name", flat=True)
    )


def create(client, org, form: dict, capture) -> OrgPolicy:
    with capture(execute=True):
        response = client.post(url("policy_new", org), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == url("policies", org)
    return OrgPolicy.objects.for_org(org).latest("pk")


def edit(client, org, policy: OrgPolicy, form: dict, capture):
    with capture(execute=True):
        response = client.post(url("policy_edit", org, policy_id=policy.pk), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()


# --- each kind, through the views ----------------------------------------------------------------


def test_required_tags_opens_findings_and_an_edit_resolves_them(
    client_for, member, org, fleet, django_capture_on_commit_callbacks
):
    client = client_for(member)
    form = data("required_tags", "owner\nteam", name="Owners", types=[INSTANCE])
    policy = create(client, org, form, django_capture_on_commit_callbacks)
    assert policy.kind == "required_tags" and policy.values == ["owner", "team"] and policy.created_by == member
    assert policy.resource_types == [INSTANCE]
    assert open_names(org, policy) == {"web-1", "web-2"}  # web-1 has an owner but no team
    f = Finding.objects.for_org(org).get(rule_id=f"policy-{policy.pk}", resource_name="web-2")
    assert f.category == "drift" and f.rule_source == "policy" and "owner" in f.title and f.severity == "medium"
    event = AuditEvent.objects.get(action=A.POLICY_CREATED)
    assert event.org == org and event.metadata["target"] == "Owners"

    # Only the owner tag is required now: web-1's finding resolves.
    form = data("required_tags", "owner", name="Owners", types=[INSTANCE], severity="high")
    edit(client, org, policy, form, django_capture_on_commit_callbacks)
    assert policy.values == ["owner"] and policy.severity == "high"
    assert open_names(org, policy) == {"web-2"}
    assert Finding.objects.for_org(org).get(rule_id=f"policy-{policy.pk}", resource_name="web-1").status == "resolved"
    assert Finding.objects.for_org(org).get(rule_id=f"policy-{policy.pk}", resource_name="web-2").severity == "high"
    updated = AuditEvent.objects.get(action=A.POLICY_UPDATED)
    assert updated.metadata["changed"] == ["values", "severity"]


def test_required_tags_on_every_tagged_type_by_default(
    client_for, member, org, fleet, django_capture_on_commit_callbacks
):
    policy = create(client_for(member), org, data("required_tags", "owner"), django_capture_on_commit_callbacks)
    assert policy.resource_types == []
    assert open_names(org, policy) == {"web-2", "vol-1"}


def test_allowed_regions(client_for, member, org, fleet, django_capture_on_commit_callbacks):
    client = client_for(member)
    policy = create(client, org, data("allowed_regions", "eu-west-1"), django_capture_on_commit_callbacks)
    assert open_names(org, policy) == {"web-2"}
    edit(client, org, policy, data("allowed_regions", "eu-west-1\nus-east-1"), django_capture_on_commit_callbacks)
    assert policy.values == ["eu-west-1", "us-east-1"]
    assert open_names(org, policy) == set()


def test_allowed_sizes(client_for, member, org, fleet, django_capture_on_commit_callbacks):
    client = client_for(member)
    policy = create(client, org, data("allowed_sizes", "t3.micro, t3.small"), django_capture_on_commit_callbacks)
    assert policy.values == ["t3.micro", "t3.small"]
    assert open_names(org, policy) == {"web-2"}
    edit(client, org, policy, data("allowed_sizes", "t3.micro, t3.small, m5.large"), django_capture_on_commit_callbacks)
    assert open_names(org, policy) == set()


def test_disable_resolves_and_enable_reopens(client_for, member, org, fleet, django_capture_on_commit_callbacks):
    client = client_for(member)
    policy = create(client, org, data("allowed_regions", "eu-west-1"), django_capture_on_commit_callbacks)
    toggle = url("policy_toggle", org, policy_id=policy.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(toggle).status_code == 302
    policy.refresh_from_db()
    assert not policy.enabled and open_names(org, policy) == set()
    event = AuditEvent.objects.get(action=A.POLICY_UPDATED)
    assert event.metadata["changed"] == ["enabled"] and event.metadata["enabled"] is False
    with django_capture_on_commit_callbacks(execute=True):
        client.post(toggle)
    policy.refresh_from_db()
    assert policy.enabled and open_names(org, policy) == {"web-2"}


def test_delete_confirms_then_resolves(client_for, member, org, fleet, django_capture_on_commit_callbacks):
    client = client_for(member)
    policy = create(client, org, data("required_tags", "owner", name="Owners"), django_capture_on_commit_callbacks)
    rule_id = f"policy-{policy.pk}"
    delete = url("policy_delete", org, policy_id=policy.pk)
    confirm = client.get(delete)
    assert confirm.status_code == 200 and "2 open findings" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(delete).status_code == 302
    assert not OrgPolicy.objects.for_org(org).exists()
    assert AuditEvent.objects.get(action=A.POLICY_DELETED).metadata["target"] == "Owners"
    statuses = set(Finding.objects.for_org(org).filter(rule_id=rule_id).values_list("status", flat=True))
    assert statuses == {"resolved"}


def test_edit_page_is_filled_and_unchanged_save_changes_nothing(client_for, member, org):
    policy = OrgPolicy.objects.for_org(org).create(name="EU", kind="allowed_regions", values=["eu-west-1", "eu-west-2"])
    client = client_for(member)
    page = client.get(url("policy_edit", org, policy_id=policy.pk))
    assert page.status_code == 200 and "eu-west-1\neu-west-2" in page.content.decode()
    client.post(
        url("policy_edit", org, policy_id=policy.pk), data("allowed_regions", "eu-west-1, eu-west-2", name="EU")
    )
    assert not AuditEvent.objects.filter(action=A.POLICY_UPDATED).exists()


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (data("allowed_regions", "eu-wset-1"), "values", "did you mean eu-west-1"),
        (data("allowed_regions", "narnia"), "values", "Unknown region"),
        (data("required_tags", "owner, " + "k" * 129), "values", "at most 128"),
        (data("required_tags", " , \n ,"), "values", "at least one value"),
        (data("allowed_sizes", "t3 micro"), "values", "Not an instance or VM size"),
        (data("allowed_sizes", "t3.micro", types=[VOLUME]), "resource_types", "does not apply"),
        (data("allowed_regions", "eu-west-1", types=["aws.iam.user"]), "resource_types", "does not apply"),
        (data("allowed_regions", "eu-west-1", types=["aws.nope.thing"]), "resource_types", "valid choice"),
        ({**data("required_tags", "owner"), "kind": "forbidden_things"}, "kind", "valid choice"),
        ({**data("required_tags", "owner"), "name": "  "}, "name", "required"),
    ],
)
def test_bad_values_are_clear_errors(client_for, member, org, form, field, message):
    response = client_for(member).post(url("policy_new", org), form)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert message in response.content.decode()
    assert not OrgPolicy.objects.for_org(org).exists()


def test_region_values_are_normalized_and_known_ones_accepted(org):
    form = PolicyForm(data("allowed_regions", "West Europe, eu-west-1\nus-gov-west-1, xx-newplace-1"), org=org)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["values"] == ["westeurope", "eu-west-1", "us-gov-west-1", "xx-newplace-1"]


def test_region_seen_in_the_inventory_is_known(org, conn):
    ResourceFactory(connection=conn, resource_type="azure.compute.vm", region="brandnewregion")
    assert PolicyForm(data("allowed_regions", "brandnewregion"), org=org).is_valid()


def test_split_values_dedupes_and_trims():
    assert split_values(" a, b\n\na ,c\r\n") == ["a", "b", "c"]


def test_form_marks_each_type_with_its_kinds(client_for, member, org):
    body = client_for(member).get(url("policy_new", org)).content.decode()
    assert 'value="aws.ec2.instance"' in body
    assert 'data-kinds="required_tags allowed_regions allowed_sizes"' in body
    assert 'data-kinds="required_tags"' in body  # e.g. IAM users: tagged, not regional
    assert "js/rules.js" in body


# --- the list --------------------------------------------------------------------------------------


def test_list_shows_kind_values_and_open_counts(client_for, member, org, conn):
    policy = OrgPolicy.objects.for_org(org).create(name="Cost tags", kind="required_tags", values=["cost-center"])
    resource = ResourceFactory(connection=conn)
    FindingFactory(resource=resource, rule_id=f"policy-{policy.pk}")
    FindingFactory(resource=ResourceFactory(connection=conn), rule_id=f"policy-{policy.pk}", status="resolved")
    response = client_for(member).get(url("policies", org))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Cost tags" in body and "Required tags" in body and "cost-center" in body
    assert f'data-testid="open-{policy.pk}">1<' in body
    assert url("policy_toggle", org, policy_id=policy.pk) in body


def test_empty_list_says_what_to_do(client_for, member, org):
    body = client_for(member).get(url("policies", org)).content.decode()
    assert "No policies yet" in body and url("policy_new", org) in body


def test_list_query_count_is_bounded(client_for, member, org, conn, django_assert_max_num_queries):
    for i in range(30):
        p = OrgPolicy.objects.for_org(org).create(name=f"P{i:02d}", kind="required_tags", values=[f"tag{i}"])
        FindingFactory(resource=ResourceFactory(connection=conn), rule_id=f"policy-{p.pk}")
    client = client_for(member)
    with django_assert_max_num_queries(14):  # session, membership, nav: ~10; the page: 3
        response = client.get(url("policies", org))
    assert response.status_code == 200 and "P29" in response.content.decode()


# --- roles and isolation -------------------------------------------------------------------------


@pytest.mark.parametrize("member_role", ["viewer"])
def test_viewer_sees_the_list_but_may_not_write(client_for, member, org):
    policy = OrgPolicy.objects.for_org(org).create(name="Owners", kind="required_tags", values=["owner"])
    client = client_for(member)
    page = client.get(url("policies", org))
    assert page.status_code == 200 and "Owners" in page.content.decode()
    assert url("policy_new", org) not in page.content.decode()
    assert client.get(url("policy_new", org)).status_code == 403
    assert client.post(url("policy_new", org), data("required_tags", "x")).status_code == 403
    for name in ("policy_edit", "policy_delete"):
        assert client.get(url(name, org, policy_id=policy.pk)).status_code == 403
    for name in ("policy_edit", "policy_toggle", "policy_delete"):
        assert client.post(url(name, org, policy_id=policy.pk)).status_code == 403
    policy.refresh_from_db()
    assert policy.enabled


def test_outsider_gets_404_everywhere(client_for, outsider, org):
    policy = OrgPolicy.objects.for_org(org).create(name="Owners", kind="required_tags", values=["owner"])
    client = client_for(outsider)
    for target in (url("policies", org), url("policy_new", org)):
        assert client.get(target).status_code == 404
    for name in ("policy_edit", "policy_delete"):
        assert client.get(url(name, org, policy_id=policy.pk)).status_code == 404
    for name in ("policy_edit", "policy_toggle", "policy_delete"):
        assert client.post(url(name, org, policy_id=policy.pk)).status_code == 404
        theirs = reverse(f"findings:{name}", kwargs={"org_slug": outsider.org.slug, "policy_id": policy.pk})
        assert client.post(theirs).status_code == 404
    assert OrgPolicy.objects.for_org(org).get().enabled
