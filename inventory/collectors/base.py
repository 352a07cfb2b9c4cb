"""The one way to write a collector (ARCHITECTURE.md convention 7).

A collector is a small function that pages through one API and yields normalized records::

    @collector("aws", "ec2.vpc", service="ec2", regional=True)
    def vpcs(ctx: CollectContext) -> Iterator[ResourceRecord]:
        for page in ctx.paginate("ec2", "describe_vpcs"):
            for vpc in page["Vpcs"]:
                yield ResourceRecord(
                    native_id=arn(...), name=tag_name(vpc), config={...}, tags=tags_dict(vpc.get("Tags")),
                    relations=[Rel("in_region", ...)],
                )

Records are plain data; the sync engine turns them into rows, diffs them against the previous state
and writes everything in one transaction. Relationships are emitted with the record, by reference to
the other resource's native id (ARN / Azure id): the engine resolves them once every record is in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Rel:
    """A relationship from the record's resource to another, by the other's native id."""

    kind: str  # in_subnet, in_vpc, attached_to, uses_security_group, uses_role, member_of, routes_to...
    target_native_id: str


@dataclass
class ResourceRecord:
    native_id: str  # ARN, or an ARN-shaped id when the service has none; Azure resource id
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)  # normalized, JSON-serialisable, no secret values
    tags: dict[str, str] = field(default_factory=dict)
    relations: list[Rel] = field(default_factory=list)
    region: str = ""  # filled by the engine from the context when empty ("global" for global services)
    resource_type: str = ""  # filled by the engine from the collector


class UnitSkipped(Exception):
    """Raised by a collector whose type does not apply where it runs (Organizations' accounts asked of a
    member account): the unit is "skipped", its records are not evaluated, and the run is not the worse
    for it. ``code`` and ``message`` are shown with the run's warnings."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CollectContext(Protocol):
    """What a collector gets: where it runs and how to call the cloud politely."""

    provider: str
    account_id: str  # AWS account id / Azure subscription id
    region: str  # "global" for global collectors

    def client(self, service: str) -> Any:
        """A rate-limited, retrying client for ``service`` in this context's region."""

    def paginate(self, service: str, operation: str, **kwargs: Any) -> Iterator[dict]:
        """Every page of ``operation``, each call counted and rate-limited."""

    def call(self, service: str, operation: str, **kwargs: Any) -> dict:
        """One rate-limited, counted call."""


@dataclass(frozen=True)
class Collector:
    provider: str
    resource_type: str  # without the provider prefix, e.g. "ec2.instance"; stored as "aws.ec2.instance"
    service: str  # the API service, for rate limits and coverage
    regional: bool
    func: Callable[[CollectContext], Iterator[ResourceRecord]]
    # Config keys whose value changes on every read (last-used dates, report times): stored, judged by
    # rules, but never a change event (``inventory.diff.strip_volatile`` reads this syntax).
    volatile: tuple[str, ...] = ()

    @property
    def full_type(self) -> str:
        return f"{self.provider}.{self.resource_type}"


_REGISTRY: dict[str, Collector] = {}


def collector(
    provider: str, resource_type: str, *, service: str, regional: bool = True, volatile: tuple[str, ...] = ()
):
    """Register ``func`` as the collector of ``provider.resource_type``."""

    def register(func: Callable[[CollectContext], Iterator[ResourceRecord]]):
        entry = Collector(provider, resource_type, service, regional, func, volatile)
        if entry.full_type in _REGISTRY and _REGISTRY[entry.full_type].func is not func:
            raise ValueError(f"Two collectors for {entry.full_type}")
        _REGISTRY[entry.full_type] = entry
        return func

    return register


def collectors_for(provider: str) -> list[Collector]:
    return sorted((c for c in _REGISTRY.values() if c.provider == provider), key=lambda c: c.full_type)


def get_collector(full_type: str) -> Collector:
    return _REGISTRY[full_type]


def volatile_keys(full_type: str) -> tuple[str, ...]:
    entry = _REGISTRY.get(full_type)
    return entry.volatile if entry else ()
