"""Connecting a whole AWS Organization: the StackSet template, the "Single account / AWS Organization"
choice, the organization check (ListAccounts, ACTIVE accounts only), member connections on its pages,
and what members may not do on their own (edit, schedule, delete: their organization decides)."""

from __future__ import annotations

import json

import boto3
import cfnlint
import pytest
import yaml
from botocore.exceptions import ClientError
from moto import mock_aws

from accounts.models import AuditEvent
from billing.usage import count as usage_count
from connections import aws_setup, organization
from connections.models import CloudConnection
from connections.providers import aws as aws_provider
from connections.providers.base import ConnectionCheckError
from inventory.models import SyncRun
from tests.connections.test_connection_views import sudo, url
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import make_connection

eager_celery = helpers.eager_celery  # CI points Celery at Redis

MANAGEMENT = "123456789012"  # moto's default account
ROLE = f"arn:aws:iam::{MANAGEMENT}:role/CloustralReadOnly"


@pytest.fixture
def aws_org(monkeypatch, settings):
    """A moto organization: the management account, two ACTIVE members and a closed (SUSPENDED) one."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAPLATFORMEXAMPLE0",
        "AWS_SECRET_ACCESS_KEY": "p",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings.PLATFORM_AWS_ACCOUNT_ID = None
    with mock_aws():
        client = boto3.client("organizations", region_name="us-east-1")
        client.create_organization(FeatureSet="ALL")
        ids = {}
        for name in ("dev", "prod", "old"):
            ids[name] = client.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"][
                "AccountId"
            ]
        client.close_account(AccountId=ids["old"])
        yield ids


def org_connection(org, **extra) -> CloudConnection:
    return make_connection(
        org, name="Acme org", aws_scope=CloudConnection.AwsScope.ORGANIZATION, role_arn=ROLE, **extra
    )


# --- the StackSet template -------------------------------------------------------------------------


def test_the_stackset_template_is_valid_cloudformation_naming_the_external_id():
    body = aws_setup.stackset_template(MANAGEMENT, "cloustral-external-id-for-test")
    assert cfnlint.lint(body) == [], "cfn-lint finds nothing wrong"
    assert yaml.safe_load(body) == json.loads(body), "JSON, so also YAML"
    template = json.loads(body)
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    role = template["Resources"]["CloustralRole"]
    assert role["Type"] == "AWS::IAM::Role"
    assert role["Properties"]["RoleName"] == aws_setup.ROLE_NAME, "the same role name in every member"
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "cloustral-external-id-for-test"}}
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}
    assert set(role["Properties"]["ManagedPolicyArns"]) == set(aws_setup.MANAGED_POLICIES)
    assert cfnlint.lint(aws_setup.cloudformation_template(MANAGEMENT, "cloustral-x1")) == []


def test_the_wizard_explains_and_serves_the_stackset_with_the_pending_external_id(org, owner, aws_org):
    c = sudo(owner)
    page = c.get(url("create", org, "aws-role")).content.decode()
    external_id = page.split('data-testid="external-id" id="external-id">')[1].split("<")[0]
    assert 'data-testid="stackset-step"' in page and "service-managed permissions" in page
    assert 'name="aws_scope"' in page and "AWS Organization" in page
    response = c.get(url("role_setup_file", org, "stackset"))
    assert response["Content-Disposition"] == 'attachment; filename="cloustral-member-role.stackset.json"'
    trust = json.loads(response.content)["Resources"]["CloustralRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] == external_id


def test_a_connections_page_serves_its_own_external_id_and_never_another_orgs(org, outsider, owner, aws_org):
    mine = org_connection(org, external_id="cloustral-mine-0123456789")
    theirs = make_connection(outsider.org, name="Theirs", external_id="cloustral-theirs-0123456789")
    c = sudo(owner)
    body = c.get(url("role_setup_file", org, "stackset") + f"?connection={mine.pk}").content.decode()
    assert "cloustral-mine-0123456789" in body
    detail = c.get(mine.get_absolute_url()).content.decode()
    assert f"stackset.json?connection={mine.pk}" in detail
    assert c.get(url("role_setup_file", org, "stackset") + f"?connection={theirs.pk}").status_code == 404
    assert c.get(url("role_setup_file", org, "stackset") + "?connection=abc").status_code == 404
    assert c.get(url("role_setup_file", org, "nonsense")).status_code == 404


# --- the check and the creation ----------------------------------------------------------------------


def test_the_organization_check_lists_only_active_accounts(aws_org):
    result = aws_provider.check(aws_provider.AwsCredentials(role_arn=ROLE, external_id="x" * 12), organization=True)
    listed = {a["id"]: a["name"] for a in result.member_accounts}
    assert listed == {MANAGEMENT: listed[MANAGEMENT], aws_org["dev"]: "dev", aws_org["prod"]: "prod"}
    single = aws_provider.check(aws_provider.AwsCredentials(role_arn=ROLE, external_id="x" * 12))
    assert single.member_accounts == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [("AWSOrganizationsNotInUseException", "not_in_organization"), ("AccessDeniedException", "not_organization_admin")],
)
def test_the_organization_check_explains_a_role_that_cannot_list_the_accounts(aws_org, monkeypatch, code, expected):
    def refuse(session, **kwargs):
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "ListAccounts")

    monkeypatch.setattr(aws_provider, "list_member_accounts", refuse)
    with pytest.raises(ConnectionCheckError) as raised:
        aws_provider.check(aws_provider.AwsCredentials(role_arn=ROLE, external_id="x" * 12), organization=True)
    assert raised.value.code == expected


def test_the_member_role_keeps_the_organizations_role_name_and_path():
    assert (
        aws_provider.member_role_arn("arn:aws:iam::123456789012:role/security/CloustralReadOnly", "210987654321")
        == "arn:aws:iam::210987654321:role/security/CloustralReadOnly"
    )


def test_adding_an_organization_lists_its_members_at_once(org, owner, aws_org, eager_celery):
    c = sudo(owner)
    response = c.post(
        url("create", org, "aws-role"), {"name": "Acme org", "aws_scope": "organization", "role_arn": ROLE}
    )
    assert response.status_code == 302
    connection = CloudConnection.objects.for_org(org).get(name="Acme org")
    assert connection.is_organization and connection.aws_account_id == MANAGEMENT
    members = {m.aws_account_id: m for m in organization.members_of(connection)}
    assert set(members) == {aws_org["dev"], aws_org["prod"]}, "active accounts other than its own"
    assert members[aws_org["dev"]].name == f"Acme org / dev ({aws_org['dev']})"
    created = AuditEvent.objects.filter(org=org, action=AuditEvent.Action.CONNECTION_CREATED).get()
    assert created.metadata["scope"] == "organization"


def test_adding_an_organization_needs_a_fresh_proof_of_identity(org, owner, aws_org, client):
    client.force_login(owner)
    response = client.post(
        url("create", org, "aws-role"), {"name": "Acme org", "aws_scope": "organization", "role_arn": ROLE}
    )
    assert response.status_code in (302, 403)
    assert not CloudConnection.objects.for_org(org).exists()


def test_single_account_is_the_default(org, owner, aws_org, eager_celery):
    c = sudo(owner)
    c.post(url("create", org, "aws-role"), {"name": "Prod", "role_arn": ROLE})
    connection = CloudConnection.objects.for_org(org).get()
    assert connection.aws_scope == CloudConnection.AwsScope.SINGLE
    assert not organization.members_of(connection).exists()


# --- members on the pages, and what they may not do on their own --------------------------------------


@pytest.fixture
def with_members(org):
    parent = org_connection(org, aws_account_id=MANAGEMENT)
    organization.do_sync_members(
        parent,
        [
            {"id": "111111111111", "name": "dev", "status": "ACTIVE"},
            {"id": "222222222222", "name": "prod", "status": "ACTIVE"},
            {"id": MANAGEMENT, "name": "management", "status": "ACTIVE"},
        ],
    )
    return parent


def test_the_list_shows_the_organization_once_with_its_member_count(org, owner, with_members):
    c = sudo(owner)
    page = c.get(url("list", org)).content.decode()
    assert "Acme org" in page and "2 member accounts" in page
    assert "Acme org / dev" not in page, "members are listed on the organization's page"


def test_the_organizations_page_lists_members_with_their_last_scan(org, owner, with_members):
    dev = organization.members_of(with_members).get(aws_account_id="111111111111")
    SyncRun.objects.for_org(org).create(
        connection=dev, status="failed", errors=[{"code": "AccessDenied", "message": "Could not assume the role"}]
    )
    c = sudo(owner)
    page = c.get(with_members.get_absolute_url()).content.decode()
    assert page.count('data-testid="member-row"') == 2
    assert 'data-account="111111111111"' in page and "Could not assume the role" in page
    assert "Not scanned yet" in page  # prod
    member_page = c.get(dev.get_absolute_url()).content.decode()
    assert 'data-testid="parent-link"' in member_page and 'data-testid="member-note"' in member_page
    assert url("edit", org, dev.pk) not in member_page


def test_the_members_table_is_paginated(org, owner, with_members, monkeypatch):
    from inventory.templatetags import organization_tags

    monkeypatch.setattr(organization_tags, "MEMBERS_PER_PAGE", 1)
    c = sudo(owner)
    first = c.get(with_members.get_absolute_url()).content.decode()
    second = c.get(with_members.get_absolute_url() + "?members=2").content.decode()
    assert first.count('data-testid="member-row"') == 1 and "Page 1 of 2" in first
    assert 'data-account="222222222222"' in second


@pytest.mark.parametrize("name", ["edit", "delete"])
def test_a_members_settings_are_its_organizations(org, owner, with_members, name):
    dev = organization.members_of(with_members).get(aws_account_id="111111111111")
    c = sudo(owner)
    response = c.get(url(name, org, dev.pk))
    assert response.status_code == 302 and response["Location"] == with_members.get_absolute_url()
    for post_name, data in (
        ("schedule", {"scan_frequency": "hourly"}),
        ("regions", {"regions": ["eu-west-1"]}),
        ("toggle", {}),
        ("delete", {"confirm_name": dev.name}),
    ):
        assert c.post(url(post_name, org, dev.pk), data).status_code == 302
    dev.refresh_from_db()
    assert dev.enabled and dev.scan_frequency == "manual" and dev.selected_regions == []


def test_disabling_the_organization_disables_its_members(org, owner, with_members):
    c = sudo(owner)
    c.post(url("toggle", org, with_members.pk))
    assert not organization.members_of(with_members).filter(enabled=True).exists()
    c.post(url("toggle", org, with_members.pk))
    assert not organization.members_of(with_members).filter(enabled=False).exists()


def test_deleting_the_organization_removes_its_members(org, owner, with_members):
    c = sudo(owner)
    page = c.get(url("delete", org, with_members.pk)).content.decode()
    assert "Its member accounts (2)" in page
    c.post(url("delete", org, with_members.pk), {"confirm_name": "Acme org"})
    assert not CloudConnection.objects.for_org(org).exists()


def test_an_organization_counts_as_one_connection_in_the_plan(org, with_members):
    assert usage_count(org, "connections") == 1


def test_member_names_stay_unique_and_follow_the_account(org, with_members):
    make_connection(org, name="Acme org / ops (333333333333)")
    changes = organization.do_sync_members(with_members, [{"id": "333333333333", "name": "ops", "status": "ACTIVE"}])
    assert changes.joined == ["333333333333"] and set(changes.left) == {"111111111111", "222222222222"}
    ops = organization.members_of(with_members).get(aws_account_id="333333333333")
    assert ops.name == f"Acme org / ops (333333333333) #{with_members.pk}"
    again = organization.do_sync_members(with_members, [{"id": "111111111111", "name": "dev2", "status": "ACTIVE"}])
    assert again.joined == ["111111111111"], "an account that comes back is the same member again"
    assert (
        organization.members_of(with_members).get(aws_account_id="111111111111").name
        == "Acme org / dev2 (111111111111)"
    )


def test_members_are_scanned_with_their_organization_not_on_their_own(org, with_members):
    from inventory import actions as inventory_actions

    due = inventory_actions.due_connections()
    assert with_members in due
    assert not set(due) & set(organization.members_of(with_members))
