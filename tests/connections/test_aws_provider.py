"""The AWS connection test: moto for the happy paths, botocore's Stubber for the real error codes
moto does not enforce (trust policies, External IDs, bad or expired keys)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from connections.providers import aws
from connections.providers.aws import AwsCredentials
from connections.providers.base import ConnectionCheckError

ROLE_ARN = "arn:aws:iam::123456789012:role/CloustralReadOnly"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


@pytest.fixture
def platform_identity(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAPLATFORMEXAMPLE0",
        "AWS_SECRET_ACCESS_KEY": "platform-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto_account(platform_identity):
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
        }
        iam.create_role(RoleName="CloustralReadOnly", AssumeRolePolicyDocument=json.dumps(trust))
        iam.create_account_alias(AccountAlias="acme-prod")
        yield


def test_role_connection_happy_path(moto_account):
    result = aws.check(AwsCredentials(role_arn=ROLE_ARN, external_id="ext-123"))
    assert result.account_id == "123456789012"
    assert result.display_name == "acme-prod"
    assert "us-east-1" in result.regions and "eu-west-1" in result.regions
    assert ":assumed-role/CloustralReadOnly/cloustral-scan" in result.identity


def test_access_key_connection_happy_path(moto_account):
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="scanner")
    key = iam.create_access_key(UserName="scanner")["AccessKey"]
    result = aws.check(AwsCredentials(access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]))
    assert result.account_id == "123456789012"
    assert result.identity.endswith(":user/scanner") or "123456789012" in result.identity


@pytest.mark.parametrize(
    "arn",
    ["", "arn:aws:iam::12345:role/x", "arn:aws:iam::123456789012:user/bob", "arn:aws:s3:::bucket", "not an arn"],
)
def test_malformed_role_arn(arn, platform_identity):
    with pytest.raises(ConnectionCheckError) as exc:
        aws.check(AwsCredentials(role_arn=arn or " ", external_id="ext-123"))
    assert exc.value.code == "malformed_arn" and exc.value.field == "role_arn"


@pytest.mark.parametrize(
    "arn", ["arn:aws-us-gov:iam::123456789012:role/R", " arn:aws-cn:iam::123456789012:role/path/R "]
)
def test_sovereign_partition_arns_are_refused_clearly(arn, platform_identity):
    """Our identity cannot assume a role outside the commercial partition: refuse up front, by name,
    rather than accept a connection that can never scan."""
    with pytest.raises(ConnectionCheckError) as exc:
        aws.check(AwsCredentials(role_arn=arn, external_id="ext-123"))
    assert exc.value.code == "partition_unsupported" and exc.value.field == "role_arn"
    assert "GovCloud" in exc.value.message and "China" in exc.value.message


def test_commercial_partition_arns_are_accepted():
    assert aws.validate_role_arn(" arn:aws:iam::123456789012:role/path/R ") == "arn:aws:iam::123456789012:role/path/R"


class StubbedClients:
    """Replaces boto3 clients by stubbed ones answering queued AWS errors, service by service."""

    def __init__(self, monkeypatch):
        self.queues: dict[str, list[tuple[str, str, int]]] = {}
        self.stubbers: list[Stubber] = []
        real_client = boto3.Session.client

        def client(session, service, *args, **kwargs):
            made = real_client(session, service, *args, **kwargs)
            if service not in self.queues:
                return made  # services with nothing queued talk to moto (or wherever) as usual
            stubber = Stubber(made)
            for operation, code, status in self.queues.get(service, []):
                stubber.add_client_error(operation, service_error_code=code, http_status_code=status)
            stubber.activate()
            self.stubbers.append(stubber)
            return made

        monkeypatch.setattr(boto3.Session, "client", client)

    def fail(self, service: str, operation: str, code: str, status: int = 403) -> None:
        self.queues.setdefault(service, []).append((operation, code, status))


@pytest.mark.parametrize(
    "creds, service, operation, code, expected, field",
    [
        (
            AwsCredentials(role_arn=ROLE_ARN, external_id="wrong"),
            "sts",
            "assume_role",
            "AccessDenied",
            "role_not_assumable",
            "role_arn",
        ),
        (
            AwsCredentials(access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=SECRET),
            "sts",
            "get_caller_identity",
            "InvalidClientTokenId",
            "invalid_key",
            "access_key_id",
        ),
        (
            AwsCredentials(access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=SECRET),
            "sts",
            "get_caller_identity",
            "SignatureDoesNotMatch",
            "invalid_secret",
            "secret_access_key",
        ),
        (
            AwsCredentials(access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=SECRET),
            "sts",
            "get_caller_identity",
            "ExpiredToken",
            "expired_credentials",
            "access_key_id",
        ),
    ],
)
def test_real_aws_error_codes_become_actionable_messages(
    monkeypatch, platform_identity, creds, service, operation, code, expected, field
):
    stubs = StubbedClients(monkeypatch)
    stubs.fail(service, operation, code)
    with pytest.raises(ConnectionCheckError) as exc:
        aws.check(creds)
    assert exc.value.code == expected
    assert exc.value.field == field
    assert SECRET not in exc.value.message and "wrong" not in exc.value.message


def test_access_denied_on_a_read_names_the_policy(monkeypatch, moto_account):
    stubs = StubbedClients(monkeypatch)  # sts stays on moto; only iam answers AccessDenied
    stubs.fail("iam", "list_account_aliases", "AccessDenied")
    with pytest.raises(ConnectionCheckError) as exc:
        aws.check(AwsCredentials(role_arn=ROLE_ARN, external_id="ext-123"))
    assert exc.value.code == "access_denied"
    assert "list account aliases" in exc.value.message and "SecurityAudit" in exc.value.message


def test_unreachable_endpoint_fails_fast(platform_identity, monkeypatch):
    import socket
    import time

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(ConnectionCheckError) as exc:
        aws.check(AwsCredentials(access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=SECRET))
    assert exc.value.code == "endpoint_unreachable"
    assert time.monotonic() - started < 20


def test_credentials_repr_hides_the_secret():
    creds = AwsCredentials(access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=SECRET)
    assert SECRET not in repr(creds) and "AKIAIOSFODNN7EXAMPLE" not in repr(creds)
