"""Shared helpers of the Azure collectors: resource ids, records, and per-resource detail calls."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import HttpResponseError

from inventory.collectors.base import Rel, ResourceRecord


def rid(value: Any) -> str:
    """An Azure resource id, normalized: lowercase, no trailing slash ("" for none).

    Azure ids are case-insensitive and Azure itself is inconsistent about their case (a VM's id in a
    NIC's ``virtualMachine`` reference may spell the resource group differently from the VM's own id),
    so every native id, relationship target and id in config goes through this."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value or "").strip().rstrip("/").lower()


def parent_id(resource_id: str, levels: int = 1) -> str:
    """The id ``levels`` child steps up: ``.../networkInterfaces/nic/ipConfigurations/ip1`` → ``.../nic``."""
    parts = rid(resource_id).split("/")
    return "/".join(parts[: -2 * levels]) if len(parts) > 2 * levels else ""


def resource_group_of(resource_id: str) -> str:
    """The resource group name in an id, as the id spells it ("" when the id has none)."""
    parts = str(resource_id or "").split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return parts[i + 1]
    return ""


def resource_group_id(resource_id: str) -> str:
    parts = rid(resource_id).split("/")
    if len(parts) >= 5 and parts[1] == "subscriptions" and parts[3] == "resourcegroups":
        return "/".join(parts[:5])
    return ""


def location(item: dict, default: str = "") -> str:
    """ARM locations are lowercase without spaces ("westeurope"); a few APIs answer "West Europe"."""
    value = str(item.get("location") or default or "").replace(" ", "").lower()
    return value


def props(item: dict) -> dict:
    return item.get("properties") or {}


def tags_of(item: dict) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (item.get("tags") or {}).items()}


def sku_name(item: dict) -> str | None:
    sku = item.get("sku")
    return (sku.get("name") if isinstance(sku, dict) else sku) or None


def ids(references: Iterable[Any] | None) -> list[str]:
    """[{"id": ...}, ...] → sorted normalized ids."""
    return sorted({rid(ref) for ref in references or [] if rid(ref)})


def unique(rels: Iterable[Rel]) -> list[Rel]:
    return list(dict.fromkeys(rel for rel in rels if rel.target_native_id))


def record(item: dict, config: dict, rels: Iterable[Rel] = (), *, region: str = "") -> ResourceRecord:
    """The record of one ARM resource: its id (normalized) as native id, its location as region, its
    resource group in ``config.resource_group`` and an ``in_resource_group`` relationship."""
    resource_id = str(item.get("id") or "")
    config = {"resource_group": resource_group_of(resource_id), **config}
    return ResourceRecord(
        native_id=rid(resource_id),
        name=str(item.get("name") or resource_id.rsplit("/", 1)[-1]),
        config=config,
        tags=tags_of(item),
        relations=unique([*rels, Rel("in_resource_group", resource_group_id(resource_id))]),
        region=location(item) or region,
    )


# --- Per-resource detail calls ---------------------------------------------------------------------


def is_throttled(error: HttpResponseError) -> bool:
    return getattr(error, "status_code", None) == 429


class Details:
    """The per-resource calls that enrich one record (a storage account's blob service, a SQL server's
    auditing policy...). The main listing of a collector always raises. A detail call answered with an
    HTTP error (403 denied, 404, 409 unsupported for this kind of resource...) makes only its fields
    unknown: ``get``/``items`` return None and the field is listed in ``config["unreadable"]``.
    Throttling that outlasted the retry policy and transport errors raise."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.unreadable: list[str] = []

    def _failed(self, field: str, error: HttpResponseError) -> None:
        if is_throttled(error):
            raise error
        if field not in self.unreadable:
            self.unreadable.append(field)

    def get(self, field: str, kind: str, operation: str, *args: Any, **kwargs: Any) -> dict | None:
        try:
            return self.ctx.call(kind, operation, *args, **kwargs)
        except HttpResponseError as error:
            self._failed(field, error)
            return None

    def items(self, field: str, kind: str, operation: str, *args: Any, **kwargs: Any) -> list[dict] | None:
        try:
            return list(self.ctx.items(kind, operation, *args, **kwargs))
        except HttpResponseError as error:
            self._failed(field, error)
            return None

    def finish(self, config: dict[str, Any]) -> dict[str, Any]:
        config["unreadable"] = sorted(self.unreadable)
        return config


def iso(value: Any) -> str | None:
    """An ARM timestamp ("2024-01-02T03:04:05.1234567Z") → ISO 8601 UTC, as the AWS collectors store
    them; unparseable text is kept as is."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()
