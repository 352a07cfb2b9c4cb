"""A digest as each channel shows it: an email (subject, plain text, HTML), a Slack message, a webhook's
JSON body. Pure functions of the stored digest, so every retry sends the same content."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from automations.digest import Digest

SUBJECT_PREFIX = "[Cloustral] "
SLACK_TOP = 5


def local(moment: datetime, tz: str) -> datetime:
    """The wall-clock time of ``moment`` in ``tz``, naive: templates' ``date`` filter would otherwise
    convert an aware datetime back to the reader's own timezone."""
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return timezone.localtime(moment, zone).replace(tzinfo=None)


def period_label(digest: Digest, tz: str) -> str:
    start, end = local(digest.period_start, tz), local(digest.period_end, tz)
    return f"{start:%b} {start.day}, {start:%H:%M} – {end:%b} {end.day}, {end:%H:%M} ({tz})"


def subject(digest: Digest, automation_name: str, *, test: bool = False) -> str:
    prefix = SUBJECT_PREFIX + ("Test: " if test else "")
    return f"{prefix}{digest.org_name}: {digest.headline} — {automation_name}"[:300]


def email_context(digest: Digest, *, automation_name: str, tz: str, **extra: Any) -> dict[str, Any]:
    return {
        "digest": digest,
        "automation_name": automation_name,
        "period": period_label(digest, tz),
        "tz": tz,
        "site_url": settings.SITE_URL,
        "scans_failed": [(line, local(datetime.fromisoformat(line.finished_at), tz)) for line in digest.scans_failed],
        **extra,
    }


def email_bodies(context: dict[str, Any]) -> tuple[str, str]:
    """(plain text, HTML) of a digest email."""
    return (
        render_to_string("automations/email/digest.txt", context),
        render_to_string("automations/email/digest.html", context),
    )


def _money(value) -> str:
    return f"${value:,.2f}"


def slack_payload(digest: Digest, *, automation_name: str, tz: str, test: bool = False) -> dict[str, Any]:
    """A Slack incoming-webhook message: a fallback text and Block Kit sections."""
    title = f"{'[Test] ' if test else ''}{digest.org_name}: {digest.headline}"
    counts = (
        f"*New:* {digest.new_total}   *Regressed:* {digest.regressed_total}   *Resolved:* {digest.resolved_total}"
        f"   *Open now:* {digest.open_total}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": counts}},
    ]
    if digest.includes_cost and (digest.waste_added or digest.waste_removed):
        sign = "+" if digest.waste_delta >= 0 else "−"
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Estimated monthly waste:* {_money(digest.waste_now)} "
                    f"({sign}{_money(abs(digest.waste_delta))} in this period)",
                },
            }
        )
    if digest.top:
        lines = [
            f"• [{line.severity_label}] <{line.url}|{_slack_escape(line.title)}> — {_slack_escape(line.resource)}"
            for line in digest.top[:SLACK_TOP]
        ]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}})
    if digest.scans_failed_total or digest.coverage_drops:
        parts = [f"{digest.scans_failed_total} scan(s) failed or partial"] if digest.scans_failed_total else []
        parts += [f"coverage of {d.connection} fell to {d.after}%" for d in digest.coverage_drops]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "⚠ " + "; ".join(parts)}})
    if digest.resources_created or digest.resources_deleted:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Resources: +{digest.resources_created} created, "
                        f"−{digest.resources_deleted} deleted, {digest.resources_modified} modified",
                    }
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{_slack_escape(automation_name)} · {period_label(digest, tz)} · "
                    f"<{digest.findings_url}|Open Cloustral>",
                }
            ],
        }
    )
    return {"text": title, "blocks": blocks}


def _slack_escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_payload(
    digest: Digest, *, automation_id: int | None, automation_name: str, delivery: str, test: bool = False
) -> dict[str, Any]:
    """The documented JSON body of a webhook delivery (docs/automations.md)."""
    return {
        "type": "test" if test else "digest",
        "delivery": delivery,
        "organization": {"slug": digest.org_slug, "name": digest.org_name},
        "automation": {"id": automation_id, "name": automation_name},
        "period": {"start": digest.period_start.isoformat(), "end": digest.period_end.isoformat()},
        "filters": digest.filters,
        "findings": {
            "new": {"total": digest.new_total, "by_severity": digest.new},
            "regressed": {"total": digest.regressed_total, "by_severity": digest.regressed},
            "resolved": {"total": digest.resolved_total, "by_severity": digest.resolved},
            "open": {"total": digest.open_total, "by_severity": digest.open_now},
            "top": [_line(line) for line in digest.top],
            "top_resolved": [_line(line) for line in digest.top_resolved],
        },
        "waste": {
            "currency": "USD",
            "monthly_now": str(digest.waste_now),
            "monthly_delta": str(digest.waste_delta),
            "added": str(digest.waste_added),
            "removed": str(digest.waste_removed),
        }
        if digest.includes_cost
        else None,
        "scans": {
            "total": digest.scans_total,
            "failed_or_partial": digest.scans_failed_total,
            "listed": [
                {
                    "connection": s.connection,
                    "status": s.status,
                    "finished_at": s.finished_at,
                    "completeness_percent": s.completeness,
                    "message": s.message,
                    "url": s.url,
                }
                for s in digest.scans_failed
            ],
            "coverage_drops": [
                {"connection": d.connection, "before_percent": d.before, "after_percent": d.after, "url": d.url}
                for d in digest.coverage_drops
            ],
        },
        "resources": {
            "created": digest.resources_created,
            "modified": digest.resources_modified,
            "deleted": digest.resources_deleted,
        },
        "url": digest.findings_url,
    }


def _line(line) -> dict[str, Any]:
    return {
        "id": line.id,
        "title": line.title,
        "severity": line.severity,
        "rule_id": line.rule_id,
        "resource": line.resource,
        "connection": line.connection,
        "region": line.region,
        "change": line.change,
        "monthly_usd": line.monthly_usd,
        "url": line.url,
    }


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()
