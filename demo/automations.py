"""The demo organization's automation: a daily summary to its owners by email, previewed and sent once by
``seed_demo`` (with the console email backend of scripts/demo, the email appears in the terminal)."""

from __future__ import annotations

import contextlib
import sys

from automations import actions, engine, sending
from automations.models import Automation, AutomationRun, Channel
from automations.preview import preview_of

CHANNEL_NAME = "Owners by email"
AUTOMATION_NAME = "Daily summary"


def ensure_demo_automation(org, user) -> Automation:
    """The demo's channel and automation, created once."""
    channel = Channel.objects.for_org(org).filter(name=CHANNEL_NAME).first()
    if channel is None:
        channel = actions.do_create_channel(org, user=user, kind="email", name=CHANNEL_NAME, roles=["owner"]).channel
    automation = Automation.objects.for_org(org).filter(name=AUTOMATION_NAME).first()
    if automation is None:
        automation = actions.do_create_automation(
            org,
            user=user,
            name=AUTOMATION_NAME,
            trigger=Automation.Trigger.SCHEDULE,
            frequency=Automation.Frequency.DAILY,
            hour=8,
            timezone=user.timezone or "UTC",
            action=Automation.Action.SUMMARIZE,
            send_when_empty=True,  # a demo that shows something at every start
            channels=[channel],
        )
    return automation


def preview_text(automation: Automation) -> str:
    shown = preview_of(automation)
    return f"Subject: {shown['preview_subject']}\n\n{shown['preview_text']}"


def run_once(automation: Automation, out) -> AutomationRun | None:
    """Run it now, in this process, printing what the console email backend sends to ``out``."""
    from cloustral.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True  # here and now, whatever broker the demo's worker uses
    try:
        with contextlib.redirect_stdout(out or sys.stderr):
            run = engine.run_now(automation)
            if run is not None:
                sending.execute_run(run.pk)  # already done when its task ran at once; a no-op then
    finally:
        app.conf.task_always_eager = eager
    if run is not None:
        run.refresh_from_db()
    return run
