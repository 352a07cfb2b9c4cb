"""API Gateway: REST APIs (v1) and their stages, HTTP and WebSocket APIs (v2) and their stages.

API Gateway has no ARNs of its own in its answers; ours are AWS's documented resource ARNs
(``arn:aws:apigateway:<region>::/restapis/<id>``, ``…/stages/<name>``, ``…::/apis/<id>``). An API's
methods and routes are summarized (path, method, authorization), never their integrations' settings."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._policy import summarize_resource_policy
from inventory.collectors.aws._util import Details, error_code, fan_out, iso
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

GONE = ("NotFoundException",)


def rest_api_arn(ctx: CollectContext, api_id: str) -> str:
    return f"arn:aws:apigateway:{ctx.region}::/restapis/{api_id}"


def http_api_arn(ctx: CollectContext, api_id: str) -> str:
    return f"arn:aws:apigateway:{ctx.region}::/apis/{api_id}"


def _log_group(destination: str | None) -> str | None:
    """An access-log destination as the log group's id (CloudWatch Logs; Firehose streams stay as they are)."""
    return destination.removesuffix(":*") if destination else None


def _rest_apis(ctx: CollectContext) -> list[dict]:
    return [api for page in ctx.paginate("apigateway", "get_rest_apis") for api in page.get("items") or []]


def _http_apis(ctx: CollectContext) -> list[dict]:
    return [api for page in ctx.paginate("apigatewayv2", "get_apis") for api in page.get("Items") or []]


def _skip_gone(func):
    """A per-API reader that returns None when the API was deleted after the listing."""

    def wrapper(*args: Any) -> Any:
        try:
            return func(*args)
        except ClientError as error:
            if error_code(error) in GONE:
                return None
            raise

    return wrapper


# --- REST APIs (v1) -------------------------------------------------------------------------------


@collector("aws", "apigateway.rest_api", service="apigateway", regional=True)
def rest_apis(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for record in fan_out(ctx, partial(_skip_gone(_rest_api_record), ctx), _rest_apis(ctx)):
        if record is not None:
            yield record


def _rest_api_record(ctx: CollectContext, api: dict) -> ResourceRecord:
    api_id = api["id"]
    details = Details(ctx, gone=GONE)
    resources = details.items("methods", "apigateway", "get_resources", "items", restApiId=api_id, embed=["methods"])
    methods = None
    if resources is not None:
        methods = [
            {
                "path": resource.get("path"),
                "http_method": verb,
                "authorization_type": method.get("authorizationType") or "NONE",
                "api_key_required": bool(method.get("apiKeyRequired", False)),
            }
            for resource in resources
            for verb, method in sorted((resource.get("resourceMethods") or {}).items())
        ]
    config: dict[str, Any] = {
        "api_id": api_id,
        "api_name": api.get("name"),
        # EDGE | REGIONAL | PRIVATE
        "endpoint_types": list((api.get("endpointConfiguration") or {}).get("types") or []),
        "api_key_source": api.get("apiKeySource"),
        "disable_execute_api_endpoint": bool(api.get("disableExecuteApiEndpoint", False)),
        "policy": summarize_resource_policy(api.get("policy"), ctx.account_id),
        "methods": methods,
        "created_date": iso(api.get("createdDate")),
    }
    return ResourceRecord(
        native_id=rest_api_arn(ctx, api_id),
        name=api.get("name") or api_id,
        config=details.finish(config),
        tags={str(k): str(v) for k, v in (api.get("tags") or {}).items()},
    )


@collector("aws", "apigateway.stage", service="apigateway", regional=True)
def rest_api_stages(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for records in fan_out(ctx, partial(_skip_gone(_rest_api_stage_records), ctx), _rest_apis(ctx)):
        yield from records or []


def _rest_api_stage_records(ctx: CollectContext, api: dict) -> list[ResourceRecord]:
    api_id = api["id"]
    answer = ctx.call("apigateway", "get_stages", restApiId=api_id)
    return [_rest_stage_record(ctx, api, stage) for stage in answer.get("item") or []]


def _rest_stage_record(ctx: CollectContext, api: dict, stage: dict) -> ResourceRecord:
    api_id, name = api["id"], stage["stageName"]
    defaults = (stage.get("methodSettings") or {}).get("*/*") or {}
    caching = [s for s in (stage.get("methodSettings") or {}).values() if s.get("cachingEnabled")]
    access_log = _log_group((stage.get("accessLogSettings") or {}).get("destinationArn"))
    config: dict[str, Any] = {
        "api_id": api_id,
        "api_name": api.get("name"),
        "protocol_type": "REST",  # the same key as HTTP / WebSocket stages, so rules can cover all three
        "stage_name": name,
        "deployment_id": stage.get("deploymentId"),
        "logging_level": defaults.get("loggingLevel") or "OFF",  # OFF | ERROR | INFO (execution logs)
        "data_trace_enabled": bool(defaults.get("dataTraceEnabled", False)),
        "metrics_enabled": bool(defaults.get("metricsEnabled", False)),
        "access_log_destination_arn": access_log,
        "tracing_enabled": bool(stage.get("tracingEnabled", False)),
        "web_acl_arn": stage.get("webAclArn"),
        "client_certificate_id": stage.get("clientCertificateId"),
        "cache_cluster_enabled": bool(stage.get("cacheClusterEnabled", False)),
        "cache_cluster_size": stage.get("cacheClusterSize") if stage.get("cacheClusterEnabled") else None,
        # Method settings that cache responses, and whether every one of them encrypts the cache.
        "caching_methods": len(caching),
        "cache_data_encrypted": all(bool(s.get("cacheDataEncrypted", False)) for s in caching),
        "created_date": iso(stage.get("createdDate")),
    }
    relations = [Rel("member_of", rest_api_arn(ctx, api_id))]
    if access_log and ":logs:" in access_log:
        relations.append(Rel("logs_to", access_log))
    return ResourceRecord(
        native_id=f"{rest_api_arn(ctx, api_id)}/stages/{name}",
        name=f"{api.get('name') or api_id}/{name}",
        config=config,
        tags={str(k): str(v) for k, v in (stage.get("tags") or {}).items()},
        relations=relations,
    )


# --- HTTP and WebSocket APIs (v2) -----------------------------------------------------------------


@collector("aws", "apigatewayv2.api", service="apigateway", regional=True)
def http_apis(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for record in fan_out(ctx, partial(_skip_gone(_http_api_record), ctx), _http_apis(ctx)):
        if record is not None:
            yield record


def _http_api_record(ctx: CollectContext, api: dict) -> ResourceRecord:
    api_id = api["ApiId"]
    details = Details(ctx, gone=GONE)
    routes = details.items("routes", "apigatewayv2", "get_routes", "Items", ApiId=api_id)
    cors = api.get("CorsConfiguration")
    config: dict[str, Any] = {
        "api_id": api_id,
        "api_name": api.get("Name"),
        "protocol_type": api.get("ProtocolType"),  # HTTP | WEBSOCKET
        "api_endpoint": api.get("ApiEndpoint"),
        "disable_execute_api_endpoint": bool(api.get("DisableExecuteApiEndpoint", False)),
        "cors": (
            {
                "allow_origins": list(cors.get("AllowOrigins") or []),
                "allow_credentials": bool(cors.get("AllowCredentials", False)),
            }
            if cors
            else None
        ),
        "routes": (
            None
            if routes is None
            else [
                {
                    "route_key": route.get("RouteKey"),
                    "authorization_type": route.get("AuthorizationType") or "NONE",  # NONE | AWS_IAM | JWT | CUSTOM
                    "api_key_required": bool(route.get("ApiKeyRequired", False)),
                }
                for route in routes
            ]
        ),
        "created_date": iso(api.get("CreatedDate")),
    }
    return ResourceRecord(
        native_id=http_api_arn(ctx, api_id),
        name=api.get("Name") or api_id,
        config=details.finish(config),
        tags={str(k): str(v) for k, v in (api.get("Tags") or {}).items()},
    )


@collector("aws", "apigatewayv2.stage", service="apigateway", regional=True)
def http_api_stages(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for records in fan_out(ctx, partial(_skip_gone(_http_api_stage_records), ctx), _http_apis(ctx)):
        yield from records or []


def _http_api_stage_records(ctx: CollectContext, api: dict) -> list[ResourceRecord]:
    pages = ctx.paginate("apigatewayv2", "get_stages", ApiId=api["ApiId"])
    stages = [stage for page in pages for stage in page.get("Items") or []]
    return [_http_stage_record(ctx, api, stage) for stage in stages]


def _http_stage_record(ctx: CollectContext, api: dict, stage: dict) -> ResourceRecord:
    api_id, name = api["ApiId"], stage["StageName"]
    defaults = stage.get("DefaultRouteSettings") or {}
    access_log = _log_group((stage.get("AccessLogSettings") or {}).get("DestinationArn"))
    config: dict[str, Any] = {
        "api_id": api_id,
        "api_name": api.get("Name"),
        "protocol_type": api.get("ProtocolType"),
        "stage_name": name,
        "auto_deploy": bool(stage.get("AutoDeploy", False)),
        "access_log_destination_arn": access_log,
        "logging_level": defaults.get("LoggingLevel") or "OFF",  # WebSocket APIs only: OFF | ERROR | INFO
        "detailed_metrics_enabled": bool(defaults.get("DetailedMetricsEnabled", False)),
        "throttling_burst_limit": defaults.get("ThrottlingBurstLimit"),
        "throttling_rate_limit": defaults.get("ThrottlingRateLimit"),
        "client_certificate_id": stage.get("ClientCertificateId"),
        "created_date": iso(stage.get("CreatedDate")),
    }
    relations = [Rel("member_of", http_api_arn(ctx, api_id))]
    if access_log and ":logs:" in access_log:
        relations.append(Rel("logs_to", access_log))
    return ResourceRecord(
        native_id=f"{http_api_arn(ctx, api_id)}/stages/{name}",
        name=f"{api.get('Name') or api_id}/{name}",
        config=config,
        tags={str(k): str(v) for k, v in (stage.get("Tags") or {}).items()},
        relations=relations,
    )
