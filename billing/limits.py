"""Is this organization allowed to do that on its plan? Checked where the action happens (each app's
``actions.py``), never in templates.

    from billing.limits import LimitReached, ensure_within
    try:
        ensure_within(org, "connections")       # before adding one more
    except LimitReached as refused:
        form.add_error(None, refused.html)      # names the limit, links to the plan page
                                                # (.message: the same as plain text with the URL)

Counted limits: "connections", "resources", "members", "automations". The scan frequency is a
choice, checked with ``ensure_frequency_allowed``. The usage of apps above billing comes through
``billing.usage`` (a registry they fill).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.html import conditional_escape, format_html

from billing import usage
from billing.models import BillingAccount
from billing.plans import (
    COUNTED_LIMITS,
    FREE,
    FREQUENCY_LABELS,
    FREQUENCY_ORDER,
    PLANS,
    Limits,
    Plan,
    cheapest_plan_allowing,
    frequency_allowed,
)


class LimitReached(Exception):
    """An action would go over the organization's plan. ``message`` is for the person acting: it names
    the limit, the plan, and where to upgrade."""

    def __init__(
        self,
        limit: str,
        allowed: int | str | None,
        plan: Plan,
        *,
        org=None,
        current: int | None = None,
        wanted: str = "",
    ) -> None:
        self.limit = limit
        self.allowed = allowed
        self.plan = plan
        self.current = current
        self.upgrade_url = plan_page_url(org) if org is not None else ""
        self.message = _message(limit, allowed, plan, current, wanted, self.upgrade_url)
        super().__init__(self.message)

    @property
    def html(self) -> str:
        """The message with the plan page as a link (safe HTML, for messages and form errors)."""
        text = self.message.removesuffix(f" Upgrade on the plan page: {self.upgrade_url}")
        if not self.upgrade_url:
            return conditional_escape(text)
        return format_html('{} <a href="{}">Upgrade on the plan page</a>.', text, self.upgrade_url)


def plan_page_url(org) -> str:
    return reverse("billing:plan", kwargs={"org_slug": org.slug})


def _message(limit: str, allowed, plan: Plan, current: int | None, wanted: str, url: str) -> str:
    if limit == "scan_frequency":
        fastest = FREQUENCY_LABELS.get(str(allowed), allowed)
        text = f"The {plan.name} plan scans at most {fastest} (scan frequency limit)."
        better = cheapest_plan_allowing("scan_frequency", wanted) if wanted else None
    else:
        label = COUNTED_LIMITS.get(limit, limit)
        text = f"The {plan.name} plan allows {allowed:,} {label} ({label} limit)."
        better = cheapest_plan_allowing(limit, (current or 0) + 1) if current is not None else None
    if better is not None and better.rank > plan.rank:
        text += f" The {better.name} plan allows {'it' if limit == 'scan_frequency' else 'more'}."
    if url:
        text += f" Upgrade on the plan page: {url}"
    return text


def account_for(org) -> BillingAccount | None:
    return BillingAccount.objects.for_org(org).first()


def plan_for(org) -> Plan:
    """The plan whose limits apply to ``org`` now (Free without a subscription, or after the grace
    period of an unpaid one)."""
    account = account_for(org)
    return account.effective_plan if account is not None else PLANS[FREE]


def limits_for(org) -> Limits:
    return plan_for(org).limits


def enforced() -> bool:
    return bool(getattr(settings, "BILLING_ENFORCE_LIMITS", True))


def allowed(org, limit: str) -> int | str | None:
    """What the plan allows for ``limit``: a count (None = unlimited), or for "scan_frequency" the
    fastest frequency."""
    limits = limits_for(org)
    if limit == "scan_frequency":
        return limits.scan_frequency
    if limit == "history_days":
        return limits.history_days
    return limits.count_limit(limit)


def remaining(org, limit: str) -> int | None:
    """How many more the plan allows (never negative); None when unlimited or not enforced."""
    if not enforced():
        return None
    cap = allowed(org, limit)
    if cap is None:
        return None
    return max(0, int(cap) - usage.count(org, limit))


def ensure_within(org, limit: str, adding: int = 1, *, current: int | None = None) -> None:
    """Raise ``LimitReached`` when adding ``adding`` more of ``limit`` would exceed the plan.
    ``current`` may be passed when the caller already counted."""
    if limit not in COUNTED_LIMITS:
        raise ValueError(f"Unknown limit {limit!r}; one of {', '.join(COUNTED_LIMITS)}.")
    if not enforced():
        return
    plan = plan_for(org)
    cap = plan.limits.count_limit(limit)
    if cap is None:
        return
    used = usage.count(org, limit) if current is None else current
    if used + adding > cap:
        raise LimitReached(limit, cap, plan, org=org, current=used)


def ensure_frequency_allowed(org, frequency: str) -> None:
    """Raise ``LimitReached`` (limit "scan_frequency") when the plan does not scan that often."""
    if not enforced():
        return
    plan = plan_for(org)
    if not frequency_allowed(plan.limits, frequency):
        raise LimitReached("scan_frequency", plan.limits.scan_frequency, plan, org=org, wanted=frequency)


def frequency_choices_allowed(org) -> list[str]:
    """The frequency values the org may choose (for forms to mark the others)."""
    limits = limits_for(org)
    return [f for f in FREQUENCY_ORDER if frequency_allowed(limits, f)]


def absolute_plan_page_url(org) -> str:
    return settings.SITE_URL.rstrip("/") + plan_page_url(org)


def resources_left_out_warning(org, left_out: dict[str, int]) -> dict:
    """A sync run's warning for the new resources the plan had no room for (``{type: count}``)."""
    plan = plan_for(org)
    total = sum(left_out.values())
    types = ", ".join(f"{rtype}: {n}" for rtype, n in sorted(left_out.items()))
    return {
        "type": "",
        "region": "",
        "status": "plan_limit",
        "code": "resources_limit",
        "message": (
            f"{total:,} new resource{'s' if total != 1 else ''} not stored ({types}): the {plan.name} plan allows "
            f"{plan.limits.resources:,} resources inventoried (resources limit). Everything already stored is kept. "
            f"Upgrade on the plan page: {absolute_plan_page_url(org)}"
        ),
    }


def scheduled_frequency(org, frequency: str) -> str:
    """The frequency scheduled scans use: the one chosen, slowed to the plan's fastest when the plan no
    longer allows it (after a downgrade; the choice itself is kept for when the plan allows it again)."""
    if not enforced() or frequency == "manual":
        return frequency
    limits = limits_for(org)
    return frequency if frequency_allowed(limits, frequency) else limits.scan_frequency
