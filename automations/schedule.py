"""When a scheduled automation fires: daily or weekly at a local hour of its timezone.

The hour is local wall-clock time, so a 09:00 summary in Europe/Paris arrives at 09:00 in winter and in
summer (07:00 or 08:00 UTC). On the night clocks go forward, an hour that does not exist fires an hour
later (02:30 → 03:30); on the night they go back, an hour that happens twice fires once (the first).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAILY = "daily"
WEEKLY = "weekly"


def local_slot(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """``day`` at ``hour``:00 local time, as an aware UTC datetime (see the module's DST rules)."""
    # fold=0: an ambiguous time is its first occurrence; a nonexistent one takes the offset in force
    # before the gap, which lands after it once converted.
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone).astimezone(UTC)


def next_slot(after: datetime, *, frequency: str, hour: int, weekday: int, tz: str) -> datetime:
    """The first slot strictly after ``after`` (aware), in UTC."""
    zone = ZoneInfo(tz)
    start = after.astimezone(zone).date() - timedelta(days=1)
    for offset in range(10):
        day = start + timedelta(days=offset)
        if frequency == WEEKLY and day.weekday() != weekday:
            continue
        slot = local_slot(day, hour, zone)
        if slot > after:
            return slot
    raise AssertionError("unreachable: a week always has a slot")  # pragma: no cover
