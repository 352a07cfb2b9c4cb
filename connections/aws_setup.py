"""What the customer runs in their AWS account to create Cloustral's read-only role."""

from __future__ import annotations

import json
import logging

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

ROLE_NAME = "CloustralReadOnly"
# AWS-managed read-only policies: SecurityAudit covers configuration metadata across services,
# ViewOnlyAccess adds resource listings; neither grants data access (no s3:GetObject, no secrets).
MANAGED_POLICIES = [
    "arn:aws:iam::aws:policy/SecurityAudit",
    "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
]
_ACCOUNT_CACHE_KEY = "cloustral:platform-aws-account-id"


def platform_account_id() -> str | None:
    """Cloustral's own AWS account (the principal customers trust): from settings, else asked of STS
    with the platform's standard credential chain, cached for a day."""
    if settings.PLATFORM_AWS_ACCOUNT_ID:
        return settings.PLATFORM_AWS_ACCOUNT_ID
    account = cache.get(_ACCOUNT_CACHE_KEY)
    if account:
        return account
    try:
        account = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as exc:
        logger.warning("platform AWS identity unavailable: %s", type(exc).__name__)
        return None
    cache.set(_ACCOUNT_CACHE_KEY, account, 86400)
    return account


def trust_policy(account_id: str, external_id: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def _role_resource(account_id: str, external_id: str) -> dict:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": ROLE_NAME,
            "AssumeRolePolicyDocument": trust_policy(account_id, external_id),
            "ManagedPolicyArns": MANAGED_POLICIES,
            "MaxSessionDuration": 3600,
            "Tags": [{"Key": "managed-by", "Value": "cloustral"}],
        },
    }


def cloudformation_template(account_id: str, external_id: str) -> str:
    """A CloudFormation template (JSON is valid YAML) creating the role and printing its ARN."""
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Read-only role for Cloustral cloud inventory and findings.",
        "Resources": {"CloustralRole": _role_resource(account_id, external_id)},
        "Outputs": {
            "RoleArn": {"Description": "Paste this into Cloustral", "Value": {"Fn::GetAtt": ["CloustralRole", "Arn"]}}
        },
    }
    return json.dumps(template, indent=2)


def stackset_template(account_id: str, external_id: str) -> str:
    """The same role for every member account of an AWS Organization, deployed by a CloudFormation
    StackSet (service-managed permissions, automatic deployment to the organization's root): the same
    role name and the same External ID in each account, so one organization connection reaches them all.
    A StackSet never deploys to the management account: its role comes from ``cloudformation_template``."""
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "Read-only role for Cloustral in every member account of an AWS Organization "
            "(deploy as a service-managed StackSet with automatic deployment)."
        ),
        "Resources": {"CloustralRole": _role_resource(account_id, external_id)},
        "Outputs": {
            "RoleArn": {"Description": "The role Cloustral assumes", "Value": {"Fn::GetAtt": ["CloustralRole", "Arn"]}}
        },
    }
    return json.dumps(template, indent=2)


def policy_document(account_id: str, external_id: str) -> str:
    """The same set-up as plain IAM JSON for those who create the role by hand or with Terraform."""
    return json.dumps(
        {"trustPolicy": trust_policy(account_id, external_id), "managedPolicyArns": MANAGED_POLICIES}, indent=2
    )
