"""The sync engine: fetch a connection's resources concurrently, build the new state in memory, diff it
against the stored inventory, and write what changed in parts of bounded size, each its own transaction.

    run_sync(run_id)                       the whole run, for a Celery task, a command or a test
      FETCHERS[provider](connection, control)
        fetch_aws                         every collector × region, concurrently, paced, classified
        fetch_azure                       every collector × subscription, the same way
      write_inventory(run, conn, fetch)   only what changed (content hashes): upsert, delete,
                                          relationships, changes, counts; by parts (WRITE_PART_ROWS)

A unit is one collector over one scope: an AWS region ("global" for a global collector), or an Azure
subscription (scope "/subscriptions/<id>"). Its scope is the key of its coverage and the part of the
inventory it replaces; ``inventory.coverage.scope_region`` maps a stored resource back to it.

Rules that keep the inventory honest:

* A (type, scope) unit that was not collected (denied, throttled, error, skipped) keeps its previous
  records untouched: it is "not evaluated", never "empty". Only collected units replace their part.
* A resource keeps its row (and id) across syncs as long as its native id is seen again.
* Nothing is written before the fetch ends: a crash, a failure or a cancel during it leaves the previous
  inventory. The write commits whole scopes (a scope's deletions after its rows, never split), so a
  failure during it leaves the previous inventory plus the scopes already saved, and says which.
* Worker threads only talk to the cloud; every database query happens in the calling thread.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain, islice
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from django.conf import settings
from django.core.cache import cache
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from billing import limits
from cloustral.logging import redact_value
from inventory import hooks
from inventory.collectors.base import Collector, ResourceRecord, UnitSkipped, collectors_for, volatile_keys
from inventory.coverage import scope_region, subscription_scope
from inventory.diff import record_hashes, resource_diff, strip_volatile
from inventory.models import (
    COLLECTED,
    DENIED,
    ERROR,
    GLOBAL_REGION,
    SKIPPED,
    THROTTLED,
    DailyCount,
    Relationship,
    Resource,
    ResourceChange,
    SyncRun,
)

logger = logging.getLogger(__name__)
S = SyncRun.Status

CANCELLED_UNIT = "cancelled"  # a unit stopped by a cancel (never stored as coverage)
BATCH_SIZE = 2000  # rows per bulk INSERT/UPDATE (2000 × 12 columns stays under PostgreSQL's 65535 parameters)
ID_CHUNK = 900  # ids per "pk IN (...)" (under SQLite's historical 999-variable limit)
MAX_LISTED_WARNINGS = 500

# --- error classification -----------------------------------------------------------------------

DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "AuthorizationError"}
)
THROTTLED_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "PriorRequestNotComplete",
        "BandwidthLimitExceeded",
    }
)
SKIPPED_CODES = frozenset({"OptInRequired", "RegionDisabledException"})
UNEXPECTED_MESSAGE = "Unexpected error in the collector (logged for the Cloustral team)."


def _clean(message: str, limit: int = 500) -> str:
    return str(redact_value(str(message)))[:limit]


def classify_aws_error(exc: BaseException) -> tuple[str, str, str]:
    """(coverage status, code, message) for an exception out of an AWS collector. Messages are AWS's own
    (they name actions and principals, never credentials) or ours; unexpected exceptions get a generic
    message and go to the log with their traceback."""
    if isinstance(exc, UnitSkipped):  # the collector's own verdict: its type does not apply here
        return SKIPPED, exc.code, _clean(exc.message)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}) or {}
        code = str(error.get("Code") or "ClientError")
        message = _clean(error.get("Message") or "")
        if code in DENIED_CODES:
            return DENIED, code, message or "Access denied."
        if code in THROTTLED_CODES:
            return THROTTLED, code, message or "Throttled by AWS after every retry."
        if code in SKIPPED_CODES:
            return SKIPPED, code, message or "The region is not enabled for this account."
        return ERROR, code, message or "AWS answered with an error."
    if isinstance(exc, EndpointConnectionError):
        return ERROR, "EndpointConnectionError", "The service's endpoint in this region could not be reached."
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return ERROR, "Timeout", "AWS did not answer in time."
    if isinstance(exc, NoCredentialsError):
        return ERROR, "NoCredentials", "No credentials to call AWS with."
    if isinstance(exc, BotoCoreError):
        return ERROR, type(exc).__name__, _clean(str(exc))
    return ERROR, type(exc).__name__, UNEXPECTED_MESSAGE


AZURE_DENIED_CODES = frozenset({"AuthorizationFailed", "LinkedAuthorizationFailed"})
# The subscription has not registered the resource provider: nothing of that kind can exist in it.
AZURE_SKIPPED_CODES = frozenset({"MissingSubscriptionRegistration", "NoRegisteredProviderFound"})


def _azure_error_code(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    return str(getattr(error, "code", None) or "")


def _azure_error_message(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None) or exc.reason or ""
    return _clean(message)


def classify_azure_error(exc: BaseException) -> tuple[str, str, str]:
    """(coverage status, code, message) for an exception out of an Azure collector. The SDK's retry
    policy has already waited out 429s (Retry-After) and retried 5xx and connection errors; what comes
    here is final. Messages are Resource Manager's own (they name the client, action and scope, never a
    secret) or ours; unexpected exceptions get a generic message and go to the log with their traceback."""
    if isinstance(exc, ClientAuthenticationError):  # a 401 from Resource Manager, or a token refresh refused
        code = (_azure_error_code(exc) if exc.status_code else "") or "ClientAuthenticationError"
        return ERROR, code, f"Azure did not accept the connection's credentials during the scan: {_clean(exc.message)}"
    if isinstance(exc, HttpResponseError):
        code = _azure_error_code(exc)
        status = exc.status_code
        message = _azure_error_message(exc)
        if code in AZURE_DENIED_CODES or status == 403:
            return DENIED, code or "Forbidden", message or "Access denied."
        if code in AZURE_SKIPPED_CODES:
            return SKIPPED, code, message or "The resource provider is not registered in this subscription."
        if status == 429:
            return THROTTLED, code or "TooManyRequests", message or "Throttled by Azure after every retry."
        return ERROR, code or f"HTTP{status}", message or "Azure answered with an error."
    if isinstance(exc, ServiceRequestTimeoutError | ServiceResponseTimeoutError):
        return ERROR, "Timeout", "Azure Resource Manager did not answer in time."
    if isinstance(exc, ServiceRequestError):
        return ERROR, "ServiceRequestError", "Azure Resource Manager could not be reached."
    if isinstance(exc, ServiceResponseError):
        return ERROR, "ServiceResponseError", "The connection to Azure Resource Manager broke during an answer."
    if isinstance(exc, AzureError):
        return ERROR, type(exc).__name__, _clean(str(exc))
    return ERROR, type(exc).__name__, UNEXPECTED_MESSAGE


# Exceptions a classifier knows (logged as a warning); anything else is a bug, logged with its traceback.
CLOUD_ERRORS = (ClientError, BotoCoreError, AzureError)


# --- units of work ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One collector in one region ("global" for a global collector), and in one subscription when the
    provider's connections span several (Azure): the grain of concurrency, of coverage and of replacement.
    Its scope is (type, region), or (type, "/subscriptions/<id>") for a subscription's unit."""

    collector: Collector
    region: str
    subscription: str = ""

    @property
    def scope(self) -> tuple[str, str]:
        if self.subscription:
            return (self.collector.full_type, subscription_scope(self.subscription))
        return (self.collector.full_type, self.region)

    @property
    def where(self) -> str:
        return self.scope[1]


@dataclass
class UnitResult:
    unit: Unit
    status: str
    records: list[ResourceRecord] = field(default_factory=list)
    code: str = ""
    message: str = ""
    seconds: float = 0.0
    # (content, volatile) hash of each record, in the same order (computed with the record in the worker
    # thread; write_inventory computes the missing ones).
    hashes: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class FetchResult:
    units: list[Unit]
    results: list[UnitResult]
    api_calls: int = 0
    cancelled: bool = False
    rate_wait_seconds: float = 0.0

    def collected(self) -> list[UnitResult]:
        return [r for r in self.results if r.status == COLLECTED]


def plan_units(collectors: Iterable[Collector], regions: list[str]) -> list[Unit]:
    """Every collector in every region, in the order they start: global units first (they are the
    longest chains: one region's quota paces all their calls, IAM's being low), then each type across
    the regions, so that units running together draw on different regions' rate limits."""
    collectors = list(collectors)
    units = [Unit(entry, GLOBAL_REGION) for entry in collectors if not entry.regional]
    units += [Unit(entry, region) for entry in collectors if entry.regional for region in regions]
    return units


def plan_subscription_units(collectors: Iterable[Collector], subscription_ids: list[str]) -> list[Unit]:
    """Every collector in every subscription, each type across the subscriptions: units running together
    draw on different subscriptions' Resource Manager quotas. Azure lists are subscription-wide, so the
    units' region is "global"."""
    return [Unit(entry, GLOBAL_REGION, sid) for entry in collectors for sid in subscription_ids]


class SyncCancelled(Exception):
    """Raised inside a worker thread (by the pacer) once the run is cancelled."""


class SyncBusy(Exception):
    """Another worker holds this run's lock; try again later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"locked; retry in {retry_after}s")
        self.retry_after = retry_after


# --- canonical record data ----------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def canonical(value: Any) -> Any:
    """What the value will be once stored as JSON and read back: compared with stored data, so
    tuples, datetimes and numeric keys never look like changes."""
    return json.loads(json.dumps(value, default=_json_default))


def _normalize(record: ResourceRecord, unit: Unit) -> ResourceRecord:
    record.resource_type = unit.collector.full_type  # one collector, one type: scopes rely on it
    record.region = (record.region or unit.region)[:64]
    record.name = str(record.name or "")[:512]
    record.config = canonical(record.config or {})
    record.tags = {str(k): str(v) for k, v in canonical(record.tags or {}).items()}
    return record


def hash_record(record: ResourceRecord) -> tuple[str, str]:
    """(content, volatile) hashes of a normalized record (``inventory.diff.record_hashes``)."""
    relations = ((rel.kind[:64], rel.target_native_id) for rel in record.relations)
    return record_hashes(
        record.resource_type,
        record.region,
        record.name,
        record.tags,
        record.config,
        relations,
        volatile_keys(record.resource_type),
    )


def collect_unit(unit: Unit, ctx: Any, cancelled: threading.Event, classify=classify_aws_error) -> UnitResult:
    """Run one collector to the end (in a worker thread). Never raises: failures become the result."""
    started = time.monotonic()
    if cancelled.is_set():
        return UnitResult(unit, CANCELLED_UNIT)
    records: list[ResourceRecord] = []
    hashes: list[tuple[str, str]] = []
    try:
        for record in unit.collector.func(ctx):
            if cancelled.is_set():
                raise SyncCancelled
            records.append(_normalize(record, unit))
            hashes.append(hash_record(record))
    except SyncCancelled:
        return UnitResult(unit, CANCELLED_UNIT, seconds=time.monotonic() - started)
    except Exception as exc:
        status, code, message = classify(exc)
        if status == ERROR and not isinstance(exc, CLOUD_ERRORS):
            logger.exception("collector %s failed in %s", unit.collector.full_type, unit.where)
        else:
            logger.warning("collector %s in %s: %s %s", unit.collector.full_type, unit.where, status, code)
        return UnitResult(unit, status, code=code, message=message, seconds=time.monotonic() - started)
    return UnitResult(unit, COLLECTED, records, seconds=time.monotonic() - started, hashes=hashes)


# --- the run's control: lock, heartbeat, progress, cancel --------------------------------------


def lock_key(connection_id: int) -> str:
    return f"inventory:sync-lock:{connection_id}"


def cancel_key(run_id: int) -> str:
    return f"inventory:sync-cancel:{run_id}"


def lock_ttl() -> int:
    return max(300, 10 * settings.SYNC_HEARTBEAT_SECONDS)


class SyncLock:
    """One sync per connection at a time, across processes (the cache is Redis in production).
    The database's partial unique constraint on active runs is the other half."""

    def __init__(self, connection_id: int, run_id: int) -> None:
        self.key = lock_key(connection_id)
        self.run_id = run_id
        self.held = False

    def acquire(self) -> bool:
        if cache.add(self.key, self.run_id, lock_ttl()):
            self.held = True
            return True
        holder = cache.get(self.key)
        if holder is None:  # expired in between
            self.held = cache.add(self.key, self.run_id, lock_ttl())
            return self.held
        if holder != self.run_id and not SyncRun.objects.unscoped().filter(pk=holder, status__in=S_ACTIVE).exists():
            # Left behind by a run that is over (its worker died before releasing): take it.
            cache.set(self.key, self.run_id, lock_ttl())
            self.held = True
            return True
        return False

    def refresh(self) -> None:
        if self.held:
            cache.touch(self.key, lock_ttl())

    def release(self) -> None:
        if self.held and cache.get(self.key) == self.run_id:
            cache.delete(self.key)
        self.held = False


S_ACTIVE = list(SyncRun.ACTIVE)


class RunControl:
    """The calling thread's handle on a running sync: progress and heartbeat in the database (at most
    every SYNC_HEARTBEAT_SECONDS), the cancel flag (cache: checked after every unit; database: on
    every heartbeat) shared with the workers through ``cancelled``."""

    def __init__(self, run: SyncRun, lock: SyncLock | None = None) -> None:
        self.run_id = run.pk
        self.lock = lock
        self.cancelled = threading.Event()
        self.interval = settings.SYNC_HEARTBEAT_SECONDS
        self.done = 0
        self.total = 0
        # What the progress page shows while the run goes on: resources found and units not collected.
        self.found = 0
        self.warnings: list[dict] = []
        self._last_beat = time.monotonic()

    def start(self, total: int) -> None:
        self.total = total
        SyncRun.objects.unscoped().filter(pk=self.run_id).update(progress_total=total, progress_done=0)

    def record(self, result: UnitResult) -> None:
        if result.status == COLLECTED:
            self.found += len(result.records)
        elif result.status != CANCELLED_UNIT and len(self.warnings) < MAX_LISTED_WARNINGS:
            rtype, region = result.unit.scope
            self.warnings.append(
                {"type": rtype, "region": region, "status": result.status, "code": result.code}
                | {"message": result.message}
            )

    def tick(self, done: int) -> None:
        self.done = done
        if cache.get(cancel_key(self.run_id)):
            self.cancelled.set()
        if time.monotonic() - self._last_beat >= self.interval:
            self.beat()

    def beat(self) -> None:
        self._last_beat = time.monotonic()
        SyncRun.objects.unscoped().filter(pk=self.run_id, status__in=SyncRun.ACTIVE).update(
            heartbeat_at=timezone.now(), progress_done=self.done, resource_count=self.found, warnings=self.warnings
        )
        if self.lock:
            self.lock.refresh()
        if SyncRun.objects.unscoped().filter(pk=self.run_id, cancel_requested=True).exists():
            self.cancelled.set()

    def is_cancelled(self) -> bool:
        if not self.cancelled.is_set():
            if cache.get(cancel_key(self.run_id)) or (
                SyncRun.objects.unscoped().filter(pk=self.run_id, cancel_requested=True).exists()
            ):
                self.cancelled.set()
        return self.cancelled.is_set()


def execute_units(
    units: list[Unit], work: Callable[[Unit], UnitResult], control: RunControl, *, max_workers: int | None = None
) -> list[UnitResult]:
    """Run ``work`` over the units on a bounded thread pool; beat and check for a cancel as they finish.
    Units never started because of a cancel come back as "cancelled"."""
    control.start(len(units))
    results: list[UnitResult] = []
    if not units:
        return results
    workers = max(1, min(max_workers or settings.SYNC_MAX_WORKERS, len(units)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
        futures = {pool.submit(work, unit): unit for unit in units}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=max(control.interval, 0.2), return_when=FIRST_COMPLETED)
                for future in done:
                    if future.cancelled():
                        results.append(UnitResult(futures[future], CANCELLED_UNIT))
                    else:
                        results.append(future.result())
                    control.record(results[-1])
                control.tick(len(results))
                if control.cancelled.is_set():
                    for future in pending:
                        future.cancel()
        except BaseException:
            # A soft time limit or a crash in this thread: leaving the pool would otherwise wait for
            # every queued unit. Queued units never start; running ones stop at their next API call.
            control.cancelled.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    control.done = len(results)
    return results


# --- AWS -------------------------------------------------------------------------------------------


class _SerializedSession:
    """A boto3 Session shared by worker threads: creating clients is not thread-safe, using them is."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._lock = threading.Lock()

    def client(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._session.client(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class _Pacer:
    """The limiter AwsContext calls before every API call: stops a cancelled run at its next call."""

    def __init__(self, limiter: Any, cancelled: threading.Event) -> None:
        self.limiter = limiter
        self.cancelled = cancelled

    def acquire(self, service: str, region: str) -> None:
        if self.cancelled.is_set():
            raise SyncCancelled
        self.limiter.acquire(service, region)


_ACCOUNT_HOST = re.compile(r"^(https?://)\d{12}\.")


def _strip_account_host_prefix(request: Any, **kwargs: Any) -> None:
    """S3 Control's endpoint rules put the account id in the host name even for a custom endpoint
    ("123456789012.127.0.0.1:5001"): against a local endpoint, send the call to the endpoint itself."""
    request.url = _ACCOUNT_HOST.sub(r"\1", request.url, count=1)


def aws_scan_regions(connection) -> list[str]:
    """Enabled ∩ selected (all enabled when none is selected), in the connection's partition only."""
    from connections.regions import in_partition, partition_of_arn

    enabled = in_partition(list(connection.enabled_regions or []), partition_of_arn(connection.role_arn))
    selected = [r for r in connection.selected_regions or [] if r in enabled]
    return sorted(selected or enabled)


class FetchSetupError(Exception):
    """The run cannot start talking to the cloud (credentials, identity): the whole run fails."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def secret_unreadable(
    connection, message: str = "The stored credentials cannot be read. Enter them again on the connection's page."
) -> FetchSetupError:
    """The run's failure when the stored secret does not decrypt (its key left ENCRYPTION_KEYS, or the
    ciphertext is damaged): the connection test's outcome code and a message the user can act on, never
    a traceback. The caller raises it ``from None``."""
    logger.error("connection %s: stored secret does not decrypt", connection.pk)
    return FetchSetupError("secret_unreadable", message)


def fetch_departed_member(connection, control: RunControl) -> FetchResult:
    """A member account that left its AWS Organization (connections/organization.py): there is nothing to
    read there any more (its role may have left with it). Every unit, over every region its inventory
    holds, is collected with nothing in it, so the write removes that inventory the ordinary way (a
    deletion event per resource, its findings resolved like any deleted resource's)."""
    stored = Resource.objects.for_org(connection.org_id).filter(connection=connection).exclude(region=GLOBAL_REGION)
    regions = sorted(set(stored.values_list("region", flat=True).distinct()) | set(aws_scan_regions(connection)))
    units = plan_units(collectors_for("aws"), regions)
    control.start(len(units))
    return FetchResult(units=units, results=[UnitResult(unit, COLLECTED) for unit in units])


def fetch_aws(connection, control: RunControl) -> FetchResult:
    if connection.left_organization_at is not None:
        return fetch_departed_member(connection, control)
    from cloustral import crypto
    from connections import credentials
    from connections.providers import aws as aws_provider
    from inventory import ratelimit
    from inventory.collectors.aws.context import SCAN_CONFIG, AwsContext

    config = SCAN_CONFIG
    try:
        aws_credentials = credentials.aws_credentials(connection)
    except crypto.DecryptionError:
        raise secret_unreadable(connection) from None
    try:
        session = aws_provider.session_for(aws_credentials, config=config)
        account_id = connection.aws_account_id
        if not account_id:
            sts = session.client("sts", region_name=aws_provider.DEFAULT_REGION, config=config)
            account_id = sts.get_caller_identity()["Account"]
        regions = aws_scan_regions(connection) or aws_provider.discover_regions(session, config=config)
    except (ClientError, BotoCoreError) as exc:
        _status, code, message = classify_aws_error(exc)
        raise FetchSetupError(code, f"Could not open a session in the account: {message}") from None

    if os.environ.get("AWS_ENDPOINT_URL"):
        session.events.register("before-send.s3-control", _strip_account_host_prefix)
    limiter = ratelimit.limiter_for_account(account_id)
    pacer = _Pacer(limiter, control.cancelled)
    shared = _SerializedSession(session)
    contexts = {
        region: AwsContext(session=shared, account_id=account_id, region=region, limiter=pacer, config=config)
        for region in [*regions, GLOBAL_REGION]
    }
    units = plan_units(collectors_for("aws"), regions)
    results = execute_units(units, lambda unit: collect_unit(unit, contexts[unit.region], control.cancelled), control)
    return FetchResult(
        units=units,
        results=results,
        api_calls=sum(ctx.api_calls for ctx in contexts.values()),
        cancelled=control.cancelled.is_set(),
        rate_wait_seconds=limiter.waited,
    )


# --- Azure -----------------------------------------------------------------------------------------


def azure_scan_subscriptions(connection) -> list[str]:
    """The subscription ids the connection names, lowercase, once each, in its order."""
    ids = (str(s.get("id") or "").strip().lower() for s in connection.subscriptions or [] if isinstance(s, dict))
    return [sid for sid in dict.fromkeys(ids) if sid]


def fetch_azure(connection, control: RunControl) -> FetchResult:
    """Every Azure collector in every subscription of the connection: one service principal credential
    (signed in before any unit, so a wrong secret fails the run with the connection test's message), one
    AzureContext (one client per kind) and one rate limiter per subscription."""
    from cloustral import crypto
    from connections import credentials
    from connections.providers import azure as azure_provider
    from connections.providers.base import ConnectionCheckError
    from inventory import ratelimit
    from inventory.collectors.azure.context import AzureContext

    cloud = connection.azure_cloud or azure_provider.DEFAULT_CLOUD
    try:
        secret = credentials.azure_client_secret(connection)
    except crypto.DecryptionError:
        raise secret_unreadable(
            connection, "The stored client secret cannot be read. Enter it again on the connection's page."
        ) from None
    if not secret:
        raise FetchSetupError("missing_secret", "The connection has no client secret: enter it on its page.")
    try:
        cred = azure_provider.sign_in(connection.tenant_id, connection.client_id, secret, cloud)
    except ConnectionCheckError as exc:
        raise FetchSetupError(exc.code, f"Could not sign in to Azure: {exc.message}") from None

    contexts: dict[str, AzureContext] = {}
    try:
        subscription_ids = azure_scan_subscriptions(connection) or _visible_subscriptions(azure_provider, cred, cloud)
        if not subscription_ids:
            raise FetchSetupError(
                "no_subscriptions",
                f"App {connection.client_id} can read no subscription. Assign it the Reader role on the "
                "subscriptions to scan, or list them on the connection's page.",
            )
        limiters = {sid: ratelimit.limiter_for_subscription(sid, cloud) for sid in subscription_ids}
        contexts = {
            sid: AzureContext(
                credential=cred, account_id=sid, cloud=cloud, limiter=_Pacer(limiters[sid], control.cancelled)
            )
            for sid in subscription_ids
        }
        units = plan_subscription_units(collectors_for("azure"), subscription_ids)
        results = execute_units(
            units,
            lambda unit: collect_unit(
                unit, contexts[unit.subscription], control.cancelled, classify=classify_azure_error
            ),
            control,
        )
        return FetchResult(
            units=units,
            results=results,
            api_calls=sum(ctx.api_calls for ctx in contexts.values()),
            cancelled=control.cancelled.is_set(),
            rate_wait_seconds=sum(limiter.waited for limiter in limiters.values()),
        )
    finally:
        for ctx in contexts.values():
            ctx.close()
        cred.close()


def _visible_subscriptions(azure_provider: Any, cred: Any, cloud: str) -> list[str]:
    """A connection that names no subscription scans every enabled one the principal can read."""
    try:
        visible = azure_provider.subscriptions_visible(cred, cloud)
    except AzureError as exc:
        _status, code, message = classify_azure_error(exc)
        raise FetchSetupError(code, f"Could not list the subscriptions the app can read: {message}") from None
    return [s["id"] for s in visible if s["state"] not in ("Disabled", "Deleted")]


FETCHERS: dict[str, Callable[[Any, RunControl], FetchResult]] = {"aws": fetch_aws, "azure": fetch_azure}


def provider_supported(provider: str) -> bool:
    """A provider can be scanned when it has a fetcher and collectors; the others are refused with
    "<Provider> inventory is not available yet." (inventory.actions.check_can_sync, run_sync)."""
    return provider in FETCHERS and bool(collectors_for(provider))


# --- outcome of a fetch ------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str
    coverage: dict[str, dict[str, str]]
    collected_scopes: set[tuple[str, str]]
    warnings: list[dict]
    counts: dict[str, dict[str, int]]
    resource_count: int
    completeness: float


def summarize(fetch: FetchResult) -> Outcome:
    coverage: dict[str, dict[str, str]] = defaultdict(dict)
    warnings: list[dict] = []
    collected: set[tuple[str, str]] = set()
    by_type: Counter[str] = Counter()
    by_region: Counter[str] = Counter()
    by_unit: dict[str, dict[str, int]] = defaultdict(dict)  # type -> unit region ("global") -> count
    for result in sorted(fetch.results, key=lambda r: r.unit.scope):
        rtype, region = result.unit.scope
        if result.status == CANCELLED_UNIT:
            continue
        coverage[rtype][region] = result.status
        if result.status == COLLECTED:
            collected.add(result.unit.scope)
            by_unit[rtype][region] = len(result.records)
            for record in result.records:
                by_type[record.resource_type] += 1
                by_region[record.region] += 1
        elif len(warnings) < MAX_LISTED_WARNINGS:
            warnings.append(
                {
                    "type": rtype,
                    "region": region,
                    "status": result.status,
                    "code": result.code,
                    "message": result.message,
                }
            )
    planned = len(fetch.units)
    completeness = round(100.0 * len(collected) / planned, 1) if planned else 0.0
    if not collected:
        status = S.FAILED
    elif len(collected) == planned:
        status = S.SUCCEEDED
    else:
        status = S.PARTIAL
    return Outcome(
        status=status,
        coverage={k: dict(sorted(v.items())) for k, v in sorted(coverage.items())},
        collected_scopes=collected,
        warnings=warnings,
        counts={
            "by_type": dict(sorted(by_type.items())),
            "by_region": dict(sorted(by_region.items())),
            "by_type_region": {t: dict(sorted(r.items())) for t, r in sorted(by_unit.items())},
        },
        resource_count=sum(by_type.values()),
        completeness=completeness,
    )


# --- the write ---------------------------------------------------------------------------------
#
# A re-sync mostly finds what it found before. Each record carries a hash of its canonical form
# (``hash_record``), stored on its row: the stored inventory is read as (id, native id, place, hashes)
# only, and just the rows whose content hash moved are loaded and diffed in full. Unchanged rows are not
# written at all (``last_seen`` included: see ``Resource.last_seen``), so an unchanged re-sync writes
# nothing but the run and today's counts. New rows go in with COPY on PostgreSQL.


class WriteAborted(Exception):
    """The run was cancelled or taken away (reaped) before its transaction: nothing was written."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class WriteSummary:
    created: int = 0
    modified: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    relationships_created: int = 0
    relationships_deleted: int = 0
    unresolved: int = 0
    # What rules must look at again: resources whose stored record changed (created, modified, volatile
    # values refreshed), the native ids deleted, and both ends of every relationship added or removed.
    changed_ids: set[int] = field(default_factory=set)
    created_ids: set[int] = field(default_factory=set)
    deleted_native_ids: set[str] = field(default_factory=set)
    relinked_ids: set[int] = field(default_factory=set)
    # False when the write cannot say what changed since the last evaluation (an earlier attempt, or
    # another run, saved parts of a write that never finished): the rules then evaluate everything.
    delta_known: bool = True

    def add(self, written: WriteSummary) -> None:
        """Count in what one part wrote."""
        self.created += written.created
        self.modified += written.modified
        self.deleted += written.deleted
        self.relationships_created += written.relationships_created
        self.relationships_deleted += written.relationships_deleted
        self.changed_ids |= written.changed_ids
        self.created_ids |= written.created_ids
        self.deleted_native_ids |= written.deleted_native_ids
        self.relinked_ids |= written.relinked_ids

    def delta(self, run_id: int) -> hooks.InventoryDelta:
        return hooks.InventoryDelta(
            run_id=run_id,
            changed_ids=frozenset(self.changed_ids),
            created_ids=frozenset(self.created_ids),
            deleted_native_ids=frozenset(self.deleted_native_ids),
            relinked_ids=frozenset(self.relinked_ids),
        )


def _chunks(items: Iterable, size: int | None = None) -> Iterable[list]:
    size = size or ID_CHUNK
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _regional_by_type(provider: str) -> dict[str, bool]:
    return {c.full_type: c.regional for c in collectors_for(provider)}


# PostgreSQL types of the Resource columns a sync updates (for the arrays an UPDATE unnests).
_PG_TYPES = {
    "id": "bigint",
    "resource_type": "text",
    "region": "text",
    "name": "text",
    "tags": "jsonb",
    "config": "jsonb",
    "updated_at": "timestamptz",
    "last_seen": "timestamptz",
    "content_hash": "text",
    "volatile_hash": "text",
}
_JSON_COLUMNS = frozenset({"tags", "config"})
_TIME_COLUMNS = frozenset({"updated_at", "last_seen"})
MODIFIED_FIELDS = (
    "resource_type",
    "region",
    "name",
    "tags",
    "config",
    "updated_at",
    "last_seen",
    "content_hash",
    "volatile_hash",
)
REFRESHED_FIELDS = ("config", "updated_at", "last_seen", "content_hash", "volatile_hash")  # volatile values moved
REHASHED_FIELDS = ("content_hash", "volatile_hash")  # nothing stored moved (relationships, or a row not hashed yet)
UPDATE_CHUNK = 5000  # rows per UPDATE on PostgreSQL (one array parameter per column, whatever the size)


def update_resources(org_id: int, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """Write ``fields`` of each row ``(id, *values)`` (JSON columns as Python values, datetimes aware).

    Django's bulk_update builds one CASE WHEN arm per row and field: quadratic for thousands of rows.
    PostgreSQL joins unnested arrays (one parameter per column, so psycopg has no placeholders to
    parse); SQLite (3.33+) joins an inline VALUES list; other databases fall back to bulk_update."""
    if not rows:
        return
    vendor = db_connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        objs = [Resource(pk=row[0], **dict(zip(fields, row[1:], strict=True))) for row in rows]
        Resource.objects.for_org(org_id).bulk_update(objs, list(fields), batch_size=BATCH_SIZE)
        return
    table = Resource._meta.db_table
    columns = ("id", *fields)
    assignments = ", ".join(f"{c} = v.{c}" for c in fields)
    ops = db_connection.ops
    adapters = [
        json.dumps if c in _JSON_COLUMNS else ops.adapt_datetimefield_value if c in _TIME_COLUMNS else None
        for c in columns
    ]

    def prepared(batch: list[tuple]) -> list[list]:
        return [[a(v) if a else v for a, v in zip(adapters, row, strict=True)] for row in batch]

    with db_connection.cursor() as cursor:
        if vendor == "postgresql":
            arrays = ", ".join(f"%s::{_PG_TYPES[c]}[]" for c in columns)
            sql = (
                f"UPDATE {table} AS r SET {assignments} FROM unnest({arrays}) AS v({', '.join(columns)}) "  # noqa: S608
                "WHERE r.id = v.id AND r.org_id = %s"
            )
            for batch in _chunks(rows, UPDATE_CHUNK):
                values = prepared(batch)
                cursor.execute(sql, [*(list(col) for col in zip(*values, strict=True)), org_id])
            return
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for batch in _chunks(rows, max(1, min(BATCH_SIZE, 30000 // len(columns)))):
            values = ", ".join([row_sql] * len(batch))
            sql = (
                f"WITH v({', '.join(columns)}) AS (VALUES {values}) "  # noqa: S608
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id AND {table}.org_id = %s"
            )
            cursor.execute(sql, [v for row in prepared(batch) for v in row] + [org_id])


CHANGE_COLUMNS = (
    "org_id",
    "connection_id",
    "sync_run_id",
    "resource_id",
    "resource_type",
    "native_id",
    "name",
    "kind",
    "diff",
    "created_at",
)
RESOURCE_COLUMNS = (
    "org_id",
    "connection_id",
    "provider",
    "resource_type",
    "native_id",
    "region",
    "name",
    "tags",
    "config",
    "first_seen",
    "last_seen",
    "updated_at",
    "content_hash",
    "volatile_hash",
)
RELATIONSHIP_COLUMNS = ("org_id", "connection_id", "source_id", "target_id", "kind")


def insert_rows(model, columns: tuple[str, ...], rows: Iterable[tuple], *, returning: tuple[str, ...] = ()) -> list:
    """Insert prepared values (JSON already dumped, datetimes adapted by the caller), streamed from
    ``rows``. PostgreSQL: COPY (straight into the table, or through a temporary table when ids must come
    back). Elsewhere: multi-row INSERTs with RETURNING (SQLite 3.35+).

    Django's bulk_create spends ~150 µs per object building the instance and preparing each field, and a
    multi-row INSERT makes psycopg parse every placeholder: at 100,000 resources either was most of the
    write."""
    if db_connection.vendor == "postgresql":
        return _copy_rows(model, columns, rows, returning)
    opts = model._meta
    quote = db_connection.ops.quote_name
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    head = f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(c) for c in columns)}) VALUES "  # noqa: S608 (names from the model)
    tail = f" RETURNING {', '.join(quote(c) for c in returning)}" if returning else ""
    max_params = db_connection.features.max_query_params or 65535
    batch = max(1, min(BATCH_SIZE, max_params // len(columns)))
    out: list = []
    with db_connection.cursor() as cursor:
        for chunk in _chunks(rows, batch):
            cursor.execute(head + ", ".join([placeholder] * len(chunk)) + tail, [v for row in chunk for v in row])
            if returning:
                out.extend(cursor.fetchall())
    return out


def _copy_rows(model, columns: tuple[str, ...], rows: Iterable[tuple], returning: tuple[str, ...]) -> list:
    quote = db_connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    with db_connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own: Django's wrapper has no copy()
        if not returning:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # noqa: S608 (names from the model)
                for row in rows:
                    copy.write_row(row)
            return []
        # COPY returns nothing: stage the rows in a temporary table (no index, no WAL), then one
        # INSERT ... SELECT gives the ids back.
        stage = quote(f"stage_{model._meta.db_table}")
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(f"CREATE TEMPORARY TABLE {stage} AS SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
        try:
            with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:  # noqa: S608
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "  # noqa: S608
                f"RETURNING {', '.join(quote(c) for c in returning)}"
            )
            return cursor.fetchall()
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")


@dataclass(frozen=True)
class _WriteContext:
    """What every row a run writes shares (org, connection, run, one timestamp), and how it maps a
    stored resource to the unit that may replace it."""

    connection: Any
    run_id: int
    now: datetime
    db_now: Any  # ``now`` adapted once for the raw INSERTs (``_db_time``)
    regional: dict[str, bool]

    @property
    def org_id(self) -> int:
        return self.connection.org_id

    @property
    def connection_id(self) -> int:
        return self.connection.pk

    def scope_of(self, rtype: str, region: str, native_id: str) -> tuple[str, str] | None:
        if rtype not in self.regional:
            return None  # no collector for this type any more: never touched
        return (rtype, scope_region(rtype, region, native_id))

    def change(self, resource_id, rtype: str, native_id: str, name: str, kind: str, diff: dict | None = None) -> tuple:
        return (
            self.org_id,
            self.connection_id,
            self.run_id,
            resource_id,
            rtype,
            native_id,
            name,
            kind,
            json.dumps(diff) if diff else "{}",
            self.db_now,
        )


# A collected record with its (content, volatile) hashes.
_Collected = tuple[ResourceRecord, str, str]
_Scope = tuple[str, str]

# Resources created, updated or deleted per transaction (a "part"). A part commits on its own, so a
# sync of a million resources never holds one huge transaction open (it would hold back vacuum for
# every tenant); a scope is never half-replaced: its deletions go in the part that writes its last rows.
WRITE_PART_ROWS = 20_000
SAVED_PARTS = "saved_parts"  # the run's ``counts`` while it writes: parts committed (see _mark_part_saved)


@dataclass
class _Work:
    """Writes to make: the whole plan's, one scope's or one part's. Items carry their native id (and
    their change event): ``modified`` (native id, row, change), ``refreshed`` and ``rehashed`` (native id,
    row), ``deleted`` (id, native id, scope, change); rows are ``(id, *values)`` in the order of
    MODIFIED_FIELDS / REFRESHED_FIELDS / REHASHED_FIELDS."""

    created: list[_Collected] = field(default_factory=list)
    modified: list[tuple] = field(default_factory=list)
    refreshed: list[tuple] = field(default_factory=list)  # only volatile values moved: no change event
    rehashed: list[tuple] = field(default_factory=list)  # nothing stored moved (relationships, or no hash yet)
    deleted: list[tuple] = field(default_factory=list)
    scopes: set[_Scope] = field(default_factory=set)  # a part's: the scopes it writes to

    def size(self) -> int:
        return len(self.created) + len(self.modified) + len(self.refreshed) + len(self.rehashed) + len(self.deleted)


@dataclass
class _ResourcePlan:
    """How the stored resources become the collected ones, decided before anything is written."""

    work: _Work = field(default_factory=_Work)
    suspects: list[tuple[int, str]] = field(default_factory=list)  # (id, native id): content hash moved
    # Every resource kept; a created one from when its row is written (a relationship needs both ends).
    id_by_native: dict[str, int] = field(default_factory=dict)
    final_counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, region) → resources
    relink: set[str] = field(default_factory=set)  # stored sources (native ids) whose relationships are rebuilt
    pointing_at: dict[str, set[str]] = field(default_factory=dict)  # created native id → the sources naming it


def _records_by_native_id(fetch: FetchResult, summary: WriteSummary) -> dict[str, _Collected]:
    """The new state of the collected scopes, keyed by native id: built before anything is written."""
    new: dict[str, _Collected] = {}
    for result in fetch.collected():
        hashes = result.hashes
        if len(hashes) != len(result.records):
            hashes = [hash_record(record) for record in result.records]
        for record, (content, volatile) in zip(result.records, hashes, strict=True):
            if not record.native_id or len(record.native_id) > 2048 or record.native_id in new:
                summary.skipped += 1  # no id, or the same resource twice in one run
                continue
            new[record.native_id] = (record, content, volatile)
    return new


def _lock_run_for_write(run: SyncRun, *, first: bool) -> None:
    """Hold the run's row until the part commits: a run reaped meanwhile writes no further part, and a
    cancel requested before the first part writes nothing (after it, the write goes to its end)."""
    current_run = SyncRun.objects.unscoped().select_for_update().get(pk=run.pk)
    if first and current_run.cancel_requested:
        raise WriteAborted(S.CANCELLED)
    if current_run.status != S.RUNNING:
        raise WriteAborted(current_run.status)


def _plan_resources(
    ctx: _WriteContext,
    stored: Iterable[tuple],
    new: dict[str, _Collected],
    collected_scopes: set[tuple[str, str]],
    summary: WriteSummary,
) -> _ResourcePlan:
    """Compare the stored resources' hashes with the collected ones' in one pass, without writing."""
    plan = _ResourcePlan()
    work = plan.work
    seen: set[str] = set()
    for pk, native_id, rtype, region, name, content_hash, volatile_hash in stored:
        item = new.get(native_id)
        if item is None:
            scope = ctx.scope_of(rtype, region, native_id)
            if scope in collected_scopes:
                change = ctx.change(None, rtype, native_id, name, ResourceChange.Kind.DELETED)
                work.deleted.append((pk, native_id, scope, change))
            else:
                plan.id_by_native[native_id] = pk
                plan.final_counts[(rtype, region)] += 1
            continue
        record, content, volatile = item
        seen.add(native_id)
        plan.id_by_native[native_id] = pk
        plan.final_counts[(record.resource_type, record.region)] += 1
        if content != content_hash:
            plan.suspects.append((pk, native_id))  # changed, or never hashed: diffed in full
            continue
        summary.unchanged += 1
        if volatile != volatile_hash:
            # Only values that change on every read moved: store them (rules read them), no change event.
            work.refreshed.append((native_id, (pk, record.config, ctx.now, ctx.now, content, volatile)))
    work.created = [item for native_id, item in new.items() if native_id not in seen]
    return plan


def _diff_suspects(ctx: _WriteContext, plan: _ResourcePlan, new: dict[str, _Collected], summary: WriteSummary) -> None:
    """Load the rows whose content hash moved, a chunk at a time, and sort them into modified (with a
    field-level change event), refreshed (volatile values only) and rehashed (nothing stored moved)."""
    resources = Resource.objects.for_org(ctx.org_id)
    fields = ("id", "resource_type", "region", "name", "tags", "config")
    work = plan.work
    for chunk in _chunks(plan.suspects):
        native_by_pk = dict(chunk)
        for pk, rtype, region, name, tags, config in resources.filter(pk__in=list(native_by_pk)).values_list(*fields):
            native_id = native_by_pk[pk]
            record, content, volatile = new[native_id]
            plan.relink.add(native_id)  # its relationships may be what moved
            same_place = rtype == record.resource_type and region == record.region
            if same_place and name == record.name and tags == record.tags and config == record.config:
                summary.unchanged += 1
                work.rehashed.append((native_id, (pk, content, volatile)))
                continue
            keys = volatile_keys(record.resource_type)
            diff = resource_diff(
                {"name": name, "tags": tags, "config": strip_volatile(config, keys)},
                {"name": record.name, "tags": record.tags, "config": strip_volatile(record.config, keys)},
            )
            if not diff and same_place:
                summary.unchanged += 1
                work.refreshed.append((native_id, (pk, record.config, ctx.now, ctx.now, content, volatile)))
                continue
            row = (pk, record.resource_type, record.region, record.name, record.tags, record.config)
            change = ctx.change(pk, record.resource_type, native_id, record.name, ResourceChange.Kind.MODIFIED, diff)
            work.modified.append((native_id, (*row, ctx.now, ctx.now, content, volatile), change))
    plan.suspects = []


def _hold_to_resource_limit(org, plan: _ResourcePlan, new: dict[str, _Collected], outcome: Outcome) -> None:
    """The plan's resource limit (billing): new resources are stored while the organization has room;
    everything already stored is kept and updated. The run's warnings say what was left out and why."""
    work = plan.work
    room = limits.remaining(org, "resources")
    if room is None or len(work.created) <= room + len(work.deleted):
        return
    room += len(work.deleted)  # resources this run removes free their places
    left_out = work.created[room:]
    work.created = work.created[:room]
    for record, _content, _volatile in left_out:
        del new[record.native_id]
    outcome.warnings.append(
        limits.resources_left_out_warning(org, Counter(record.resource_type for record, _, _ in left_out))
    )


def _note_created(plan: _ResourcePlan, new: dict[str, _Collected]) -> None:
    """Count the resources to create, and note which collected records point at them: a source whose
    target is created by this run gets its relationships rebuilt when the target's row is written."""
    created = set()
    for record, _content, _volatile in plan.work.created:
        plan.final_counts[(record.resource_type, record.region)] += 1
        created.add(record.native_id)
    if not created:
        return
    pointing_at: dict[str, set[str]] = defaultdict(set)
    for native_id, (record, _content, _volatile) in new.items():
        for rel in record.relations:
            if rel.target_native_id in created:
                pointing_at[rel.target_native_id].add(native_id)
    plan.pointing_at = pointing_at


def _split_into_parts(ctx: _WriteContext, plan: _ResourcePlan, new: dict[str, _Collected], limit: int) -> list[_Work]:
    """The plan's work by scope, packed into parts of about ``limit`` rows each. A scope larger than a
    part spans several; its deletions go in the part that writes its last rows (never before them, never
    split). Scopes whose new records point at nothing go first: their rows are then in place when the
    records pointing at them are written."""
    by_scope: dict[_Scope, _Work] = defaultdict(_Work)
    work = plan.work

    def scope_of(native_id: str) -> _Scope:
        record = new[native_id][0]
        return ctx.scope_of(record.resource_type, record.region, native_id) or (record.resource_type, record.region)

    for item in work.created:
        by_scope[scope_of(item[0].native_id)].created.append(item)
    for name in ("modified", "refreshed", "rehashed"):
        for item in getattr(work, name):
            getattr(by_scope[scope_of(item[0])], name).append(item)
    for item in work.deleted:
        by_scope[item[2]].deleted.append(item)
    plan.work = _Work()  # the parts hold the items from here on

    def order(scope: _Scope) -> tuple[bool, _Scope]:
        return (any(record.relations for record, _, _ in by_scope[scope].created), scope)

    parts = [_Work()]
    for scope in sorted(by_scope, key=order):
        scope_work = by_scope.pop(scope)
        for name in ("created", "modified", "refreshed", "rehashed"):
            items = getattr(scope_work, name)
            start = 0
            while start < len(items):
                if parts[-1].size() >= limit:
                    parts.append(_Work())
                room = limit - parts[-1].size()
                getattr(parts[-1], name).extend(items[start : start + room])
                parts[-1].scopes.add(scope)
                start += room
        if scope_work.deleted:
            if parts[-1].size() >= limit and scope not in parts[-1].scopes:
                parts.append(_Work())
            parts[-1].deleted.extend(scope_work.deleted)
            parts[-1].scopes.add(scope)
    return parts


def _allocate_ids(model, count: int) -> list[int]:
    """``count`` ids from the table's own sequence (PostgreSQL): rows COPY'd with them need no read back."""
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count])
        return [row[0] for row in cursor.fetchall()]


def _insert_created(ctx: _WriteContext, plan: _ResourcePlan, created: list[_Collected]) -> list[int]:
    """Insert a part's new resources and record their ids (relationships and change events need them)."""
    if not created:
        return []
    rows = (
        (
            ctx.org_id,
            ctx.connection_id,
            ctx.connection.provider,
            r.resource_type,
            r.native_id,
            r.region,
            r.name,
            json.dumps(r.tags),
            json.dumps(r.config),
            ctx.db_now,
            ctx.db_now,
            ctx.db_now,
            content,
            volatile,
        )
        for r, content, volatile in created
    )
    if db_connection.vendor == "postgresql":
        ids = _allocate_ids(Resource, len(created))
        insert_rows(Resource, ("id", *RESOURCE_COLUMNS), ((pk, *row) for pk, row in zip(ids, rows, strict=True)))
        plan.id_by_native.update(zip((r.native_id for r, _, _ in created), ids, strict=True))
        return ids
    returned = insert_rows(Resource, RESOURCE_COLUMNS, rows, returning=("id", "native_id"))
    plan.id_by_native.update((native_id, pk) for pk, native_id in returned)
    return [plan.id_by_native[r.native_id] for r, _, _ in created]


def _created_changes(ctx: _WriteContext, plan: _ResourcePlan, created: list[_Collected]) -> Iterable[tuple]:
    """The "created" change rows, made as they are written (a first sync has as many as resources)."""
    for r, _content, _volatile in created:
        pk = plan.id_by_native[r.native_id]
        yield ctx.change(pk, r.resource_type, r.native_id, r.name, ResourceChange.Kind.CREATED)


def _delete_resources(ctx: _WriteContext, deleted: list[tuple], written: WriteSummary) -> None:
    """Delete the resources gone from collected scopes; their relationships go with them (CASCADE), so
    the resources on the other end are noted for the rules first."""
    rels = Relationship.objects.for_org(ctx.org_id).filter(connection=ctx.connection)
    for chunk in _chunks(deleted):
        ids = [item[0] for item in chunk]
        gone = set(ids)
        for source_id, target_id in rels.filter(Q(source_id__in=ids) | Q(target_id__in=ids)).values_list(
            "source_id", "target_id"
        ):
            written.relinked_ids.update({source_id, target_id} - gone)
        Resource.objects.for_org(ctx.org_id).filter(pk__in=ids).delete()
        written.deleted_native_ids.update(item[1] for item in chunk)


RELINK_BY_CHUNKS = 20_000  # fewer sources to relink than this: read their relationships by id chunks


def _sources_to_relink(plan: _ResourcePlan, part: _Work) -> set[str]:
    """A part's sources whose relationships are rebuilt: its new ones, its stored ones whose content hash
    moved (its relations are hashed), and every source already written that points at a resource this
    part creates (a target unresolved until now). The others' relationships cannot have changed."""
    created = [record.native_id for record, _, _ in part.created]
    sources = set(created)
    for native_id, *_ in chain(part.modified, part.refreshed, part.rehashed):
        if native_id in plan.relink:
            sources.add(native_id)
    for target in created:
        sources.update(s for s in plan.pointing_at.get(target, ()) if s in plan.id_by_native)
    return sources


def _rebuild_relationships(
    ctx: _WriteContext, new: dict[str, _Collected], plan: _ResourcePlan, part: _Work, written: WriteSummary
) -> None:
    """Relationships belong to their source: each source to relink gets those of its record whose target
    is in the inventory now; a target written by a later part relinks its sources then."""
    sources = _sources_to_relink(plan, part)
    if not sources:
        return
    id_by_native = plan.id_by_native
    desired: set[tuple[int, int, str]] = set()
    for native_id in sources:
        source_id = id_by_native[native_id]
        for rel in new[native_id][0].relations:
            target_id = id_by_native.get(rel.target_native_id)
            if target_id is not None:
                desired.add((source_id, target_id, rel.kind[:64]))
    rels = Relationship.objects.for_org(ctx.org_id).filter(connection=ctx.connection)
    fields = ("id", "source_id", "target_id", "kind")
    created_here = {id_by_native[record.native_id] for record, _, _ in part.created}
    stored_sources = {id_by_native[native_id] for native_id in sources} - created_here  # new rows have none yet
    if not stored_sources:
        stored: Iterable[tuple] = ()
    elif len(stored_sources) < RELINK_BY_CHUNKS:
        stored = (
            row
            for chunk in _chunks(sorted(stored_sources))
            for row in rels.filter(source_id__in=chunk).values_list(*fields)
        )
    else:
        stored = (row for row in rels.values_list(*fields).iterator(chunk_size=10_000) if row[1] in stored_sources)
    existing: set[tuple[int, int, str]] = set()
    stale: list[int] = []
    for rel_id, source_id, target_id, kind in stored:
        existing.add((source_id, target_id, kind))
        if (source_id, target_id, kind) not in desired:
            stale.append(rel_id)
            written.relinked_ids.update((source_id, target_id))
    for chunk in _chunks(stale):
        Relationship.objects.for_org(ctx.org_id).filter(pk__in=chunk).delete()
    added = sorted(desired - existing)
    for source_id, target_id, _kind in added:
        written.relinked_ids.update((source_id, target_id))
    insert_rows(Relationship, RELATIONSHIP_COLUMNS, ((ctx.org_id, ctx.connection_id, s, t, k) for s, t, k in added))
    written.relationships_created += len(added)
    written.relationships_deleted += len(stale)


def _write_part(ctx: _WriteContext, plan: _ResourcePlan, new: dict[str, _Collected], part: _Work) -> WriteSummary:
    """One part's rows, deletions, relationships and change events (inside its transaction); returns
    what it wrote."""
    written = WriteSummary()
    created_ids = _insert_created(ctx, plan, part.created)
    update_resources(ctx.org_id, MODIFIED_FIELDS, [row for _native_id, row, _change in part.modified])
    update_resources(ctx.org_id, REFRESHED_FIELDS, [row for _native_id, row in part.refreshed])
    update_resources(ctx.org_id, REHASHED_FIELDS, [row for _native_id, row in part.rehashed])
    _delete_resources(ctx, part.deleted, written)
    _rebuild_relationships(ctx, new, plan, part, written)
    events = chain((item[-1] for item in part.deleted), (change for _native_id, _row, change in part.modified))
    insert_rows(ResourceChange, CHANGE_COLUMNS, chain(events, _created_changes(ctx, plan, part.created)))
    written.created, written.modified, written.deleted = len(part.created), len(part.modified), len(part.deleted)
    written.created_ids.update(created_ids)
    written.changed_ids.update(created_ids)
    written.changed_ids.update(row[0] for _native_id, row, _change in part.modified)
    written.changed_ids.update(row[0] for _native_id, row in part.refreshed)
    return written


def _count_unresolved(new: dict[str, _Collected], id_by_native: dict[str, int]) -> int:
    """Relations whose target is not in the inventory once everything is written (skipped)."""
    return sum(
        1 for record, _, _ in new.values() for rel in record.relations if rel.target_native_id not in id_by_native
    )


def _replace_daily_counts(ctx: _WriteContext, final_counts: Counter[tuple[str, str]]) -> None:
    """Today's per-(type, region) counts for the connection: a second sync the same day overwrites them."""
    today = ctx.now.date()
    DailyCount.objects.for_org(ctx.org_id).filter(connection=ctx.connection, date=today).delete()
    DailyCount.objects.bulk_create(
        [
            DailyCount(
                org_id=ctx.org_id, connection_id=ctx.connection_id, date=today, resource_type=t, region=r, count=n
            )
            for (t, r), n in sorted(final_counts.items())
        ],
        batch_size=BATCH_SIZE,
    )


def _stored_counts(ctx: _WriteContext) -> Counter[tuple[str, str]]:
    """Per-(type, region) counts of what the connection's inventory holds (after a write that stopped)."""
    rows = (
        Resource.objects.for_org(ctx.org_id)
        .filter(connection=ctx.connection)
        .values_list("resource_type", "region")
        .annotate(n=Count("id"))
        .order_by()
    )
    return Counter({(rtype, region): n for rtype, region, n in rows})


def _change_counts(run_id: int) -> Counter[str]:
    """The run's change events by kind: its exact counts when an earlier attempt of it saved parts."""
    rows = ResourceChange.objects.unscoped().filter(sync_run_id=run_id).values_list("kind").annotate(n=Count("id"))
    return Counter(dict(rows.order_by()))


def _record_finished_run(
    run: SyncRun, fetch: FetchResult, outcome: Outcome, summary: WriteSummary, runs=None, **instead: Any
) -> None:
    """Finish the run inside the last part's transaction: its status never says done for an uncommitted
    inventory. ``runs``: the run's queryset to update (a narrower one: ``_record_partly_saved``);
    ``instead``: fields recorded otherwise than the outcome says."""
    runs = runs if runs is not None else SyncRun.objects.unscoped().filter(pk=run.pk)
    fields = {
        "status": outcome.status,
        "finished_at": timezone.now(),
        "heartbeat_at": timezone.now(),
        "progress_done": len(fetch.results),
        "counts": outcome.counts,
        "resource_count": outcome.resource_count,
        "api_calls": fetch.api_calls,
        "created_count": summary.created,
        "modified_count": summary.modified,
        "deleted_count": summary.deleted,
        "unresolved_relations": summary.unresolved,
        "warnings": outcome.warnings,
        "coverage": outcome.coverage,
        "completeness_percent": outcome.completeness,
    }
    runs.update(**(fields | instead))


def _beat(run: SyncRun, **fields: Any) -> None:
    """The run's heartbeat during the write (planning a million resources takes a while), and the
    connection's lock kept."""
    SyncRun.objects.unscoped().filter(pk=run.pk, status=S.RUNNING).update(heartbeat_at=timezone.now(), **fields)
    key = lock_key(run.connection_id)
    if cache.get(key) == run.pk:
        cache.touch(key, lock_ttl())


def _mark_part_saved(run: SyncRun, parts: int) -> None:
    """The heartbeat between parts, in the part's transaction: the run is alive, and it has committed
    ``parts`` parts (so a later attempt knows the inventory moved without an evaluation: see
    ``_stalled_write_since_last_run``)."""
    _beat(run, counts={SAVED_PARTS: parts})


def saved_parts(run_id: int) -> int:
    """How many parts of its write the run committed without finishing it (0 for any other run)."""
    counts = SyncRun.objects.unscoped().filter(pk=run_id).values_list("counts", flat=True).first()
    return int(counts.get(SAVED_PARTS) or 0) if isinstance(counts, dict) else 0


def _stalled_write_since_last_run(run: SyncRun) -> bool:
    """Another run of the connection, since the last one that finished a write, committed parts of its
    write and never finished it (reaped, its worker lost): nothing evaluated what it wrote."""
    runs = SyncRun.objects.unscoped().filter(connection_id=run.connection_id).exclude(pk=run.pk)
    last = runs.filter(status__in=SyncRun.WROTE_INVENTORY).order_by("-finished_at", "-id").values_list("pk", flat=True)
    stalled = runs.exclude(status__in=SyncRun.WROTE_INVENTORY).filter(counts__has_key=SAVED_PARTS)
    if (last_pk := last.first()) is not None:
        stalled = stalled.filter(pk__gt=last_pk)
    return stalled.exists()


def _record_partly_saved(
    run: SyncRun, ctx: _WriteContext, fetch: FetchResult, outcome: Outcome, summary: WriteSummary, unsaved: set, exc
) -> None:
    """A write that failed after committing parts: the run is partial, and its coverage says which
    scopes were saved (collected) and which were not (error: their previous inventory is kept, plus any
    new row a part already wrote). Rules then treat the unsaved scopes as not evaluated."""
    coverage = {rtype: dict(by_scope) for rtype, by_scope in outcome.coverage.items()}
    warnings = list(outcome.warnings)
    message = "Collected, but saving it failed: its previous inventory is kept."
    for rtype, scope in sorted(unsaved):
        if coverage.get(rtype, {}).get(scope) == COLLECTED:
            coverage[rtype][scope] = ERROR
            warnings.append({"type": rtype, "region": scope, "status": ERROR, "code": "not_saved", "message": message})
    collected = sum(1 for by_scope in coverage.values() for status in by_scope.values() if status == COLLECTED)
    planned = len(fetch.units)
    error = _error(
        type(exc).__name__,
        "Saving the inventory failed partway: the scopes marked not saved keep their previous inventory.",
    )
    with transaction.atomic():
        _replace_daily_counts(ctx, _stored_counts(ctx))
        _record_finished_run(
            run,
            fetch,
            outcome,
            summary,
            runs=SyncRun.objects.unscoped().filter(pk=run.pk, status=S.RUNNING),
            status=S.PARTIAL,
            warnings=warnings[:MAX_LISTED_WARNINGS],
            errors=error,
            coverage=coverage,
            completeness_percent=round(100.0 * collected / planned, 1) if planned else 0.0,
        )


class WritePartlySaved(Exception):
    """The write failed after committing some of its parts; the run was recorded as partial."""

    def __init__(self, summary: WriteSummary) -> None:
        super().__init__("the inventory was partly saved")
        self.summary = summary


ANALYZE_AFTER_ROWS = 5000  # rows inserted or deleted by one write before PostgreSQL's statistics are refreshed
# What the pages join, filter and sort by: the row counts and these columns' statistics are what a plan
# over a table that grew tenfold needs (without them, a resource's changes were found by intersecting
# the organization's million). Autovacuum's own ANALYZE, soon after such a write, does the other columns
# (JSON, hashes: three quarters of the time of a full ANALYZE).
ANALYZED_COLUMNS = {
    Resource: ("id", "org_id", "connection_id", "resource_type", "region", "name", "last_seen"),
    Relationship: ("id", "org_id", "connection_id", "source_id", "target_id", "kind"),
    ResourceChange: ("org_id", "connection_id", "resource_id", "sync_run_id", "created_at"),
}


def _analyze_after_large_write(summary: WriteSummary) -> None:
    """Refresh the planner's statistics after a large write (a first sync of a big account): until
    autovacuum gets to it, a query over the new rows may be planned for an empty table (a nested loop over
    100,000 relationships)."""
    rows = summary.created + summary.deleted + summary.relationships_created + summary.relationships_deleted
    analyze_after_large_write(rows, ANALYZED_COLUMNS)


def analyze_after_large_write(rows: int, columns_by_model: Mapping[Any, Iterable[str]]) -> None:
    """After a write of ``rows`` rows, at least ANALYZE_AFTER_ROWS: refresh the statistics of the columns
    queries filter, join and sort by (PostgreSQL; the inventory's writes and the findings engine's)."""
    if db_connection.vendor != "postgresql" or rows < ANALYZE_AFTER_ROWS:
        return
    quote = db_connection.ops.quote_name
    tables = ", ".join(
        f"{quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)})"
        for model, columns in columns_by_model.items()
    )
    with db_connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def _relax_commit_durability() -> None:
    """Let this transaction's commit return before its WAL reaches the disk (PostgreSQL only, this
    transaction only). A crash in that instant loses the part, or the run's end: the run is then reaped
    (or restarted) and the inventory re-collected, never half-written. For a bulk write of
    re-collectable data, waiting for the flush (a large share of a first sync) buys nothing."""
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _db_time(now: datetime) -> Any:
    """``now`` as the raw INSERTs take it. COPY parses text: formatted once here, rather than psycopg
    formatting a datetime for each of the three timestamps of every row (a third of a first sync's
    Python time in the resources' COPY)."""
    if db_connection.vendor == "postgresql":
        return now.isoformat()
    return db_connection.ops.adapt_datetimefield_value(now)


@contextmanager
def _records_left_out_of_collections() -> Iterator[None]:
    """The fetched records (millions of small objects) live through the whole write: a full garbage
    collection, triggered by the rows the write makes, would walk them all again and again for nothing.
    Frozen meanwhile (``gc.freeze``): the collector skips them; released when the write ends."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def write_inventory(run: SyncRun, connection, fetch: FetchResult, outcome: Outcome) -> WriteSummary:
    """Replace the collected scopes of the connection's inventory and finish the run (see ``_write``)."""
    with _records_left_out_of_collections():
        return _write(run, connection, fetch, outcome)


def _write(run: SyncRun, connection, fetch: FetchResult, outcome: Outcome) -> WriteSummary:
    """Replace the collected scopes of the connection's inventory and finish the run: planned first
    (reads only), then written in parts of about WRITE_PART_ROWS resources, each its own transaction;
    the last one finishes the run.

    A part that fails after others committed leaves them (whole scopes, each with its deletions) and
    records the run as partial (``WritePartlySaved``); a worker lost between parts leaves them too, and
    a later attempt converges (what a part wrote is then unchanged) with its counts from the run's
    change events. The delta for the rules is then unknown (None): they evaluate everything."""
    now = timezone.now()
    ctx = _WriteContext(
        connection=connection,
        run_id=run.pk,
        now=now,
        db_now=_db_time(now),
        regional=_regional_by_type(connection.provider),
    )
    summary = WriteSummary()
    resumed = saved_parts(run.pk) > 0  # an earlier attempt of this run committed parts
    summary.delta_known = not resumed and not _stalled_write_since_last_run(run)
    new = _records_by_native_id(fetch, summary)

    resources = Resource.objects.for_org(ctx.org_id).filter(connection=connection)
    fields = ("id", "native_id", "resource_type", "region", "name", "content_hash", "volatile_hash")
    stored = resources.values_list(*fields).iterator(chunk_size=10_000)
    plan = _plan_resources(ctx, stored, new, outcome.collected_scopes, summary)
    _hold_to_resource_limit(run.org, plan, new, outcome)
    _diff_suspects(ctx, plan, new, summary)
    _note_created(plan, new)
    parts = _split_into_parts(ctx, plan, new, WRITE_PART_ROWS)
    _beat(run)

    totals = summary
    for index, part in enumerate(parts):
        try:
            with transaction.atomic():
                _lock_run_for_write(run, first=index == 0)
                _relax_commit_durability()
                written = _write_part(ctx, plan, new, part)
                if index == len(parts) - 1:
                    totals = _finish_write(run, ctx, fetch, outcome, plan, new, summary, written, resumed)
                else:
                    _mark_part_saved(run, index + 1)
        except WriteAborted:
            raise
        except Exception as exc:
            if index == 0:
                raise  # nothing committed: the previous inventory is whole
            unsaved = set().union(*(p.scopes for p in parts[index:]))
            _record_partly_saved(run, ctx, fetch, outcome, summary, unsaved, exc)
            raise WritePartlySaved(summary) from exc
        summary.add(written)
        parts[index] = _Work()  # written: its items can go
    if resumed:
        # What an earlier attempt wrote is unchanged now: the run's change events count it.
        earlier = totals.created - summary.created + totals.modified - summary.modified
        summary.unchanged = max(0, summary.unchanged - earlier)
        summary.created, summary.modified, summary.deleted = totals.created, totals.modified, totals.deleted
    _analyze_after_large_write(summary)
    return summary


def _finish_write(
    run: SyncRun,
    ctx: _WriteContext,
    fetch: FetchResult,
    outcome: Outcome,
    plan: _ResourcePlan,
    new: dict[str, _Collected],
    summary: WriteSummary,
    written: WriteSummary,
    resumed: bool,
) -> WriteSummary:
    """The last part's end: unresolved relations, today's counts and the finished run, whose counts
    (returned) are the run's change events when an earlier attempt of it saved parts."""
    summary.unresolved = _count_unresolved(new, plan.id_by_native)
    _replace_daily_counts(ctx, plan.final_counts)
    totals = WriteSummary(
        created=summary.created + written.created,
        modified=summary.modified + written.modified,
        deleted=summary.deleted + written.deleted,
        unresolved=summary.unresolved,
    )
    if resumed:
        events = _change_counts(run.pk)
        totals.created = events[ResourceChange.Kind.CREATED]
        totals.modified = events[ResourceChange.Kind.MODIFIED]
        totals.deleted = events[ResourceChange.Kind.DELETED]
    _record_finished_run(run, fetch, outcome, totals)
    return totals


# --- the run -------------------------------------------------------------------------------------


def _finish(run: SyncRun, status: str, **fields: Any) -> SyncRun:
    now = timezone.now()
    SyncRun.objects.unscoped().filter(pk=run.pk).update(status=status, finished_at=now, heartbeat_at=now, **fields)
    run.refresh_from_db()
    return run


def _error(code: str, message: str) -> list[dict]:
    return [{"type": "", "region": "", "code": code, "message": _clean(message)}]


def run_sync(run_id: int, *, connection_id: int | None = None, task_id: str = "") -> SyncRun | None:
    """Execute a queued sync run to its end. Idempotent: a finished run is returned as it is.
    Raises SyncBusy when another worker holds the connection's lock for this same run."""
    run = SyncRun.objects.unscoped().select_related("connection", "org").filter(pk=run_id).first()
    if run is None or (connection_id is not None and run.connection_id != connection_id):
        logger.warning("sync run %s (connection %s) not found", run_id, connection_id)
        return None
    if not run.is_active:
        return run
    lock = SyncLock(run.connection_id, run.pk)
    if not lock.acquire():
        raise SyncBusy(retry_after=lock_ttl())
    try:
        return _run_locked(run, lock, task_id)
    finally:
        lock.release()


def _run_locked(run: SyncRun, lock: SyncLock, task_id: str) -> SyncRun:
    now = timezone.now()
    started = SyncRun.objects.unscoped().filter(pk=run.pk, status__in=S_ACTIVE)
    if not started.update(status=S.RUNNING, started_at=now, heartbeat_at=now, celery_task_id=task_id[:255]):
        run.refresh_from_db()
        return run  # cancelled or reaped meanwhile
    run.refresh_from_db()
    connection = run.connection
    control = RunControl(run, lock)
    if control.is_cancelled():
        return _finish(run, S.CANCELLED)
    if not connection.enabled:
        return _finish(run, S.FAILED, errors=_error("disabled", "The connection is disabled."))
    if not provider_supported(connection.provider):
        return _finish(
            run,
            S.FAILED,
            errors=_error("unsupported", f"{connection.get_provider_display()} inventory is not available yet."),
        )

    written = _fetch_and_write(run, connection, lock, control)
    if written is None:
        return run  # it ended without writing (and was reloaded): nothing for the hooks
    run.refresh_from_db()
    # The fetched records went with _fetch_and_write's frame: the rules load the inventory again, and
    # holding both at once would double a large scan's peak memory.
    hooks.run_after_sync(run, _delta_of(run, written))
    return run


def _fetch_and_write(run: SyncRun, connection, lock: SyncLock, control: RunControl) -> WriteSummary | None:
    """Collect the connection's inventory and write it. Returns what the write did (the run saved all,
    or part, of it: the hooks follow), or None when the run ended without writing (``run`` reloaded)."""
    try:
        fetch = FETCHERS[connection.provider](connection, control)
    except FetchSetupError as exc:
        _finish(run, S.FAILED, errors=_error(exc.code, exc.message))
        return None
    except Exception as exc:
        logger.exception("sync run %s: fetch failed", run.pk)
        _finish(run, S.FAILED, errors=_error(type(exc).__name__, "The scan failed unexpectedly."))
        return None

    outcome = summarize(fetch)
    stats = {
        "api_calls": fetch.api_calls,
        "progress_done": len(fetch.results),
        "warnings": outcome.warnings,
        "coverage": outcome.coverage,
        "completeness_percent": outcome.completeness,
        "counts": outcome.counts,
        "resource_count": outcome.resource_count,
    }
    if fetch.cancelled or control.is_cancelled():
        _finish(run, S.CANCELLED, api_calls=fetch.api_calls, progress_done=len(fetch.results))
        return None
    if outcome.status == S.FAILED:
        message = "No resource type could be collected: see the warnings." if fetch.units else "Nothing to collect."
        _finish(run, S.FAILED, errors=_error("nothing_collected", message), **stats)
        return None

    lock.refresh()
    try:
        summary = write_inventory(run, connection, fetch, outcome)
    except WriteAborted as aborted:
        if aborted.status == S.CANCELLED:
            _finish(run, S.CANCELLED, api_calls=fetch.api_calls, progress_done=len(fetch.results))
        else:
            run.refresh_from_db()  # reaped meanwhile
        return None
    except WritePartlySaved as stopped:
        logger.error("sync run %s: saving the inventory failed partway", run.pk, exc_info=stopped.__cause__)
        return stopped.summary
    except Exception as exc:
        logger.exception("sync run %s: writing the inventory failed; the previous inventory is kept", run.pk)
        if saved_parts(run.pk):  # parts are committed: the run keeps its mark of them (_stalled_write_since_last_run)
            message = (
                "Saving the inventory failed partway: what was saved stays, the rest keeps the previous inventory."
            )
            stats.pop("counts")
            _finish(run, S.FAILED, errors=_error(type(exc).__name__, message), **stats)
            return None
        _finish(
            run,
            S.FAILED,
            errors=_error(type(exc).__name__, "Saving the inventory failed; the previous inventory is unchanged."),
            **stats,
        )
        return None
    logger.info(
        "sync run %s: %s, %s resources (%s created, %s modified, %s deleted), %s API calls, %.1f%% complete",
        run.pk,
        outcome.status,  # what _record_finished_run wrote
        outcome.resource_count,
        summary.created,
        summary.modified,
        summary.deleted,
        fetch.api_calls,
        outcome.completeness,
    )
    return summary


def _delta_of(run: SyncRun, summary: WriteSummary) -> hooks.InventoryDelta | None:
    """What the write changed, for the rules; None (evaluate everything) when that is not known."""
    return summary.delta(run.pk) if summary.delta_known else None


# --- maintenance -------------------------------------------------------------------------------


_LOST_MESSAGE = (
    "The scan stopped responding (its worker was lost); the inventory keeps what it had, with any part of "
    "this scan already saved."
)


def reap_stale_runs(now: datetime | None = None) -> int:
    """Mark failed the runs whose worker went silent (no heartbeat for SYNC_STALE_MINUTES) and the
    queued runs no worker picked up (SYNC_QUEUED_TIMEOUT_MINUTES). Returns how many."""
    now = now or timezone.now()
    silent_since = now - timedelta(minutes=settings.SYNC_STALE_MINUTES)
    queued_since = now - timedelta(minutes=settings.SYNC_QUEUED_TIMEOUT_MINUTES)
    runs = SyncRun.objects.unscoped()
    stale_running = runs.filter(status=S.RUNNING).filter(
        Q(heartbeat_at__lt=silent_since) | Q(heartbeat_at__isnull=True, started_at__lt=silent_since)
    )
    reaped = stale_running.update(
        status=S.FAILED,
        finished_at=now,
        errors=_error("worker_lost", _LOST_MESSAGE),
    )
    # A queued run waiting for its organization's slot beats at each look (inventory/tasks.py: wait_for_slot).
    never_started = Q(heartbeat_at__isnull=True, created_at__lt=queued_since) | Q(heartbeat_at__lt=queued_since)
    reaped += runs.filter(never_started, status=S.QUEUED).update(
        status=S.FAILED,
        finished_at=now,
        errors=_error("never_started", "No worker picked up the scan in time; nothing was changed."),
    )
    if reaped:
        logger.warning("reaped %s stale sync runs", reaped)
    return reaped
