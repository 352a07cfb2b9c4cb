from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError


def tags_dict(tags: list[dict] | None) -> dict[str, str]:
    """AWS [{"Key": k, "Value": v}] (or lowercase keys) → {k: v}."""
    result: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            result[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return result


def name_from_tags(tags: dict[str, str], default: str = "") -> str:
    return tags.get("Name") or default


def iso(value: Any) -> str | None:
    """Datetimes from botocore → ISO 8601 UTC strings (config must be JSON)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return str(value)


def arn(service: str, region: str, account: str, resource: str, partition: str = "aws") -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def ec2_arn(ctx, kind: str, resource_id: str) -> str:
    """ARN of an EC2-family resource: kind is instance, volume, snapshot, image, security-group, vpc,
    subnet, route-table, internet-gateway, natgateway, network-interface, elastic-ip."""
    return arn("ec2", ctx.region, ctx.account_id, f"{kind}/{resource_id}")


# --- Per-resource detail calls (S3, IAM, Lambda, KMS, CloudTrail collectors) ----------------------

# Codes that mean "slow down": they always propagate, so the engine can record "throttled out".
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
    }
)

DETAIL_CONCURRENCY = 4  # per collector run; the context's rate limiter still paces every call


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code") or "")


class Details:
    """The per-resource calls that enrich one record (a bucket's encryption, a user's access keys...).

    The main listing of a collector always raises. A detail call that is denied or unsupported makes
    only its field unknown: ``get``/``items`` return None and the field is listed in ``unreadable``
    (stored as ``config["unreadable"]``: "not evaluated", never a silent default). Codes in ``missing``
    mean "not configured" and return an empty answer; throttling and codes in ``gone`` (the resource
    vanished mid-scan) raise.
    """

    def __init__(self, ctx: Any, gone: tuple[str, ...] | frozenset[str] = ()) -> None:
        self.ctx = ctx
        self.gone = frozenset(gone)
        self.unreadable: list[str] = []

    def _failed(self, field: str, error: ClientError, missing: tuple[str, ...]) -> bool:
        """True when ``error`` means "not configured"; records the field as unreadable or re-raises."""
        code = error_code(error)
        if code in missing:
            return True
        if code in THROTTLING_CODES or code in self.gone:
            raise error
        if field not in self.unreadable:
            self.unreadable.append(field)
        return False

    def get(self, field: str, service: str, operation: str, *, missing: tuple[str, ...] = (), **kwargs: Any):
        """One call's response; {} when a ``missing`` code says "not configured"; None when unreadable."""
        try:
            return self.ctx.call(service, operation, **kwargs)
        except ClientError as error:
            return {} if self._failed(field, error, missing) else None

    def items(
        self, field: str, service: str, operation: str, key: str, *, missing: tuple[str, ...] = (), **kwargs: Any
    ) -> list | None:
        """Every page's ``key`` list, concatenated; [] when "not configured"; None when unreadable."""
        found: list = []
        try:
            for page in self.ctx.paginate(service, operation, **kwargs):
                found.extend(page.get(key) or [])
        except ClientError as error:
            return [] if self._failed(field, error, missing) else None
        return found

    def finish(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` with the sorted list of fields that could not be read."""
        config["unreadable"] = sorted(self.unreadable)
        return config


def fan_out(ctx: Any, func: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    """``func(item)`` for each item, in order, a few at a time: collectors that make several calls per
    resource (S3 buckets, IAM users) would otherwise spend a scan waiting on one call after another.
    ``ctx.detail_concurrency`` (default DETAIL_CONCURRENCY) bounds it; 1 runs inline (Stubber tests)."""
    items = list(items)
    workers = min(int(getattr(ctx, "detail_concurrency", DETAIL_CONCURRENCY) or 1), len(items))
    if workers <= 1:
        for item in items:
            yield func(item)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collector-detail")
    try:
        yield from pool.map(func, items)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def arn_account(value: str | None) -> str:
    """The account id field of an ARN ("" when ``value`` is not an ARN)."""
    parts = (value or "").split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""
