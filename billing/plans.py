"""The plans, as data: the one place that says what each plan allows.

Prices live in Stripe; a plan only names its Stripe price ids, read from settings
(``BILLING_PRICE_IDS``), so test, demo and production accounts each point at their own prices.
A limit of ``None`` means unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

FREE = "free"
TEAM = "team"
BUSINESS = "business"

# Scan frequencies from the slowest to the fastest (connections.CloudConnection.ScanFrequency values).
# "manual" is always allowed; a plan allows its fastest frequency and everything slower.
FREQUENCY_ORDER: tuple[str, ...] = ("manual", "daily", "6h", "hourly")
FREQUENCY_LABELS: dict[str, str] = {
    "manual": "manual only",
    "daily": "daily",
    "6h": "every 6 hours",
    "hourly": "every hour",
}

# The countable limits (``billing.limits.ensure_within``) and how a page names them.
COUNTED_LIMITS: dict[str, str] = {
    "connections": "cloud connections",
    "resources": "resources inventoried",
    "members": "members",
    "automations": "automations",
}


@dataclass(frozen=True)
class Limits:
    connections: int | None
    resources: int | None
    members: int | None
    automations: int | None
    scan_frequency: str  # the fastest allowed, one of FREQUENCY_ORDER
    history_days: int  # scan runs, change events, finding events and daily counts older than this go

    def count_limit(self, limit: str) -> int | None:
        if limit not in COUNTED_LIMITS:
            raise ValueError(f"Unknown limit {limit!r}; one of {', '.join(COUNTED_LIMITS)}.")
        return getattr(self, limit)


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    tagline: str
    monthly_price: int  # whole currency units, for the plan page; Stripe's price is authoritative
    yearly_price: int
    limits: Limits
    rank: int  # higher is bigger: upgrades vs downgrades

    @property
    def is_free(self) -> bool:
        return self.key == FREE

    def price_id(self, interval: str) -> str:
        """The Stripe price id of this plan for ``interval`` ("month" or "year"); "" when unset."""
        return (getattr(settings, "BILLING_PRICE_IDS", {}).get(self.key) or {}).get(interval, "")

    @property
    def purchasable(self) -> bool:
        return not self.is_free and bool(self.price_id("month") or self.price_id("year"))


PLANS: dict[str, Plan] = {
    FREE: Plan(
        key=FREE,
        name="Free",
        tagline="One cloud account, to try Cloustral",
        monthly_price=0,
        yearly_price=0,
        limits=Limits(connections=1, resources=500, members=3, automations=1, scan_frequency="daily", history_days=30),
        rank=0,
    ),
    TEAM: Plan(
        key=TEAM,
        name="Team",
        tagline="A team's estate, scanned every 6 hours",
        monthly_price=99,
        yearly_price=990,
        limits=Limits(
            connections=10, resources=10_000, members=15, automations=20, scan_frequency="6h", history_days=180
        ),
        rank=1,
    ),
    BUSINESS: Plan(
        key=BUSINESS,
        name="Business",
        tagline="Large estates, hourly scans, two years of history",
        monthly_price=499,
        yearly_price=4990,
        limits=Limits(
            connections=100,
            resources=250_000,
            members=200,
            automations=200,
            scan_frequency="hourly",
            history_days=730,
        ),
        rank=2,
    ),
}


def get_plan(key: str) -> Plan:
    """The plan named ``key``; an unknown key (a plan retired from this table) is Free, never an error."""
    return PLANS.get(key, PLANS[FREE])


def plan_for_price(price_id: str) -> Plan | None:
    """The plan one of whose Stripe prices is ``price_id``, or None."""
    if not price_id:
        return None
    for plan in PLANS.values():
        if price_id in (plan.price_id("month"), plan.price_id("year")):
            return plan
    return None


def interval_for_price(price_id: str) -> str:
    for plan in PLANS.values():
        for interval in ("month", "year"):
            if price_id and plan.price_id(interval) == price_id:
                return interval
    return "month"


def frequency_allowed(limits: Limits, frequency: str) -> bool:
    if frequency == "manual":
        return True
    if frequency not in FREQUENCY_ORDER:
        return False
    return FREQUENCY_ORDER.index(frequency) <= FREQUENCY_ORDER.index(limits.scan_frequency)


def cheapest_plan_allowing(limit: str, needed: int | str) -> Plan | None:
    """The smallest plan whose ``limit`` allows ``needed`` (a count, or a frequency), for the message."""
    for plan in sorted(PLANS.values(), key=lambda p: p.rank):
        if limit == "scan_frequency":
            if frequency_allowed(plan.limits, str(needed)):
                return plan
            continue
        allowed = plan.limits.count_limit(limit)
        if allowed is None or allowed >= int(needed):
            return plan
    return None
