"""API Gateway collectors against moto: REST APIs and stages (v1), HTTP APIs and stages (v2)."""

from __future__ import annotations

import boto3
import pytest
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

ACCESS_LOG = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:api-access"


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def apis(ctx):
    ag = boto3.client("apigateway", region_name=REGION)
    rest = ag.create_rest_api(name="orders", endpointConfiguration={"types": ["REGIONAL"]}, tags={"team": "shop"})["id"]
    root = ag.get_resources(restApiId=rest)["items"][0]["id"]
    for verb, auth in (("GET", "NONE"), ("POST", "AWS_IAM"), ("OPTIONS", "NONE")):
        ag.put_method(restApiId=rest, resourceId=root, httpMethod=verb, authorizationType=auth)
        ag.put_integration(restApiId=rest, resourceId=root, httpMethod=verb, type="MOCK")
    ag.create_deployment(restApiId=rest, stageName="prod")
    ag.update_stage(
        restApiId=rest,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/*/*/logging/loglevel", "value": "ERROR"},
            {"op": "replace", "path": "/tracingEnabled", "value": "true"},
        ],
    )
    ag.create_deployment(restApiId=rest, stageName="dev")
    v2 = boto3.client("apigatewayv2", region_name=REGION)
    http = v2.create_api(
        Name="public", ProtocolType="HTTP", CorsConfiguration={"AllowOrigins": ["*"]}, Tags={"team": "web"}
    )["ApiId"]
    v2.create_route(ApiId=http, RouteKey="GET /items", AuthorizationType="NONE")
    v2.create_route(ApiId=http, RouteKey="POST /items", AuthorizationType="AWS_IAM")
    v2.create_stage(ApiId=http, StageName="$default", AutoDeploy=True)
    v2.create_stage(
        ApiId=http, StageName="logged", AccessLogSettings={"DestinationArn": ACCESS_LOG, "Format": "$context.requestId"}
    )
    return {"rest": rest, "http": http}


def test_registered_under_one_api_service():
    for kind in ("apigateway.rest_api", "apigateway.stage", "apigatewayv2.api", "apigatewayv2.stage"):
        entry = get_collector(f"aws.{kind}")
        assert entry.service == "apigateway" and entry.regional  # v1 and v2 share the endpoint and its quota


def test_rest_apis_and_stages(ctx, apis):
    [api] = collect(ctx, "aws.apigateway.rest_api")
    rest_arn = f"arn:aws:apigateway:{REGION}::/restapis/{apis['rest']}"
    assert api.native_id == rest_arn and api.name == "orders" and api.tags == {"team": "shop"}
    assert api.config["endpoint_types"] == ["REGIONAL"] and api.config["unreadable"] == []
    methods = {(m["path"], m["http_method"]): m["authorization_type"] for m in api.config["methods"]}
    assert methods == {("/", "GET"): "NONE", ("/", "POST"): "AWS_IAM", ("/", "OPTIONS"): "NONE"}
    assert judge("aws-apigateway-rest-api-method-without-auth", {"aws.apigateway.rest_api": [api]}) == {rest_arn}

    stages = {r.config["stage_name"]: r for r in collect(ctx, "aws.apigateway.stage")}
    prod, dev = stages["prod"], stages["dev"]
    assert prod.native_id == f"{rest_arn}/stages/prod" and prod.name == "orders/prod"
    assert prod.config["logging_level"] == "ERROR" and prod.config["tracing_enabled"] is True
    assert dev.config["logging_level"] == "OFF" and dev.config["web_acl_arn"] is None
    assert rels(prod, "member_of") == {rest_arn}
    collected = {"aws.apigateway.stage": [prod, dev]}
    assert judge("aws-apigateway-stage-execution-logging-off", collected) == {dev.native_id}
    assert judge("aws-apigateway-stage-xray-off", collected) == {dev.native_id}
    assert judge("aws-apigateway-stage-no-waf", collected) == {prod.native_id, dev.native_id}


def test_unreadable_methods_are_not_judged(ctx, apis):
    fail_operation(ctx, "apigateway", "GetResources", code="AccessDeniedException")
    [api] = collect(ctx, "aws.apigateway.rest_api")
    assert api.config["methods"] is None and api.config["unreadable"] == ["methods"]
    assert judge("aws-apigateway-rest-api-method-without-auth", {"aws.apigateway.rest_api": [api]}) == set()


def test_http_apis_and_stages(ctx, apis):
    [api] = collect(ctx, "aws.apigatewayv2.api")
    http_arn = f"arn:aws:apigateway:{REGION}::/apis/{apis['http']}"
    assert api.native_id == http_arn and api.tags == {"team": "web"}
    assert api.config["protocol_type"] == "HTTP" and api.config["cors"]["allow_origins"] == ["*"]
    routes = {r["route_key"]: r["authorization_type"] for r in api.config["routes"]}
    assert routes == {"GET /items": "NONE", "POST /items": "AWS_IAM"}
    collected = {"aws.apigatewayv2.api": [api]}
    assert judge("aws-apigatewayv2-api-route-without-auth", collected) == {http_arn}
    assert judge("aws-apigatewayv2-api-cors-any-origin", collected) == {http_arn}

    stages = {r.config["stage_name"]: r for r in collect(ctx, "aws.apigatewayv2.stage")}
    default, logged = stages["$default"], stages["logged"]
    assert default.native_id == f"{http_arn}/stages/$default" and default.config["auto_deploy"] is True
    assert logged.config["access_log_destination_arn"] == ACCESS_LOG
    assert rels(logged, "logs_to") == {ACCESS_LOG} and rels(logged, "member_of") == {http_arn}
    collected = {"aws.apigatewayv2.stage": [default, logged]}
    assert judge("aws-apigatewayv2-stage-access-logging-off", collected) == {default.native_id}
    assert judge("aws-apigateway-stage-execution-logging-off", collected) == set()  # HTTP APIs have none


def test_denied_listing_raises_for_the_engine(ctx, apis):
    fail_operation(ctx, "apigatewayv2", "GetApis", code="AccessDeniedException")
    with pytest.raises(ClientError):
        collect(ctx, "aws.apigatewayv2.api")
