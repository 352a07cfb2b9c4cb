"""ELBv2 collectors (load balancers, target groups with target health) against moto, with botocore's
Stubber for what moto does not produce (unhealthy targets, several pages, AccessDenied)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory.collectors.aws import elbv2 as elbv2_collectors
from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import (
    ACCOUNT_ID,
    REGION,
    collect,
    fail_operation,
    make_context,
    moto_account,
    no_detail_threads,
    rels,
    stubbed,
)

AMI = "ami-12345678"
TG_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:targetgroup/web/0123456789abcdef"


def arn(kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:{kind}/{resource_id}"


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def site(ctx):
    """An internet-facing ALB in two subnets, HTTP redirecting to HTTPS, HTTPS forwarding to a target
    group of two instances, plus an idle internal NLB and a target group no load balancer uses."""
    ec2 = boto3.client("ec2", region_name=REGION)
    elb = boto3.client("elbv2", region_name=REGION)
    acm = boto3.client("acm", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"eu-west-1{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    sg = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    instances = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=AMI, MinCount=2, MaxCount=2, SubnetId=subnets[0])["Instances"]
    ]
    alb = elb.create_load_balancer(
        Name="web",
        Subnets=subnets,
        SecurityGroups=[sg],
        Scheme="internet-facing",
        Type="application",
        Tags=[{"Key": "Name", "Value": "web-alb"}, {"Key": "team", "Value": "platform"}],
    )["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name="web",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="instance",
        HealthCheckPath="/health",
        Tags=[{"Key": "team", "Value": "platform"}],
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i, "Port": 8080} for i in instances])
    cert = acm.request_certificate(DomainName="example.com")["CertificateArn"]
    elb.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
        ],
    )
    elb.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert}],
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Attributes=[
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": "lb-logs"},
            {"Key": "deletion_protection.enabled", "Value": "true"},
        ],
    )
    nlb = elb.create_load_balancer(Name="internal", Subnets=subnets, Scheme="internal", Type="network")[
        "LoadBalancers"
    ][0]
    idle_tg = elb.create_target_group(Name="idle", Protocol="TCP", Port=5432, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=idle_tg, Targets=[{"Id": "10.0.0.10", "Port": 5432}])
    return {
        "vpc": vpc,
        "subnets": subnets,
        "sg": sg,
        "instances": instances,
        "alb": alb,
        "nlb": nlb,
        "tg": tg,
        "idle_tg": idle_tg,
        "cert": cert,
    }


def test_types_are_registered_as_regional_elasticloadbalancing_collectors():
    for kind in ("load_balancer", "target_group"):
        entry = get_collector(f"aws.elbv2.{kind}")
        assert entry.service == "elasticloadbalancing" and entry.regional
        assert entry.func.__module__ == elbv2_collectors.__name__


def test_load_balancers(ctx, site):
    records = {r.native_id: r for r in collect(ctx, "aws.elbv2.load_balancer")}

    assert set(records) == {site["alb"]["LoadBalancerArn"], site["nlb"]["LoadBalancerArn"]}
    alb = records[site["alb"]["LoadBalancerArn"]]
    assert alb.name == "web-alb" and alb.tags == {"Name": "web-alb", "team": "platform"}
    cfg = alb.config
    assert cfg["load_balancer_name"] == "web" and cfg["type"] == "application"
    assert cfg["scheme"] == "internet-facing" and cfg["dns_name"] == site["alb"]["DNSName"]
    assert cfg["vpc_id"] == site["vpc"] and cfg["state"] in ("active", "provisioning")
    assert cfg["security_groups"] == [site["sg"]] and sorted(cfg["subnets"]) == sorted(site["subnets"])
    assert cfg["created_time"] and cfg["target_group_arns"] == [site["tg"]]
    listeners = {(lst["protocol"], lst["port"]): lst for lst in cfg["listeners"]}
    assert set(listeners) == {("HTTP", 80), ("HTTPS", 443)}
    redirect = listeners[("HTTP", 80)]["default_actions"][0]
    assert redirect["type"] == "redirect" and redirect["redirect_protocol"] == "HTTPS"
    https = listeners[("HTTPS", 443)]
    assert https["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificate_arns"] == [site["cert"]]
    assert https["default_actions"][0] == {
        "type": "forward",
        "target_group_arns": [site["tg"]],
        "redirect_protocol": None,
        "redirect_port": None,
    }
    assert cfg["access_logs"] == {"enabled": True, "bucket": "lb-logs", "prefix": None}
    assert cfg["deletion_protection"] is True and cfg["unreadable"] == []
    json.dumps(cfg)
    assert rels(alb, "uses_security_group") == {arn("security-group", site["sg"])}
    assert rels(alb, "in_subnet") == {arn("subnet", s) for s in site["subnets"]}
    assert rels(alb, "in_vpc") == {arn("vpc", site["vpc"])}
    assert rels(alb, "forwards_to") == {site["tg"]}

    nlb = records[site["nlb"]["LoadBalancerArn"]]
    assert nlb.name == "internal" and nlb.tags == {}
    assert nlb.config["type"] == "network" and nlb.config["scheme"] == "internal"
    assert nlb.config["listeners"] == [] and nlb.config["access_logs"]["enabled"] is False
    assert rels(nlb, "forwards_to") == set()


def test_target_groups_with_target_health(ctx, site):
    records = {r.native_id: r for r in collect(ctx, "aws.elbv2.target_group")}

    assert set(records) == {site["tg"], site["idle_tg"]}
    web = records[site["tg"]]
    assert web.name == "web" and web.tags == {"team": "platform"}
    cfg = web.config
    assert cfg["protocol"] == "HTTP" and cfg["port"] == 8080 and cfg["vpc_id"] == site["vpc"]
    assert cfg["target_type"] == "instance" and cfg["load_balancer_arns"] == [site["alb"]["LoadBalancerArn"]]
    assert cfg["health_check"]["path"] == "/health"
    assert sorted((t["id"], t["port"], t["health"]) for t in cfg["targets"]) == sorted(
        (i, 8080, "healthy") for i in site["instances"]
    )
    assert cfg["healthy_count"] == 2 and cfg["unhealthy_count"] == 0 and cfg["unreadable"] == []
    json.dumps(cfg)
    assert rels(web, "targets") == {arn("instance", i) for i in site["instances"]}
    assert rels(web, "in_vpc") == {arn("vpc", site["vpc"])}

    idle = records[site["idle_tg"]].config
    assert idle["target_type"] == "ip" and idle["load_balancer_arns"] == []
    assert [t["id"] for t in idle["targets"]] == ["10.0.0.10"]
    assert rels(records[site["idle_tg"]], "targets") == set()  # an IP is not a resource


def _tg(arn: str, name: str) -> dict:
    return {"TargetGroupArn": arn, "TargetGroupName": name, "Protocol": "HTTP", "Port": 80, "TargetType": "instance"}


def test_target_groups_page_and_count_unhealthy_targets(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = no_detail_threads(make_context())
    second = TG_ARN.replace("web/", "api/")

    def health(*states):
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": f"i-{n}", "Port": 80}, "TargetHealth": {"State": s}} for n, s in enumerate(states)
            ]
        }

    with stubbed(ctx, "elbv2") as stub:
        stub.add_response("describe_target_groups", {"TargetGroups": [_tg(TG_ARN, "web")], "NextMarker": "m2"}, {})
        stub.add_response(
            "describe_tags", {"TagDescriptions": [{"ResourceArn": TG_ARN, "Tags": [{"Key": "env", "Value": "prod"}]}]}
        )
        stub.add_response("describe_target_health", health("healthy", "unhealthy", "unhealthy.draining", "initial"))
        stub.add_response("describe_target_groups", {"TargetGroups": [_tg(second, "api")]}, {"Marker": "m2"})
        stub.add_response("describe_tags", {"TagDescriptions": []}, {"ResourceArns": [second]})
        stub.add_response("describe_target_health", health("healthy"), {"TargetGroupArn": second})
        records = collect(ctx, "aws.elbv2.target_group")

    assert [r.name for r in records] == ["web", "api"] and records[0].tags == {"env": "prod"}
    assert (records[0].config["healthy_count"], records[0].config["unhealthy_count"]) == (1, 2)
    assert (records[1].config["healthy_count"], records[1].config["unhealthy_count"]) == (1, 0)
    assert ctx.api_calls == 6


def test_load_balancers_follow_the_next_marker_and_tag_20_at_a_time(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = no_detail_threads(make_context())

    def lb(n: int) -> dict:
        return {
            "LoadBalancerArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/app/lb{n}/{n:016x}",
            "LoadBalancerName": f"lb{n}",
            "Type": "application",
            "Scheme": "internal",
            "VpcId": "vpc-1",
        }

    first, second = [lb(n) for n in range(25)], [lb(25)]
    with stubbed(ctx, "elbv2") as stub:
        stub.add_response("describe_load_balancers", {"LoadBalancers": first, "NextMarker": "m2"}, {})
        stub.add_response("describe_target_groups", {"TargetGroups": []}, {})
        stub.add_response(
            "describe_tags", {"TagDescriptions": []}, {"ResourceArns": [x["LoadBalancerArn"] for x in first[:20]]}
        )
        stub.add_response(
            "describe_tags", {"TagDescriptions": []}, {"ResourceArns": [x["LoadBalancerArn"] for x in first[20:]]}
        )
        for item in first:
            stub.add_response("describe_listeners", {"Listeners": []}, {"LoadBalancerArn": item["LoadBalancerArn"]})
            stub.add_response("describe_load_balancer_attributes", {"Attributes": []})
        stub.add_response("describe_load_balancers", {"LoadBalancers": second}, {"Marker": "m2"})
        stub.add_response("describe_tags", {"TagDescriptions": []})
        stub.add_response("describe_listeners", {"Listeners": []})
        stub.add_response("describe_load_balancer_attributes", {"Attributes": []})
        records = collect(ctx, "aws.elbv2.load_balancer")

    assert [r.name for r in records] == [f"lb{n}" for n in range(26)]
    assert records[0].config["access_logs"] == {"enabled": False, "bucket": None, "prefix": None}


def test_denied_load_balancer_attributes_leave_access_logs_unknown(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = no_detail_threads(make_context())
    lb_arn = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/app/web/0123456789abcdef"
    with stubbed(ctx, "elbv2") as stub:
        stub.add_response("describe_load_balancers", {"LoadBalancers": [{"LoadBalancerArn": lb_arn}]})
        stub.add_response("describe_target_groups", {"TargetGroups": []})
        stub.add_response("describe_tags", {"TagDescriptions": []})
        stub.add_response("describe_listeners", {"Listeners": []})
        stub.add_client_error(
            "describe_load_balancer_attributes", service_error_code="AccessDenied", http_status_code=403
        )
        (record,) = collect(ctx, "aws.elbv2.load_balancer")
    assert record.config["access_logs"] is None and record.config["deletion_protection"] is None
    assert record.config["unreadable"] == [
        "access_logs",
        "attributes",
        "deletion_protection",
        "drop_invalid_header_fields",
    ]


@pytest.mark.parametrize(
    ("full_type", "operation"),
    [("aws.elbv2.load_balancer", "describe_load_balancers"), ("aws.elbv2.target_group", "describe_target_groups")],
)
def test_access_denied_raises_unchanged(monkeypatch, full_type, operation):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = no_detail_threads(make_context())
    with stubbed(ctx, "elbv2") as stub:
        stub.add_client_error(operation, service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(ClientError) as raised:
            collect(ctx, full_type)
    assert raised.value.response["Error"]["Code"] == "AccessDenied"


def test_denied_target_health_leaves_only_the_targets_unknown(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = no_detail_threads(make_context())
    with stubbed(ctx, "elbv2") as stub:
        stub.add_response("describe_target_groups", {"TargetGroups": [_tg(TG_ARN, "web")]})
        stub.add_response("describe_tags", {"TagDescriptions": []})
        stub.add_client_error("describe_target_health", service_error_code="AccessDenied", http_status_code=403)
        (record,) = collect(ctx, "aws.elbv2.target_group")
    assert record.config["targets"] is None and record.config["healthy_count"] is None
    assert record.config["unreadable"] == ["healthy_count", "targets", "unhealthy_count"]
    assert record.config["protocol"] == "HTTP" and record.relations == []


def test_denied_tags_on_moto_leave_the_rest_readable(ctx, site):
    fail_operation(ctx, "elbv2", "DescribeTags")
    records = {r.native_id: r for r in collect(ctx, "aws.elbv2.load_balancer")}
    alb = records[site["alb"]["LoadBalancerArn"]]
    assert alb.tags == {} and alb.name == "web" and alb.config["unreadable"] == ["tags"]
    assert alb.config["access_logs"]["enabled"] is True and rels(alb, "forwards_to") == {site["tg"]}


def test_a_target_group_deleted_mid_scan_is_skipped(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ctx = no_detail_threads(make_context())
    second = TG_ARN.replace("web/", "api/")
    with stubbed(ctx, "elbv2") as stub:
        stub.add_response("describe_target_groups", {"TargetGroups": [_tg(TG_ARN, "web"), _tg(second, "api")]})
        stub.add_response("describe_tags", {"TagDescriptions": []})
        stub.add_client_error("describe_target_health", service_error_code="TargetGroupNotFound", http_status_code=400)
        stub.add_response("describe_target_health", {"TargetHealthDescriptions": []})
        records = collect(ctx, "aws.elbv2.target_group")
    assert [r.name for r in records] == ["api"]
