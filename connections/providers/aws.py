"""AWS sessions for a connection, and the connection test.

The platform's own identity comes from boto3's standard credential chain; a role connection assumes
the customer's role through STS with the connection's External ID and works only with the temporary
credentials. Every client honours AWS_ENDPOINT_URL (botocore reads it), so the whole product runs
against a local moto server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.loaders import Loader

from connections.providers.base import CheckResult, ConnectionCheckError
from connections.regions import in_partition, partition_of_arn

ROLE_ARN_RE = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
ACCESS_KEY_ID_RE = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{12,124}$")
SESSION_NAME = "cloustral-scan"
# Checks must answer quickly; scans get more patience (and more retries) from their own config.
CHECK_CONFIG = Config(connect_timeout=5, read_timeout=15, retries={"mode": "standard", "max_attempts": 2})
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class AwsCredentials:
    """Decrypted credentials, alive only for the duration of a call that talks to AWS."""

    role_arn: str = ""
    external_id: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""

    @property
    def uses_role(self) -> bool:
        return bool(self.role_arn)

    def __repr__(self) -> str:  # never leak a secret through a traceback or a debugger print
        return f"AwsCredentials(role_arn={self.role_arn!r}, access_key_id={self.access_key_id[:4]!r}…)"


def validate_role_arn(arn: str) -> str:
    arn = arn.strip()
    if not ROLE_ARN_RE.match(arn):
        raise ConnectionCheckError(
            "malformed_arn",
            "This is not an IAM role ARN. It looks like arn:aws:iam::123456789012:role/CloustralReadOnly "
            "(copy it from the stack's Outputs tab or the role's summary page).",
            field="role_arn",
        )
    if not arn.startswith("arn:aws:"):
        # Cloustral's own identity lives in the commercial partition; it cannot assume a role in AWS China
        # or GovCloud (separate partitions with their own STS), so such a connection could never scan.
        raise ConnectionCheckError(
            "partition_unsupported",
            "AWS China and AWS GovCloud (US) accounts are not supported yet: Cloustral can only reach roles in "
            "the commercial partition (an ARN starting with arn:aws:iam::).",
            field="role_arn",
        )
    return arn


def validate_access_key_id(key_id: str) -> str:
    key_id = key_id.strip()
    if not ACCESS_KEY_ID_RE.match(key_id):
        raise ConnectionCheckError(
            "malformed_key", "An access key id starts with AKIA and has 20 characters.", field="access_key_id"
        )
    return key_id


class _PathsOnce(list):
    """Search paths where appending one already there does nothing: every boto3.Session appends its own
    data directory to its loader's paths, which would grow without end on a loader shared by all."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


# One botocore loader for the process: the service models, paginators and endpoint rules (JSON files of
# megabytes) are read and parsed once, not again by every sync's session. It caches by file and returns
# the same parsed data to every session, as one session's loader already does to all its clients.
SHARED_LOADER = Loader(extra_search_paths=_PathsOnce())


def new_session(**credentials: str) -> boto3.Session:
    """A boto3 session (``credentials``: boto3.Session's keyword arguments) using the shared loader."""
    core = botocore.session.Session()
    core.register_component("data_loader", SHARED_LOADER)
    return boto3.Session(botocore_session=core, **credentials)


def session_for(creds: AwsCredentials, *, config: Config = CHECK_CONFIG) -> boto3.Session:
    """A boto3 session acting in the customer's account."""
    if creds.uses_role:
        sts = new_session().client("sts", region_name=DEFAULT_REGION, config=config)
        answer = sts.assume_role(
            RoleArn=creds.role_arn,
            RoleSessionName=SESSION_NAME,
            ExternalId=creds.external_id,
            DurationSeconds=3600,
        )["Credentials"]
        return new_session(
            aws_access_key_id=answer["AccessKeyId"],
            aws_secret_access_key=answer["SecretAccessKey"],
            aws_session_token=answer["SessionToken"],
        )
    return new_session(aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key)


def _error_for(exc: Exception, creds: AwsCredentials, step: str) -> ConnectionCheckError:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if step == "list_accounts" and code == "AWSOrganizationsNotInUseException":
            return ConnectionCheckError(
                "not_in_organization",
                "This account does not belong to an AWS Organization. Connect it as a single account instead.",
                field="aws_scope",
            )
        if step == "list_accounts" and code in {"AccessDenied", "AccessDeniedException"}:
            return ConnectionCheckError(
                "not_organization_admin",
                "This role cannot list the organization's accounts (organizations:ListAccounts). Use the role in "
                "the organization's management account, or in a delegated administrator account.",
                field="role_arn",
            )
        if step == "assume_role" and code in {"AccessDenied", "AccessDeniedException"}:
            return ConnectionCheckError(
                "role_not_assumable",
                "Cloustral could not assume this role. Check that the role exists, that its trust policy allows "
                "Cloustral's AWS account, and that it requires exactly the External ID shown on this page.",
                field="role_arn",
            )
        if code == "InvalidClientTokenId":
            return ConnectionCheckError(
                "invalid_key",
                "AWS does not recognise this access key id. It may have been deleted or deactivated.",
                field="access_key_id",
            )
        if code == "SignatureDoesNotMatch":
            return ConnectionCheckError(
                "invalid_secret", "The secret access key does not match the access key id.", field="secret_access_key"
            )
        if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
            return ConnectionCheckError(
                "expired_credentials",
                "These credentials have expired. Create a new access key (or check the server clock).",
                field="access_key_id",
            )
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            return ConnectionCheckError(
                "access_denied",
                f"Access denied for {step.replace('_', ' ')}. Attach the Cloustral read-only policy "
                "(or SecurityAudit and ViewOnlyAccess) to the role or user.",
            )
        if code in {"RegionDisabledException", "OptInRequired"}:
            return ConnectionCheckError("region_disabled", "STS is not enabled in the region used for the check.")
        return ConnectionCheckError("aws_error", f"AWS answered {code or 'an error'} during {step.replace('_', ' ')}.")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return ConnectionCheckError(
            "endpoint_unreachable", "Could not reach AWS in time. Try again; if it persists, AWS may be having trouble."
        )
    if isinstance(exc, ParamValidationError):
        return ConnectionCheckError("invalid_input", "AWS rejected the request's parameters; check the values entered.")
    if isinstance(exc, NoCredentialsError):
        return ConnectionCheckError(
            "platform_identity_missing",
            "Cloustral's own AWS identity is not configured, so it cannot assume roles. Contact support.",
        )
    return ConnectionCheckError("aws_error", f"Unexpected error talking to AWS ({type(exc).__name__}).")


def check(creds: AwsCredentials, *, config: Config = CHECK_CONFIG, organization: bool = False) -> CheckResult:
    """Validate input, then: AssumeRole (role) → GetCallerIdentity → account alias → enabled regions, and
    for an AWS Organization connection the organization's member accounts."""
    if creds.uses_role:
        validate_role_arn(creds.role_arn)
    else:
        validate_access_key_id(creds.access_key_id)
        if not creds.secret_access_key.strip():
            raise ConnectionCheckError("missing_secret", "Enter the secret access key.", field="secret_access_key")
    step = "assume_role" if creds.uses_role else "get_caller_identity"
    members: list[dict] = []
    try:
        session = session_for(creds, config=config)
        step = "get_caller_identity"
        identity = session.client("sts", region_name=DEFAULT_REGION, config=config).get_caller_identity()
        step = "list_account_aliases"
        aliases = session.client("iam", region_name=DEFAULT_REGION, config=config).list_account_aliases()
        step = "describe_regions"
        regions = discover_regions(session, config=config, partition=partition_of_arn(identity["Arn"]))
        if organization:
            step = "list_accounts"
            members = list_member_accounts(session, config=config)
    except (ClientError, BotoCoreError) as exc:
        raise _error_for(exc, creds, step) from None
    return CheckResult(
        account_id=identity["Account"],
        display_name=(aliases.get("AccountAliases") or [""])[0],
        regions=regions,
        identity=identity["Arn"],
        member_accounts=members,
    )


def list_member_accounts(session: boto3.Session, *, config: Config = CHECK_CONFIG) -> list[dict]:
    """The organization's ACTIVE accounts ({"id", "name"}), as its management account or a delegated
    administrator lists them (organizations:ListAccounts, every page). Suspended and closing accounts
    cannot be scanned, so they are not members here."""
    client = session.client("organizations", region_name=DEFAULT_REGION, config=config)
    return [
        {"id": account["Id"], "name": account.get("Name") or ""}
        for page in client.get_paginator("list_accounts").paginate()
        for account in page.get("Accounts") or []
        if (account.get("State") or account.get("Status")) == "ACTIVE"
    ]


def member_role_arn(role_arn: str, account_id: str) -> str:
    """The organization role's twin in a member account: the same partition, path and name (the StackSet
    deploys the same role everywhere), in ``account_id``."""
    match = ROLE_ARN_RE.match(role_arn)
    if not match:
        raise ValueError("not an IAM role ARN")
    return f"{role_arn[: match.start(1)]}{account_id}{role_arn[match.end(1) :]}"


def discover_regions(session: boto3.Session, *, config: Config = CHECK_CONFIG, partition: str = "aws") -> list[str]:
    """Regions enabled for the account (opted-in or not requiring opt-in), in its partition only."""
    answer = session.client("ec2", region_name=DEFAULT_REGION, config=config).describe_regions(
        Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required", "opted-in"]}]
    )
    return in_partition([r["RegionName"] for r in answer["Regions"]], partition)
