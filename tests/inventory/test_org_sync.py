"""An AWS Organization as one connection, end to end against moto: the organization's scan lists its
accounts, each member account is scanned as its own connection (own run, coverage, inventory and findings,
reached through the same role name and External ID), a member whose role cannot be assumed is a clear
failure of its own scan only, and accounts that join or leave appear and disappear on the next scan."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from connections import organization
from connections.models import CloudConnection
from connections.providers import aws as aws_provider
from findings.models import Finding
from inventory import org_members, ratelimit
from inventory.models import Resource, ResourceChange, SyncRun
from tests.inventory import sync_helpers as helpers
from tests.inventory.sync_helpers import make_connection, sync_now

aws, eager_celery = helpers.aws, helpers.eager_celery
S = SyncRun.Status
REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _full_speed(settings, monkeypatch):
    settings.SYNC_RATE_FRACTION = 1.0
    monkeypatch.setattr(ratelimit, "_PROCESS_BUCKETS", {})


def member_session(account_id: str) -> boto3.Session:
    """Act in a member account of the moto organization (moto keeps one backend per account)."""
    answer = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=answer["AccessKeyId"],
        aws_secret_access_key=answer["SecretAccessKey"],
        aws_session_token=answer["SessionToken"],
        region_name=REGION,
    )


class MotoOrganization:
    def __init__(self) -> None:
        self.client = boto3.client("organizations", region_name=REGION)
        self.client.create_organization(FeatureSet="ALL")
        self.accounts: dict[str, str] = {}  # name → id

    def add(self, name: str) -> str:
        status = self.client.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        account_id = status["AccountId"]
        self.accounts[name] = account_id
        # Something of its own in each member: a queue and a security group open to the world on SSH.
        session = member_session(account_id)
        session.client("sqs").create_queue(QueueName=f"{name}-jobs")
        ec2 = session.client("ec2")
        group = ec2.create_security_group(GroupName=f"{name}-ssh", Description="ssh")["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        return account_id


@pytest.fixture
def moto_org(aws):
    return MotoOrganization()


@pytest.fixture
def org_connection(org, moto_org):
    return make_connection(org, name="Acme", regions=[REGION], aws_scope=CloudConnection.AwsScope.ORGANIZATION)


@pytest.fixture
def locked_out(monkeypatch):
    """Accounts whose role Cloustral cannot assume (the StackSet did not reach them)."""
    denied: set[str] = set()
    real = aws_provider.session_for

    def session_for(creds, **kwargs):
        if any(f"::{account}:" in creds.role_arn for account in denied):
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": f"Not authorized to assume {creds.role_arn}"}},
                "AssumeRole",
            )
        return real(creds, **kwargs)

    monkeypatch.setattr(aws_provider, "session_for", session_for)
    return denied


def scan_organization(connection, django_capture_on_commit_callbacks) -> SyncRun:
    """The organization's scan, then (queued by it, run in-process) its members' scans."""
    with django_capture_on_commit_callbacks(execute=True):
        return sync_now(connection)


def last_run(member: CloudConnection) -> SyncRun:
    return SyncRun.objects.for_org(member.org_id).filter(connection=member).order_by("-id").first()


def members(connection) -> dict[str, CloudConnection]:
    return {m.aws_account_id: m for m in organization.members_of(connection)}


def test_one_connection_scans_every_member_as_its_own_account(
    org, moto_org, org_connection, locked_out, eager_celery, django_capture_on_commit_callbacks
):
    dev, prod, locked = moto_org.add("dev"), moto_org.add("prod"), moto_org.add("sandbox")
    locked_out.add(locked)

    run = scan_organization(org_connection, django_capture_on_commit_callbacks)

    assert run.status in (S.SUCCEEDED, S.PARTIAL), run.errors
    found = members(org_connection)
    assert set(found) == {dev, prod, locked}, "the management account is the organization connection itself"
    for account_id, member in found.items():
        assert member.is_member and member.parent_id == org_connection.pk
        assert member.role_arn == f"arn:aws:iam::{account_id}:role/CloustralReadOnly", "the same role name"
        assert member.external_id == org_connection.external_id, "the same External ID"
        assert member.scan_frequency == CloudConnection.ScanFrequency.MANUAL, "scanned with the organization"

    # Each reachable member: its own run, its own coverage, its own inventory (ARNs in its own account).
    for account_id, name in ((dev, "dev"), (prod, "prod")):
        member_run = last_run(found[account_id])
        assert member_run.status in (S.SUCCEEDED, S.PARTIAL), member_run.errors
        assert member_run.coverage["aws.sqs.queue"] == {REGION: "collected"}
        assert member_run.coverage["aws.iam.role"] == {"global": "collected"}
        queues = Resource.objects.for_org(org).filter(connection=found[account_id], resource_type="aws.sqs.queue")
        assert [q.name for q in queues] == [f"{name}-jobs"]
        assert f":{account_id}:" in queues[0].native_id
        assert Finding.objects.for_org(org).filter(connection=found[account_id], status="open").exists()
    assert not Resource.objects.for_org(org).filter(connection=org_connection, name__endswith="-jobs").exists()

    # The member whose role cannot be assumed: its own scan failed, saying why; nothing else did.
    failed = last_run(found[locked])
    assert failed.status == S.FAILED
    assert "Not authorized to assume" in failed.errors[0]["message"]
    assert not Resource.objects.for_org(org).filter(connection=found[locked]).exists()
    assert SyncRun.objects.for_org(org).get(pk=run.pk).status in (S.SUCCEEDED, S.PARTIAL)

    # Once the StackSet reaches it, the next scan covers it.
    locked_out.clear()
    scan_organization(org_connection, django_capture_on_commit_callbacks)
    assert last_run(found[locked]).status in (S.SUCCEEDED, S.PARTIAL)
    assert Resource.objects.for_org(org).filter(connection=found[locked], name="sandbox-jobs").exists()


def test_accounts_joining_and_leaving_appear_and_disappear_on_the_next_scan(
    org, moto_org, org_connection, eager_celery, django_capture_on_commit_callbacks
):
    dev, prod = moto_org.add("dev"), moto_org.add("prod")
    scan_organization(org_connection, django_capture_on_commit_callbacks)
    leaving = members(org_connection)[prod]
    kept = Resource.objects.for_org(org).filter(connection=leaving).count()
    assert kept > 0
    assert Finding.objects.for_org(org).filter(connection=leaving, status="open").exists()

    moto_org.client.remove_account_from_organization(AccountId=prod)
    joined = moto_org.add("staging")
    scan_organization(org_connection, django_capture_on_commit_callbacks)

    found = members(org_connection)
    assert set(found) == {dev, prod, joined}
    assert found[joined].left_organization_at is None and found[joined].enabled
    assert last_run(found[joined]).status in (S.SUCCEEDED, S.PARTIAL)

    left = found[prod]
    assert left.left_organization_at is not None
    assert not left.enabled, "a member that left is scanned no more"
    assert not Resource.objects.for_org(org).filter(connection=left).exists(), "its inventory is gone"
    removal = last_run(left)
    assert removal.status == S.SUCCEEDED and removal.deleted_count == kept
    deleted = ResourceChange.objects.for_org(org).filter(sync_run=removal, kind=ResourceChange.Kind.DELETED)
    assert deleted.count() == kept, "each removal is in the change history"
    assert not Finding.objects.for_org(org).filter(connection=left, status="open").exists()
    assert Finding.objects.for_org(org).filter(connection=left, status="resolved").exists()
    assert Resource.objects.for_org(org).filter(connection=found[dev]).exists(), "the others are untouched"

    # A closed account (SUSPENDED) leaves too; nothing of it is read again.
    moto_org.client.close_account(AccountId=dev)
    scan_organization(org_connection, django_capture_on_commit_callbacks)
    assert members(org_connection)[dev].left_organization_at is not None
    assert not Resource.objects.for_org(org).filter(connection=found[dev]).exists()
    assert set(m.aws_account_id for m in organization.current_members(org_connection)) == {joined}


def test_a_listing_that_was_not_collected_never_makes_accounts_leave(
    org, moto_org, org_connection, eager_celery, django_capture_on_commit_callbacks
):
    dev = moto_org.add("dev")
    run = scan_organization(org_connection, django_capture_on_commit_callbacks)
    assert set(members(org_connection)) == {dev}

    run.coverage["aws.organizations.account"] = {"global": "denied"}
    assert org_members.listed_accounts(run) is None
    org_members.after_sync(run)
    assert members(org_connection)[dev].left_organization_at is None
