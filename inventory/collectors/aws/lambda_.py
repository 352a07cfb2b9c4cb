"""Lambda functions. Environment variables are recorded by NAME only: their values are often secrets and
never leave this module."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from inventory.collectors.aws._util import Details, ec2_arn, fan_out
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector


@collector("aws", "lambda.function", service="lambda", regional=True)
def functions(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("lambda", "list_functions"):
        yield from fan_out(ctx, partial(_function_record, ctx), page.get("Functions") or [])


def _function_record(ctx: CollectContext, fn: dict) -> ResourceRecord:
    function_arn = fn["FunctionArn"]
    details = Details(ctx)
    vpc = fn.get("VpcConfig") or {}
    subnet_ids = list(vpc.get("SubnetIds") or [])
    security_group_ids = list(vpc.get("SecurityGroupIds") or [])
    environment = fn.get("Environment") or {}
    # Names only: the values are dropped here and never reach the record.
    env_names = sorted((environment.get("Variables") or {}).keys())

    config: dict[str, Any] = {
        "function_name": fn.get("FunctionName"),
        "runtime": fn.get("Runtime"),
        "handler": fn.get("Handler"),
        "package_type": fn.get("PackageType"),
        "role": fn.get("Role"),
        "memory_size": fn.get("MemorySize"),
        "timeout": fn.get("Timeout"),
        "ephemeral_storage_mb": (fn.get("EphemeralStorage") or {}).get("Size"),
        "code_size": fn.get("CodeSize"),
        "last_modified": fn.get("LastModified"),
        "state": fn.get("State"),
        "vpc_config": (
            {"subnet_ids": subnet_ids, "security_group_ids": security_group_ids, "vpc_id": vpc.get("VpcId") or None}
            if subnet_ids or security_group_ids
            else None
        ),
        "environment_variable_names": env_names,
        "environment_kms_key_arn": fn.get("KMSKeyArn"),
        "layers": [layer.get("Arn") for layer in fn.get("Layers") or [] if layer.get("Arn")],
        "architectures": list(fn.get("Architectures") or ["x86_64"]),
        "tracing_mode": (fn.get("TracingConfig") or {}).get("Mode"),
        "dead_letter_target_arn": (fn.get("DeadLetterConfig") or {}).get("TargetArn"),
        "signing_profile_version_arn": fn.get("SigningProfileVersionArn"),
    }

    url = details.get(
        "function_url",
        "lambda",
        "get_function_url_config",
        missing=("ResourceNotFoundException",),
        FunctionName=function_arn,
    )
    config["function_url"] = (
        None if url is None else {"enabled": bool(url), "auth_type": url.get("AuthType"), "url": url.get("FunctionUrl")}
    )
    tags = details.get("tags", "lambda", "list_tags", Resource=function_arn)

    relations = []
    if fn.get("Role"):
        relations.append(Rel("uses_role", fn["Role"]))
    relations += [Rel("in_subnet", ec2_arn(ctx, "subnet", subnet)) for subnet in subnet_ids]
    relations += [Rel("uses_security_group", ec2_arn(ctx, "security-group", sg)) for sg in security_group_ids]
    if fn.get("KMSKeyArn"):
        relations.append(Rel("encrypted_with", fn["KMSKeyArn"]))
    return ResourceRecord(
        native_id=function_arn,
        name=fn.get("FunctionName") or function_arn,
        config=details.finish(config),
        tags={str(k): str(v) for k, v in ((tags or {}).get("Tags") or {}).items()},
        relations=list(dict.fromkeys(relations)),
    )
