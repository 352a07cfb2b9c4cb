"""One organization holding every kind of secret the product keeps, each with a known value, and a
row of every model the admin shows. ``SECRETS`` lists the strings no admin page may ever contain."""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass, field
from datetime import timedelta

from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.utils import timezone

from accounts.mfa import new_recovery_codes
from accounts.models import AuditEvent, SignInEvent, TOTPDevice
from api import keys
from api.models import ApiKey
from automations import channels
from automations.models import Automation, AutomationRun, Channel, Delivery, EmailEvent, Suppression
from billing.models import BillingAccount, ProcessedStripeEvent
from connections import credentials
from connections.models import CloudConnection
from findings.models import Baseline, CustomRule, OrgPolicy, RuleStatus
from orgs.roles import Role
from privacy import deletion as privacy_deletion
from privacy import exports
from privacy.models import AnalyticsEvent, ConsentRecord, ContactRequest, DeletionRequest, ExportJob, Tombstone
from tests.factories import (
    FindingFactory,
    InvitationFactory,
    MembershipFactory,
    OrganizationFactory,
    ResourceFactory,
    SyncRunFactory,
    UserFactory,
)

PASSWORD = "Known-Password-EXAMPLE-4242"
TOTP_KEY = b"totp-key-EXAMPLE-0042"[:20]
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AZURE_SECRET = "azure-client-secret-EXAMPLE-7f3a9c"
SLACK_URL = "https://hooks.slack.com/services/T0EXAMPLE/B0EXAMPLE/slackpathEXAMPLEsecret"
WEBHOOK_URL = "https://hooks.customer.example/cloustral/webhookpathEXAMPLEsecret"
OAUTH_TOKEN = "ya29.oauth-token-EXAMPLE-secret"
OAUTH_CLIENT_SECRET = "google-client-secret-EXAMPLE"


@dataclass
class SecretWorld:
    org: object
    owner: object
    secrets: dict[str, str] = field(default_factory=dict)
    objects: list = field(default_factory=list)


def build() -> SecretWorld:
    now = timezone.now()
    owner = UserFactory(email="keeper@customer.example", first_name="Kim", password=PASSWORD)
    org = OrganizationFactory(name="Secretive Co", slug="secretive-co")
    MembershipFactory(user=owner, org=org, role=Role.OWNER)
    world = SecretWorld(org=org, owner=owner)
    s = world.secrets
    owner.refresh_from_db()
    s["password hash"] = owner.password
    s["password hash digest"] = owner.password.rsplit("$", 1)[-1]

    device = TOTPDevice(user=owner, name="Authenticator app", confirmed=True)
    device.set_key(TOTP_KEY)
    device.save()
    s["TOTP key (hex)"] = TOTP_KEY.hex()
    s["TOTP key (base32)"] = b32encode(TOTP_KEY).decode().rstrip("=")
    s["TOTP key (ciphertext)"] = device.encrypted_key
    codes = new_recovery_codes(owner)
    for i, code in enumerate(codes[:3]):
        s[f"recovery code {i}"] = code
    first = owner.recovery_codes.first()
    s["recovery code hash"] = first.code_hash
    s["recovery code salt"] = first.salt

    invitation = InvitationFactory(org=org, invited_by=owner)
    s["invitation token"] = invitation.token
    s["invitation token hash"] = invitation.token_hash

    token = keys.new_token()
    ApiKey.objects.for_org(org).create(
        kind=ApiKey.Kind.ORGANIZATION,
        name="CI key",
        prefix=keys.visible_prefix(token),
        token_hash=keys.hash_token(token),
        created_by=owner,
    )
    s["API key"] = token
    s["API key hash"] = keys.hash_token(token)

    aws = CloudConnection(org=org, name="Prod AWS", provider="aws", auth_method="aws_keys", status="verified")
    aws.aws_account_id = "123456789012"
    credentials.store_secret(aws, {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": AWS_SECRET})
    aws.save()
    s["AWS secret access key"] = AWS_SECRET
    s["AWS secret (ciphertext)"] = aws.encrypted_secret
    role = CloudConnection(org=org, name="Role AWS", provider="aws", auth_method="aws_role", status="verified")
    role.role_arn = "arn:aws:iam::123456789012:role/cloustral-scanner"
    role.external_id = "cloustral-external-id-EXAMPLE-unguessable"
    role.save()
    s["External ID"] = role.external_id
    azure = CloudConnection(org=org, name="Azure", provider="azure", auth_method="azure_sp", status="verified")
    azure.tenant_id, azure.client_id = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
    credentials.store_secret(azure, {"client_secret": AZURE_SECRET})
    azure.save()
    s["Azure client secret"] = AZURE_SECRET
    s["Azure secret (ciphertext)"] = azure.encrypted_secret

    slack = Channel(org=org, name="Slack", kind=Channel.Kind.SLACK)
    channels.set_url(slack, SLACK_URL)
    slack.save()
    webhook = Channel(org=org, name="Webhook", kind=Channel.Kind.WEBHOOK)
    channels.set_url(webhook, WEBHOOK_URL)
    s["webhook signing secret"] = channels.new_secret(webhook)
    webhook.save()
    s["Slack URL"] = SLACK_URL
    s["Slack URL path"] = "slackpathEXAMPLEsecret"
    s["webhook URL path"] = "webhookpathEXAMPLEsecret"
    s["Slack URL (ciphertext)"] = slack.encrypted_url
    s["webhook secret (ciphertext)"] = webhook.encrypted_secret

    finding = FindingFactory(resource__connection=aws, resource__name="web-1")
    run = SyncRunFactory(
        connection=aws,
        warnings=[{"type": "aws.s3.bucket", "region": "global", "status": "denied", "code": "AccessDenied",
                   "message": "Access denied to s3:ListAllMyBuckets"}],
    )  # fmt: skip
    RuleStatus.objects.for_org(org).create(connection=aws, rule_id="aws.s3.public", verdict="fail", checked=1)
    rule = CustomRule.objects.for_org(org).create(
        rule_id="custom.tags", source="id: tags", document={}, title="Tags", severity="low", category="hygiene"
    )
    rule.connections.add(aws)
    OrgPolicy.objects.for_org(org).create(name="Regions", kind="allowed_regions", values=["eu-west-1"])
    Baseline.objects.for_org(org).create(connection=aws, resource=ResourceFactory(connection=aws), approved={})

    automation = Automation.objects.for_org(org).create(name="Daily digest", created_by=owner)
    automation.channels.add(slack, webhook)
    automation_run = AutomationRun.objects.for_org(org).create(automation=automation, key="manual:1", status="failed")
    delivery = Delivery.objects.for_org(org).create(
        automation=automation, automation_name=automation.name, run=automation_run, channel=webhook,
        channel_name=webhook.name, kind="webhook", category="digest", recipient="hooks.customer.example",
        status="failed", error="HTTP 500: upstream error",
    )  # fmt: skip
    bounce = EmailEvent.objects.create(org=org, delivery=delivery, address=owner.email, event_type="bounced")
    Suppression.objects.create(address=owner.email, reason="bounced", event=bounce)
    BillingAccount.objects.for_org(org).create(stripe_customer_id="cus_EXAMPLE", plan="team", status="trialing",
                                               trial_end=now + timedelta(days=5))  # fmt: skip
    ProcessedStripeEvent.objects.create(event_id="evt_EXAMPLE", type="invoice.paid", org=org)

    job = ExportJob.objects.for_org(org).create(kind="org", user=owner, status="ready", file_name="export-EXAMPLE.zip")
    s["export download token"] = exports.download_token(job)
    leaving = UserFactory(email="leaving@customer.example")
    MembershipFactory(user=leaving, org=org, role=Role.MEMBER)
    deletion = DeletionRequest.objects.create(user=leaving, purge_after=now + timedelta(days=30))
    s["deletion cancel nonce"] = deletion.nonce
    s["deletion cancel token"] = privacy_deletion.cancel_token(deletion)
    Tombstone.objects.create(email="gone@customer.example")
    ConsentRecord.objects.create(browser_id="00000000-0000-0000-0000-0000000000aa", analytics=True,
                                 policy_version="2026-01", user=owner)  # fmt: skip
    AnalyticsEvent.objects.create(name="page_view", page="dashboard:home", user=owner)
    ContactRequest.objects.create(name="Kim", email=owner.email, topic="support", message="Scan failed", user=owner)
    SignInEvent.objects.create(user=owner, ip="203.0.113.9", ip_network="203.0.113.0/24", browser="Firefox on Linux")
    AuditEvent.objects.create(actor=owner, actor_email=owner.email, org=org, action="login", metadata={"k": "v"})

    app = SocialApp.objects.create(provider="google", name="Google", client_id="client-id", secret=OAUTH_CLIENT_SECRET)
    account = SocialAccount.objects.create(
        user=owner, provider="google", uid="1234567890", extra_data={"access_token": OAUTH_TOKEN}
    )
    SocialToken.objects.create(app=app, account=account, token=OAUTH_TOKEN, token_secret=OAUTH_TOKEN + "-refresh")
    s["OAuth token"] = OAUTH_TOKEN
    s["OAuth client secret"] = OAUTH_CLIENT_SECRET
    world.objects = [run, finding]
    return world
