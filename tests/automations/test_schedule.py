"""Schedules: daily and weekly at a local hour, across daylight-saving changes; the tick fires a due
automation once per slot and moves it to its next slot; a paused or deleted one never fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from automations import engine
from automations.models import Automation, AutomationRun
from automations.schedule import next_slot
from tests.automations.conftest import make_automation

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_slot_keeps_its_local_hour_across_the_spring_change():
    # Europe/Paris goes from UTC+1 to UTC+2 on Sunday 2025-03-30 at 02:00.
    paris = {"frequency": "daily", "hour": 9, "weekday": 0, "tz": "Europe/Paris"}
    assert next_slot(utc(2025, 3, 28, 12), **paris) == utc(2025, 3, 29, 8)  # 09:00 CET
    assert next_slot(utc(2025, 3, 29, 8), **paris) == utc(2025, 3, 30, 7)  # 09:00 CEST: one hour earlier in UTC
    assert next_slot(utc(2025, 3, 30, 7), **paris) == utc(2025, 3, 31, 7)


def test_daily_slot_keeps_its_local_hour_across_the_autumn_change():
    # America/New_York goes from UTC-4 to UTC-5 on Sunday 2025-11-02 at 02:00.
    ny = {"frequency": "daily", "hour": 8, "weekday": 0, "tz": "America/New_York"}
    assert next_slot(utc(2025, 11, 1, 13), **ny) == utc(2025, 11, 2, 13)  # 08:00 EST
    assert next_slot(utc(2025, 10, 31, 13), **ny) == utc(2025, 11, 1, 12)  # 08:00 EDT


def test_hour_that_does_not_exist_fires_once_after_the_gap_and_a_doubled_hour_fires_once():
    gap = {"frequency": "daily", "hour": 2, "weekday": 0, "tz": "Europe/Paris"}
    # 2025-03-30 02:00 does not exist in Paris: it fires at 03:00 CEST (01:00 UTC), once.
    assert next_slot(utc(2025, 3, 29, 23), **gap) == utc(2025, 3, 30, 1)
    assert next_slot(utc(2025, 3, 30, 1), **gap) == utc(2025, 3, 31, 0)
    doubled = {"frequency": "daily", "hour": 1, "weekday": 0, "tz": "America/New_York"}
    # 2025-11-02 01:00 happens twice in New York: the first one (EDT, 05:00 UTC), then the next day.
    first = next_slot(utc(2025, 11, 2, 0), **doubled)
    assert first == utc(2025, 11, 2, 5)
    assert next_slot(first, **doubled) == utc(2025, 11, 3, 6)


def test_weekly_slot_is_on_its_weekday():
    monday_8 = {"frequency": "weekly", "hour": 8, "weekday": 0, "tz": "UTC"}
    assert next_slot(utc(2025, 6, 4, 10), **monday_8) == utc(2025, 6, 9, 8)  # Wed → next Monday
    assert next_slot(utc(2025, 6, 9, 7, 59), **monday_8) == utc(2025, 6, 9, 8)
    assert next_slot(utc(2025, 6, 9, 8), **monday_8) == utc(2025, 6, 16, 8)


def test_a_scheduled_automation_fires_once_per_slot_across_dst(org, owner, email_channel, conn):
    automation = make_automation(
        org, owner, frequency="daily", hour=9, timezone="Europe/Paris", channels=[email_channel], send_when_empty=True
    )
    slot = utc(2025, 3, 29, 8)
    Automation.objects.for_org(org).filter(pk=automation.pk).update(next_run_at=slot)

    assert engine.fire_due_schedules(slot - timedelta(minutes=1)) == []  # not yet
    fired = engine.fire_due_schedules(slot + timedelta(seconds=30))
    assert [r.key for r in fired] == [f"schedule:{slot.isoformat()}"]
    automation.refresh_from_db()
    assert automation.next_run_at == utc(2025, 3, 30, 7)  # the next 09:00 in Paris, after the change
    assert engine.fire_due_schedules(slot + timedelta(minutes=1)) == []  # the same slot never twice

    fired = engine.fire_due_schedules(utc(2025, 3, 30, 7, 0, 10))
    assert [r.key for r in fired] == ["schedule:2025-03-30T07:00:00+00:00"]
    assert AutomationRun.objects.for_org(org).filter(automation=automation).count() == 2


def test_a_paused_automation_never_fires_and_a_deleted_one_is_gone(org, owner, email_channel):
    paused = make_automation(org, owner, name="Paused", channels=[email_channel], enabled=False)
    assert paused.next_run_at is None
    live = make_automation(org, owner, name="Live", channels=[email_channel], send_when_empty=True)
    Automation.objects.for_org(org).filter(pk__in=[paused.pk, live.pk]).update(
        next_run_at=utc(2025, 1, 1), enabled=False
    )
    assert engine.fire_due_schedules(utc(2025, 1, 2)) == []  # neither: both paused

    Automation.objects.for_org(org).filter(pk=live.pk).update(enabled=True)
    live.delete()
    assert engine.fire_due_schedules(utc(2025, 1, 2)) == []
    assert not AutomationRun.objects.for_org(org).exists()
    assert mail.outbox == []


def test_missed_slots_fire_once_not_once_each(org, owner, email_channel):
    automation = make_automation(org, owner, channels=[email_channel], send_when_empty=True)
    Automation.objects.for_org(org).filter(pk=automation.pk).update(next_run_at=utc(2025, 1, 1, 8))
    # The workers were down for three days: one run, and the next slot is after now.
    fired = engine.fire_due_schedules(utc(2025, 1, 4, 12))
    assert len(fired) == 1
    automation.refresh_from_db()
    assert automation.next_run_at == utc(2025, 1, 5, 8)


def test_changing_the_schedule_moves_the_next_run(org, owner):
    from automations import actions

    automation = make_automation(org, owner, hour=6, timezone="UTC")
    before = automation.next_run_at
    actions.do_update_automation(automation, user=owner, hour=7, timezone="Asia/Tokyo")
    automation.refresh_from_db()
    assert automation.next_run_at != before
    assert automation.next_run_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo")).hour == 7
