"""A fair share of the workers between organizations: at most SYNC_MAX_CONCURRENT_PER_ORG scans of one
organization run at once, so one organization's hundred queued scans never hold every worker while
another's single scan waits behind them.

A scan that finds its organization's slots taken does not block its worker: the task queues itself again
a little later (``inventory/tasks.py``), and the worker takes the next message, another organization's
scan. A slot is a lease with an expiry, refreshed while the sync runs (``OrgSlot.kept``) and released
when it ends however it ends; a worker that dies stops refreshing it, and the slot frees itself once the
lease runs out (``SYNC_SLOT_LEASE_SECONDS``). A run's slot is named after the run, so the redelivery of a
run whose worker died takes its own slot back at once.

Two stores behind one interface, chosen from settings like the rate limits': Redis (a sorted set per
organization, holder → lease expiry, changed by atomic scripts on Redis's clock) when REDIS_URL is set,
else the process (the demo's threaded worker; eager tasks run in the caller and take no slot).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)


class SlotStore(Protocol):
    def acquire(self, org_id: int, holder: str, capacity: int, lease: float) -> bool:
        """Take a slot (or renew the holder's own) if fewer than ``capacity`` live leases are held."""
        ...

    def refresh(self, org_id: int, holder: str, lease: float) -> bool:
        """Extend the holder's live lease; False when it had expired (or was never held)."""
        ...

    def release(self, org_id: int, holder: str) -> None: ...

    def holders(self, org_id: int) -> set[str]:
        """The holders of live leases."""
        ...


class LocalSlots:
    """Slots in this process (``clock`` injectable for tests)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._leases: dict[int, dict[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, org_id: int) -> dict[str, float]:
        now = self._clock()
        leases = self._leases.setdefault(org_id, {})
        for holder in [h for h, expiry in leases.items() if expiry <= now]:
            del leases[holder]
        return leases

    def acquire(self, org_id: int, holder: str, capacity: int, lease: float) -> bool:
        with self._lock:
            leases = self._live(org_id)
            if holder not in leases and len(leases) >= capacity:
                return False
            leases[holder] = self._clock() + lease
            return True

    def refresh(self, org_id: int, holder: str, lease: float) -> bool:
        with self._lock:
            leases = self._live(org_id)
            if holder not in leases:
                return False
            leases[holder] = self._clock() + lease
            return True

    def release(self, org_id: int, holder: str) -> None:
        with self._lock:
            self._leases.get(org_id, {}).pop(holder, None)

    def holders(self, org_id: int) -> set[str]:
        with self._lock:
            return set(self._live(org_id))


# KEYS[1]: the organization's slots, a sorted set holder -> lease expiry (Redis time, seconds).
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
"""
# ARGV: holder, capacity, lease seconds.
ACQUIRE_SCRIPT = (
    _NOW
    + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
  return 1
end
return 0
"""
)
# ARGV: holder, lease seconds.
REFRESH_SCRIPT = (
    _NOW
    + """
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
  return 1
end
return 0
"""
)


class RedisSlots:
    def __init__(self, client: Any, *, prefix: str = "cloustral:org-slots:") -> None:
        self.client = client
        self.prefix = prefix
        self._acquire = client.register_script(ACQUIRE_SCRIPT)
        self._refresh = client.register_script(REFRESH_SCRIPT)

    def key(self, org_id: int) -> str:
        return f"{self.prefix}{org_id}"

    def acquire(self, org_id: int, holder: str, capacity: int, lease: float) -> bool:
        return bool(self._acquire(keys=[self.key(org_id)], args=[holder, capacity, lease]))

    def refresh(self, org_id: int, holder: str, lease: float) -> bool:
        return bool(self._refresh(keys=[self.key(org_id)], args=[holder, lease]))

    def release(self, org_id: int, holder: str) -> None:
        self.client.zrem(self.key(org_id), holder)

    def holders(self, org_id: int) -> set[str]:
        now = self.client.time()
        members = self.client.zrangebyscore(self.key(org_id), now[0] + now[1] / 1e6, "+inf")
        return {m.decode() if isinstance(m, bytes) else m for m in members}


_PROCESS_SLOTS = LocalSlots()


def default_store() -> SlotStore:
    if settings.REDIS_URL:
        from inventory.ratelimit import redis_client

        return RedisSlots(redis_client(settings.REDIS_URL))
    return _PROCESS_SLOTS


def retry_countdown() -> float:
    """When a scan that found no free slot looks again: spread out, so that waiting scans do not all
    come back at the same moment."""
    base = settings.SYNC_SLOT_RETRY_SECONDS
    return round(base * random.uniform(0.75, 1.25), 1)  # noqa: S311  (spreading, not security)


class OrgSlot:
    """One run's claim on one of its organization's slots. A capacity of 0 means no cap."""

    def __init__(
        self,
        org_id: int,
        run_id: int,
        *,
        store: SlotStore | None = None,
        capacity: int | None = None,
        lease: float | None = None,
    ) -> None:
        self.org_id = org_id
        self.holder = f"run:{run_id}"
        self.store = store if store is not None else default_store()
        self.capacity = settings.SYNC_MAX_CONCURRENT_PER_ORG if capacity is None else capacity
        self.lease = settings.SYNC_SLOT_LEASE_SECONDS if lease is None else lease

    def acquire(self) -> bool:
        if self.capacity <= 0:
            return True
        return self.store.acquire(self.org_id, self.holder, self.capacity, self.lease)

    def release(self) -> None:
        if self.capacity > 0:
            self.store.release(self.org_id, self.holder)

    @contextmanager
    def kept(self) -> Iterator[OrgSlot]:
        """Hold the (acquired) slot for the block: refreshed in the background every third of the lease,
        released at the end, whether the block returns or raises."""
        if self.capacity <= 0:
            yield self
            return
        stop = threading.Event()

        def keep() -> None:
            while not stop.wait(self.lease / 3):
                try:
                    if not self.store.refresh(self.org_id, self.holder, self.lease):
                        logger.warning("org %s: the slot of %s had expired; the scan goes on", self.org_id, self.holder)
                        self.store.acquire(self.org_id, self.holder, self.capacity, self.lease)
                except Exception:
                    logger.exception("org %s: could not refresh the slot of %s", self.org_id, self.holder)

        keeper = threading.Thread(target=keep, name=f"slot-{self.holder}", daemon=True)
        keeper.start()
        try:
            yield self
        finally:
            stop.set()
            keeper.join(timeout=5)
            try:
                self.release()
            except Exception:  # the lease then runs out by itself
                logger.exception("org %s: could not release the slot of %s", self.org_id, self.holder)
