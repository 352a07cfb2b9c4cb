"""Connections through the UI: the role wizard, access keys, test on demand, edit, disable, delete,
roles, audit, and secrets that never leak."""

from __future__ import annotations

import json
import logging

import boto3
import pytest
from django.db import connection as db
from django.test import Client
from django.urls import reverse
from moto import mock_aws

from accounts.models import AuditEvent
from connections import credentials
from connections.models import CloudConnection
from inventory.models import SyncRun
from tests.conftest import PASSWORD
from tests.inventory.sync_helpers import eager_celery  # noqa: F401  (CI points Celery at Redis)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


@pytest.fixture
def aws(monkeypatch, settings):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAPLATFORMEXAMPLE0",
        "AWS_SECRET_ACCESS_KEY": "p",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings.PLATFORM_AWS_ACCOUNT_ID = None
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_role(RoleName="CloustralReadOnly", AssumeRolePolicyDocument="{}")
        iam.create_account_alias(AccountAlias="acme-prod")
        yield iam


def sudo(user) -> Client:
    """A client that logged in with the password just now: a fresh proof of identity, which credential
    pages need (accounts/sudo.py)."""
    c = Client()
    c.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    return c


def url(name, org, *args):
    return reverse(f"connections:{name}", args=[org.slug, *args])


def make_keys_connection(org, access_key_id="AKIAIOSFODNN7EXAMPLE", secret=SECRET, **extra) -> CloudConnection:
    conn = CloudConnection(org=org, name=extra.pop("name", "Keys"), provider="aws", auth_method="aws_keys", **extra)
    credentials.store_secret(conn, {"access_key_id": access_key_id, "secret_access_key": secret})
    conn.save()
    return conn


def test_role_wizard_shows_external_id_and_downloads(org, owner, aws):
    c = sudo(owner)
    page = c.get(url("create", org, "aws-role")).content.decode()
    external_id = page.split('data-testid="external-id" id="external-id">')[1].split("<")[0]
    assert external_id.startswith("cloustral-") and len(external_id) > 30
    assert c.get(url("create", org, "aws-role")).content.decode().count(external_id) >= 1  # stable across loads
    template = json.loads(c.get(url("role_setup_file", org, "cloudformation")).content)
    trust = template["Resources"]["CloustralRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["StringEquals"]["sts:ExternalId"] == external_id
    assert trust["Principal"]["AWS"] == "arn:aws:iam::123456789012:root"
    assert (
        "arn:aws:iam::aws:policy/SecurityAudit"
        in template["Resources"]["CloustralRole"]["Properties"]["ManagedPolicyArns"]
    )
    policy = c.get(url("role_setup_file", org, "policy"))
    assert policy["Content-Disposition"].startswith("attachment;")
    assert (
        json.loads(policy.content)["trustPolicy"]["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"]
        == external_id
    )


def test_create_role_connection_verifies_and_records_account(org, owner, aws):
    c = sudo(owner)
    page = c.get(url("create", org, "aws-role")).content.decode()
    external_id = page.split('id="external-id">')[1].split("<")[0]
    response = c.post(
        url("create", org, "aws-role"),
        {"name": "Production", "role_arn": "arn:aws:iam::123456789012:role/CloustralReadOnly"},
    )
    conn = CloudConnection.objects.for_org(org).get()
    # Saved, and its first scan started: the person lands on that scan's progress.
    first_scan = SyncRun.objects.for_org(org).get(connection=conn)
    assert response.status_code == 302 and response["Location"] == first_scan.get_absolute_url()
    assert conn.status == "verified" and conn.aws_account_id == "123456789012" and conn.aws_account_alias == "acme-prod"
    assert conn.external_id == external_id and "us-east-1" in conn.enabled_regions
    assert not conn.encrypted_secret  # a role connection stores no secret at all
    detail = c.get(conn.get_absolute_url()).content.decode()
    assert "123456789012" in detail and "Verified" in detail
    event = AuditEvent.objects.get(org=org, action="connection_created")
    assert event.metadata["target"] == "Production"
    # The next wizard offers a fresh External ID.
    assert external_id not in c.get(url("create", org, "aws-role")).content.decode()


def test_malformed_arn_is_a_field_error_and_nothing_is_saved(org, owner, aws):
    response = sudo(owner).post(url("create", org, "aws-role"), {"name": "P", "role_arn": "arn:aws:iam::1234:user/bob"})
    assert response.status_code == 200
    assert b"This is not an IAM role ARN" in response.content
    assert not CloudConnection.objects.for_org(org).exists()


def test_failed_check_saves_nothing(org, owner, aws, monkeypatch):
    from connections.providers import aws as aws_provider
    from connections.providers.base import ConnectionCheckError

    def refuse(creds, **kwargs):
        raise ConnectionCheckError("role_not_assumable", "Cloustral could not assume this role.", field="role_arn")

    monkeypatch.setattr(aws_provider, "check", refuse)
    response = sudo(owner).post(
        url("create", org, "aws-role"), {"name": "P", "role_arn": "arn:aws:iam::123456789012:role/X"}
    )
    assert b"Cloustral could not assume this role." in response.content
    assert not CloudConnection.objects.for_org(org).exists()


def test_access_keys_connection_and_secret_never_leaks(org, owner, aws, caplog, settings):
    caplog.set_level(logging.DEBUG)
    user = aws.create_user(UserName="scanner")
    key = aws.create_access_key(UserName="scanner")["AccessKey"]
    secret = key["SecretAccessKey"]
    c = sudo(owner)
    response = c.post(
        url("create", org, "aws-keys"),
        {"name": "Keys", "access_key_id": key["AccessKeyId"], "secret_access_key": secret},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    conn = CloudConnection.objects.for_org(org).get()
    assert conn.status == "verified" and user
    # Not in the database in plaintext…
    with db.cursor() as cursor:
        cursor.execute("SELECT * FROM connections_cloudconnection")
        assert secret not in repr(cursor.fetchall())
    # …not in any page (detail, edit, list) nor the admin…
    pages = [c.get(conn.get_absolute_url()), c.get(url("edit", org, conn.pk)), c.get(url("list", org))]
    staff = Client()
    from tests.accounts.helpers import login_with_mfa
    from tests.factories import UserFactory

    login_with_mfa(staff, UserFactory(is_staff=True, is_superuser=True))  # the admin requires staff MFA
    pages += [
        staff.get(reverse("admin:connections_cloudconnection_changelist")),
        staff.get(reverse("admin:connections_cloudconnection_change", args=[conn.pk])),
    ]
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        assert secret not in text and conn.encrypted_secret not in text
    assert "Set, last changed" in pages[0].content.decode()
    # …not in any log record, nor the audit log.
    assert all(secret not in r.getMessage() and secret not in repr(r.__dict__) for r in caplog.records)
    assert secret not in json.dumps(list(AuditEvent.objects.values("metadata")), default=str)
    # The ciphertext copied onto another connection row does not decrypt.
    other = make_keys_connection(org, name="Other")
    CloudConnection.objects.for_org(org).filter(pk=other.pk).update(encrypted_secret=conn.encrypted_secret)
    other.refresh_from_db()
    from cloustral import crypto

    with pytest.raises(crypto.DecryptionError):
        credentials.aws_credentials(other)


@pytest.mark.usefixtures("eager_celery")
def test_test_on_demand_records_failure_and_success(org, owner, aws, django_capture_on_commit_callbacks):
    conn = make_keys_connection(org)  # a key moto does not know about
    c = sudo(owner)
    with django_capture_on_commit_callbacks(execute=True):  # the queued check (eager Celery) runs
        response = c.post(url("test", org, conn.pk))
    response = c.get(response["Location"])
    conn.refresh_from_db()
    assert conn.status in {"failed", "verified"}
    assert b"Connection" in response.content


@pytest.mark.usefixtures("eager_celery")
def test_stubbed_failure_shows_actionable_message(org, owner, monkeypatch, django_capture_on_commit_callbacks):
    from connections.providers import aws as aws_provider
    from connections.providers.base import ConnectionCheckError

    conn = make_keys_connection(org)
    monkeypatch.setattr(
        aws_provider,
        "check",
        lambda creds, **k: (_ for _ in ()).throw(
            ConnectionCheckError("invalid_secret", "The secret access key does not match the access key id.")
        ),
    )
    c = sudo(owner)
    with django_capture_on_commit_callbacks(execute=True):  # the queued check (eager Celery) runs
        response = c.post(url("test", org, conn.pk))
    response = c.get(response["Location"])
    conn.refresh_from_db()
    assert conn.status == "failed" and conn.last_check_code == "invalid_secret"
    assert b"The secret access key does not match the access key id." in response.content
    assert AuditEvent.objects.filter(org=org, action="connection_tested", metadata__result="invalid_secret").exists()


def test_edit_rotates_secret_after_testing_it(org, owner, aws):
    key = aws.create_access_key(UserName=aws.create_user(UserName="u2")["User"]["UserName"])["AccessKey"]
    conn = make_keys_connection(org, access_key_id=key["AccessKeyId"], secret="old-secret")
    before = conn.encrypted_secret
    c = sudo(owner)
    response = c.post(
        url("edit", org, conn.pk),
        {"name": "Keys", "access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]},
    )
    assert response.status_code == 302
    conn.refresh_from_db()
    assert (
        conn.encrypted_secret != before
        and credentials.aws_credentials(conn).secret_access_key == key["SecretAccessKey"]
    )
    assert AuditEvent.objects.filter(org=org, action="connection_secret_rotated").exists()
    # Renaming alone keeps the secret.
    c.post(url("edit", org, conn.pk), {"name": "Renamed", "access_key_id": "", "secret_access_key": ""})
    conn.refresh_from_db()
    assert conn.name == "Renamed" and credentials.aws_credentials(conn).secret_access_key == key["SecretAccessKey"]


def test_regions_disable_and_delete(org, owner, aws):
    conn = make_keys_connection(org, enabled_regions=["eu-west-1", "us-east-1"])
    c = sudo(owner)
    c.post(url("regions", org, conn.pk), {"regions": ["eu-west-1"]})
    conn.refresh_from_db()
    assert conn.selected_regions == ["eu-west-1"] and conn.scan_regions == ["eu-west-1"]
    c.post(url("toggle", org, conn.pk))
    conn.refresh_from_db()
    assert not conn.enabled
    response = c.post(url("delete", org, conn.pk), {"confirm_name": "wrong"})
    assert response.status_code == 400 and CloudConnection.objects.for_org(org).exists()
    response = c.post(url("delete", org, conn.pk), {"confirm_name": "Keys"})
    assert response.status_code == 302 and not CloudConnection.objects.for_org(org).exists()
    assert AuditEvent.objects.filter(org=org, action="connection_deleted").exists()


def test_credential_pages_require_recent_password(org, owner):
    c = Client()
    c.force_login(owner)
    response = c.get(url("create", org, "aws-keys"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("sudo_confirm"))


@pytest.mark.parametrize("member_role", ["member", "viewer"])
def test_members_and_viewers_see_but_cannot_manage(org, member, member_role, client_for):
    conn = make_keys_connection(org)
    c = client_for(member)
    assert c.get(url("list", org)).status_code == 200
    assert c.get(url("detail", org, conn.pk)).status_code == 200
    assert b"Test connection" not in c.get(url("detail", org, conn.pk)).content
    for name, args, method in [
        ("choose", (), "get"),
        ("create", ("aws-keys",), "get"),
        ("edit", (conn.pk,), "get"),
        ("test", (conn.pk,), "post"),
        ("toggle", (conn.pk,), "post"),
        ("delete", (conn.pk,), "post"),
    ]:
        assert getattr(c, method)(url(name, org, *args)).status_code == 403, name


def test_empty_state_leads_to_connecting(org, owner, client_for):
    page = client_for(owner).get(url("list", org)).content.decode()
    assert "Connect your first cloud account" in page


def test_another_orgs_connection_is_404(org, owner, outsider, client_for):
    conn = make_keys_connection(org)
    c = client_for(outsider)
    for name in ("detail", "edit", "delete"):
        assert c.get(url(name, outsider.org, conn.pk)).status_code == 404
        assert c.get(url(name, org, conn.pk)).status_code == 404


def test_key_rotation_covers_connection_secrets(org, owner, settings, capsys):
    from django.core.management import call_command

    from accounts.models import TOTPDevice
    from cloustral import crypto

    settings.ENCRYPTION_KEYS = "old:" + "B" * 43
    conn = make_keys_connection(org)
    device = TOTPDevice(user=owner, name="a", confirmed=True)
    device.set_key(b"x" * 20)
    device.save()
    settings.ENCRYPTION_KEYS = "new:" + "C" * 43 + ",old:" + "B" * 43
    call_command("rotate_encryption_keys")
    out = capsys.readouterr().out
    assert "connections.CloudConnection.encrypted_secret: 1 rotated" in out
    assert "accounts.TOTPDevice.encrypted_key: 1 rotated" in out
    assert "Total: 2 rotated" in out
    conn.refresh_from_db()
    assert crypto.key_id_of(conn.encrypted_secret) == "new"
    assert credentials.aws_credentials(conn).secret_access_key == SECRET


TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
SUB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
AZ_SECRET = "az~secret.value_1234567890"


@pytest.fixture
def azure_tenant(fake_azure):
    fake_azure.add_tenant(TENANT)
    fake_azure.add_app(TENANT, CLIENT, AZ_SECRET)
    fake_azure.add_subscription(TENANT, SUB, "Contoso Production")
    return fake_azure


def azure_form(**overrides):
    data = {
        "name": "Contoso",
        "azure_cloud": "public",
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "client_secret": AZ_SECRET,
        "subscription_ids": SUB,
    }
    return {**data, **overrides}


def test_create_azure_connection_against_the_fake_arm(org, owner, azure_tenant):
    c = sudo(owner)
    response = c.post(url("create", org, "azure"), azure_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    conn = CloudConnection.objects.for_org(org).get()
    assert conn.provider == "azure" and conn.status == "verified"
    assert conn.subscriptions[0]["name"] == "Contoso Production"
    page = c.get(conn.get_absolute_url()).content.decode()
    assert "Contoso Production" in page and AZ_SECRET not in page
    assert credentials.azure_client_secret(conn) == AZ_SECRET
    with db.cursor() as cursor:
        cursor.execute("SELECT * FROM connections_cloudconnection")
        assert AZ_SECRET not in repr(cursor.fetchall())


def test_azure_wrong_secret_and_unknown_subscription_are_field_errors(org, owner, azure_tenant):
    c = sudo(owner)
    response = c.post(url("create", org, "azure"), azure_form(client_secret="wrong-secret"))
    assert response.status_code == 200 and "wrong-secret" not in response.content.decode()
    assert b"secret" in response.content.lower()
    response = c.post(url("create", org, "azure"), azure_form(subscription_ids="ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee"))
    assert response.status_code == 200 and b"ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee" in response.content
    response = c.post(url("create", org, "azure"), azure_form(subscription_ids="not-a-guid"))
    assert b"Not a subscription id" in response.content
    assert not CloudConnection.objects.for_org(org).exists()


def test_azure_edit_changes_subscriptions_after_testing(org, owner, azure_tenant):
    second = "bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee"
    azure_tenant.add_subscription(TENANT, second, "Contoso Dev")
    c = sudo(owner)
    c.post(url("create", org, "azure"), azure_form())
    conn = CloudConnection.objects.for_org(org).get()
    response = c.post(url("edit", org, conn.pk), azure_form(client_secret="", subscription_ids=f"{SUB}\n{second}"))
    assert response.status_code == 302
    conn.refresh_from_db()
    assert [s["name"] for s in conn.subscriptions] == ["Contoso Production", "Contoso Dev"]
    assert credentials.azure_client_secret(conn) == AZ_SECRET  # kept: not re-entered
