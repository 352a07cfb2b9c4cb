"""Billing's part in the registries of the apps below it (wired in ``BillingConfig.ready``)."""

from __future__ import annotations

from orgs import limits as org_limits


def member_limit_check(org, adding: int) -> org_limits.Refusal | None:
    from billing.limits import LimitReached, ensure_within

    try:
        ensure_within(org, "members", adding)
    except LimitReached as refused:
        return org_limits.Refusal(message=refused.message, html=refused.html)
    return None


def connect() -> None:
    org_limits.register_member_check(member_limit_check)
