"""The plan page's figures: usage against each limit (counted through billing.usage's registry, so the
apps above billing are counted without billing importing them) and the plans side by side."""

from __future__ import annotations

from dataclasses import dataclass

from billing import usage
from billing.plans import COUNTED_LIMITS, FREQUENCY_LABELS, PLANS, Plan


@dataclass(frozen=True)
class UsageRow:
    limit: str
    label: str
    used: int
    allowed: int | None

    @property
    def percent(self) -> int:
        if not self.allowed:
            return 0
        return min(100, round(100 * self.used / self.allowed))

    @property
    def over(self) -> bool:
        return self.allowed is not None and self.used > self.allowed

    @property
    def full(self) -> bool:
        return self.allowed is not None and self.used >= self.allowed

    @property
    def high(self) -> float:
        return (self.allowed or 0) * 0.8


def usage_rows(org, plan: Plan) -> list[UsageRow]:
    counts = usage.usage_for(org)
    return [
        UsageRow(limit=limit, label=label.capitalize(), used=counts[limit], allowed=plan.limits.count_limit(limit))
        for limit, label in COUNTED_LIMITS.items()
    ]


def plan_cards(current: Plan) -> list[dict]:
    return [
        {
            "plan": plan,
            "current": plan.key == current.key,
            "upgrade": plan.rank > current.rank,
            "frequency": FREQUENCY_LABELS[plan.limits.scan_frequency],
        }
        for plan in sorted(PLANS.values(), key=lambda p: p.rank)
    ]
