"""Global edge collectors: CloudFront distributions and Route 53 hosted zones, against moto."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.aws import cloudfront as cloudfront_collectors
from inventory.collectors.aws import route53 as route53_collectors
from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    collect,
    fail_operation,
    make_context,
    moto_account,
    rels,
)


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context("global")


def test_registered_as_global_collectors():
    dist = get_collector("aws.cloudfront.distribution")
    zone = get_collector("aws.route53.hosted_zone")
    assert dist.func is cloudfront_collectors.distributions and not dist.regional and dist.service == "cloudfront"
    assert zone.func is route53_collectors.hosted_zones and not zone.regional and zone.service == "route53"


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("site.s3.amazonaws.com", ("site", False)),
        ("my.site.s3.eu-west-1.amazonaws.com", ("my.site", False)),
        ("site.s3-us-west-2.amazonaws.com", ("site", False)),
        ("site.s3-website-us-east-1.amazonaws.com", ("site", True)),
        ("site.s3-website.eu-central-1.amazonaws.com", ("site", True)),
        ("api.example.com", (None, False)),
    ],
)
def test_s3_origin_bucket(domain, expected):
    assert cloudfront_collectors.s3_origin_bucket(domain) == expected


@pytest.fixture
def distribution(ctx):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="acme-site")
    cf = boto3.client("cloudfront", region_name="us-east-1")
    config = {
        "CallerReference": "site-1",
        "Comment": "marketing site",
        "Enabled": True,
        "Aliases": {"Quantity": 1, "Items": ["www.example.com"]},
        "Origins": {
            "Quantity": 2,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": "acme-site.s3.us-east-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                },
                {
                    "Id": "api",
                    "DomainName": "api.example.com",
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"},
                },
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "allow-all",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
        },
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": "TLSv1"},
        "PriceClass": "PriceClass_100",
        "HttpVersion": "http2",
        "IsIPV6Enabled": True,
        "Logging": {"Enabled": True, "IncludeCookies": False, "Bucket": "acme-site.s3.amazonaws.com", "Prefix": "cf/"},
    }
    created = cf.create_distribution_with_tags(
        DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": [{"Key": "env", "Value": "prod"}]}}
    )
    return created["Distribution"]


def test_distribution(ctx, distribution):
    (record,) = collect(ctx, "aws.cloudfront.distribution")
    assert record.native_id == distribution["ARN"]
    assert record.native_id.startswith(f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/")
    assert record.name == "www.example.com"
    config = record.config
    json.dumps(config)
    assert config["enabled"] is True and config["aliases"] == ["www.example.com"]
    assert config["domain_name"].endswith(".cloudfront.net")
    assert config["default_viewer_protocol_policy"] == "allow-all" and config["allows_http"] is True
    assert config["viewer_certificate"]["minimum_protocol_version"] == "TLSv1"
    assert config["viewer_certificate"]["cloudfront_default_certificate"] is True
    assert config["price_class"] == "PriceClass_100" and config["ipv6_enabled"] is True
    assert config["web_acl_id"] is None
    origins = {o["id"]: o for o in config["origins"]}
    assert origins["site"]["kind"] == "s3" and origins["site"]["s3_bucket"] == "acme-site"
    assert origins["api"]["kind"] == "custom" and origins["api"]["origin_protocol_policy"] == "http-only"
    assert config["logging"] == {"enabled": True, "bucket": "acme-site.s3.amazonaws.com", "prefix": "cf/"}
    assert config["unreadable"] == []
    assert record.tags == {"env": "prod"}
    assert rels(record, "routes_to") == {"arn:aws:s3:::acme-site"}
    assert rels(record, "logs_to") == {"arn:aws:s3:::acme-site"}


def test_distribution_listing_denied_raises(ctx, distribution):
    fail_operation(ctx, "cloudfront", "ListDistributions")
    with pytest.raises(ClientError):
        collect(ctx, "aws.cloudfront.distribution")


@pytest.fixture
def zones(ctx):
    r53 = boto3.client("route53", region_name="us-east-1")
    public = r53.create_hosted_zone(Name="example.com", CallerReference="public")["HostedZone"]
    r53.change_tags_for_resource(
        ResourceType="hostedzone", ResourceId=public["Id"].rsplit("/", 1)[-1], AddTags=[{"Key": "env", "Value": "prod"}]
    )
    vpc = boto3.client("ec2", region_name="eu-west-1").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    private = r53.create_hosted_zone(
        Name="internal.example.com",
        CallerReference="private",
        VPC={"VPCRegion": "eu-west-1", "VPCId": vpc},
        HostedZoneConfig={"PrivateZone": True, "Comment": "service discovery"},
    )["HostedZone"]
    return {"public": public["Id"].rsplit("/", 1)[-1], "private": private["Id"].rsplit("/", 1)[-1], "vpc": vpc}


def test_hosted_zones(ctx, zones):
    records = {r.name: r for r in collect(ctx, "aws.route53.hosted_zone")}
    assert set(records) == {"example.com", "internal.example.com"}
    public = records["example.com"]
    assert public.native_id == f"arn:aws:route53:::hostedzone/{zones['public']}"
    assert public.config["private_zone"] is False and public.config["vpcs"] == []
    assert public.config["record_set_count"] == 2  # SOA + NS
    assert public.config["query_logging_enabled"] is False
    assert public.config["unreadable"] == []
    assert public.tags == {"env": "prod"}
    private = records["internal.example.com"]
    assert private.config["private_zone"] is True and private.config["comment"] == "service discovery"
    assert private.config["vpcs"] == [{"vpc_id": zones["vpc"], "region": "eu-west-1"}]
    assert rels(private, "in_vpc") == {f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:vpc/{zones['vpc']}"}


def test_hosted_zone_query_logging_unreadable(ctx, zones):
    fail_operation(ctx, "route53", "ListQueryLoggingConfigs")
    record = {r.name: r for r in collect(ctx, "aws.route53.hosted_zone")}["example.com"]
    assert record.config["query_logging_enabled"] is None
    assert record.config["unreadable"] == ["query_logging_enabled"]
