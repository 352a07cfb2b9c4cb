"""AWS WAF web ACL collectors against moto (regional per region, CloudFront scope once per account).
moto does not implement ListResourcesForWebACL: it is answered here the way WAF does."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    REGION,
    collect,
    fail_operation,
    judge,
    make_context,
    moto_account,
    rels,
)

ALB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/app/web/0123456789abcdef"
VISIBILITY = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


def answer_protected(ctx, by_acl_name: dict[str, list[str]]) -> None:
    """ListResourcesForWebACL as WAF answers it: the ALBs of each ACL (nothing of the other types)."""

    def answer(params, **_kwargs):
        request = json.loads(params["body"])
        name = request["WebACLArn"].split("/webacl/")[1].split("/")[0]
        arns = by_acl_name.get(name, []) if request.get("ResourceType") == "APPLICATION_LOAD_BALANCER" else []
        return AWSResponse("https://example.invalid", 200, {}, None), {
            "ResourceArns": arns,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    ctx.client("wafv2").meta.events.register("before-call.wafv2.ListResourcesForWebACL", answer)


@pytest.fixture
def web_acls(ctx):
    waf = boto3.client("wafv2", region_name=REGION)
    rule = {
        "Name": "common",
        "Priority": 0,
        "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}},
        "OverrideAction": {"None": {}},
        "VisibilityConfig": {**VISIBILITY, "CloudWatchMetricsEnabled": False},
    }
    guarded = waf.create_web_acl(
        Name="guarded",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig=VISIBILITY,
        Rules=[rule],
        Tags=[{"Key": "team", "Value": "edge"}],
    )["Summary"]["ARN"]
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="aws-waf-logs-guarded")
    destination = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:aws-waf-logs-guarded"
    waf.put_logging_configuration(LoggingConfiguration={"ResourceArn": guarded, "LogDestinationConfigs": [destination]})
    idle = waf.create_web_acl(
        Name="idle", Scope="REGIONAL", DefaultAction={"Block": {}}, VisibilityConfig=VISIBILITY, Rules=[]
    )["Summary"]["ARN"]
    answer_protected(ctx, {"guarded": [ALB]})
    return {"guarded": guarded, "idle": idle, "destination": destination}


def test_registered_collectors():
    assert get_collector("aws.wafv2.web_acl").regional and get_collector("aws.wafv2.web_acl").service == "wafv2"
    assert not get_collector("aws.wafv2.cloudfront_web_acl").regional


def test_regional_web_acls(ctx, web_acls):
    records = {r.name: r for r in collect(ctx, "aws.wafv2.web_acl")}
    guarded, idle = records["guarded"], records["idle"]
    assert guarded.native_id == web_acls["guarded"] and guarded.tags == {"team": "edge"}
    config = guarded.config
    assert config["scope"] == "REGIONAL" and config["default_action"] == "allow"
    assert config["rules"] == [
        {
            "name": "common",
            "priority": 0,
            "action": "none",
            "kind": "managed_rule_group",
            "managed_rule_group": "AWS:AWSManagedRulesCommonRuleSet",
            "metrics_enabled": False,
        }
    ]
    assert config["rule_count"] == 1 and config["metrics_enabled"] is True
    assert config["logging_enabled"] is True and config["log_destinations"] == [web_acls["destination"]]
    assert config["protected_resources"] == [ALB] and config["unreadable"] == []
    assert rels(guarded, "protects") == {ALB} and rels(guarded, "logs_to") == {web_acls["destination"]}
    assert idle.config["default_action"] == "block" and idle.config["logging_enabled"] is False

    collected = {"aws.wafv2.web_acl": [guarded, idle]}
    assert judge("aws-wafv2-web-acl-logging-off", collected) == {idle.native_id}
    assert judge("aws-wafv2-web-acl-no-rules", collected) == {idle.native_id}
    assert judge("aws-wafv2-web-acl-rule-metrics-off", collected) == {guarded.native_id}
    assert judge("aws-wafv2-web-acl-unused", collected) == {idle.native_id}


def test_a_load_balancer_is_protected_through_the_acl(ctx, web_acls):
    from inventory.collectors.base import ResourceRecord

    unprotected = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/app/api/fedcba9876543210"
    balancers = [
        ResourceRecord(native_id=arn, name=arn, config={"type": "application", "scheme": "internet-facing"})
        for arn in (ALB, unprotected)
    ]
    collected = {"aws.wafv2.web_acl": collect(ctx, "aws.wafv2.web_acl"), "aws.elbv2.load_balancer": balancers}
    assert judge("aws-elbv2-alb-not-protected-by-waf", collected) == {unprotected}


def test_denied_associations_fail_the_unit(ctx, web_acls):
    """ "Not protected" is judged from what ACLs protect: a refusal to tell must never read as "nothing"."""
    ctx.client("wafv2").meta.events.unregister("before-call.wafv2.ListResourcesForWebACL")
    fail_operation(ctx, "wafv2", "ListResourcesForWebACL", code="AccessDeniedException")
    with pytest.raises(ClientError):
        collect(ctx, "aws.wafv2.web_acl")


def test_denied_logging_is_unknown(ctx, web_acls):
    fail_operation(ctx, "wafv2", "GetLoggingConfiguration", code="AccessDeniedException")
    records = collect(ctx, "aws.wafv2.web_acl")
    assert all(r.config["logging_enabled"] is None and r.config["unreadable"] == ["logging"] for r in records)
    assert judge("aws-wafv2-web-acl-logging-off", {"aws.wafv2.web_acl": records}) == set()


def test_cloudfront_web_acls(ctx):
    waf = boto3.client("wafv2", region_name="us-east-1")
    acl = waf.create_web_acl(
        Name="edge", Scope="CLOUDFRONT", DefaultAction={"Allow": {}}, VisibilityConfig=VISIBILITY, Rules=[]
    )["Summary"]["ARN"]
    global_ctx = make_context("global")
    listed = []

    def distributions(params, **_kwargs):  # moto lacks ListDistributionsByWebACLId: answered as CloudFront does
        listed.append(params["url_path"])
        return AWSResponse("https://example.invalid", 200, {}, None), {
            "DistributionList": {"Items": [], "IsTruncated": False, "Quantity": 0},
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    global_ctx.client("cloudfront").meta.events.register(
        "before-call.cloudfront.ListDistributionsByWebACLId", distributions
    )
    [record] = collect(global_ctx, "aws.wafv2.cloudfront_web_acl")
    assert len(listed) == 1
    assert record.native_id == acl and record.config["scope"] == "CLOUDFRONT"
    assert record.config["protected_resources"] == [] and record.config["rule_count"] == 0
    assert collect(ctx, "aws.wafv2.web_acl") == []  # regional units do not see CloudFront ACLs
