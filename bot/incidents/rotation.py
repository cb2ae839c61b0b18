"""Who is on call at a moment: pure arithmetic on a squad's rotation, in its time zone.

Hand-offs happen at a wall-clock time in the squad's zone (daily, or weekly on a weekday),
so "Monday 09:00 in Sydney" stays 09:00 in Sydney across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_time(value: str) -> dt.time:
    """"09:00" -> 09:00."""
    hours, _, minutes = value.partition(":")
    return dt.time(int(hours), int(minutes or 0))


def handoffs_since(*, anchor: dt.date, at: dt.datetime, period: str, handoff_time: str,
                   weekday: int, zone: str) -> int:
    """How many hand-offs happened between the rotation's start and `at` (may be negative)."""
    local = at.astimezone(ZoneInfo(zone))
    days = (local.date() - anchor).days
    if local.time() < parse_time(handoff_time):
        days -= 1  # today's hand-off has not happened yet
    if period == "daily":
        return days
    # Weekly: count from the first hand-off weekday on or after the anchor.
    first = (weekday - anchor.weekday()) % 7
    return (days - first) // 7


def on_duty(members: Sequence[T], turns: int) -> tuple[T | None, T | None]:
    """(primary, secondary) after `turns` hand-offs: the next in line is secondary."""
    if not members:
        return None, None
    primary = members[turns % len(members)]
    secondary = members[(turns + 1) % len(members)] if len(members) > 1 else None
    return primary, secondary


def next_handoff(*, at: dt.datetime, period: str, handoff_time: str, weekday: int,
                 zone: str) -> dt.datetime:
    """The first hand-off after `at` (when a manual primary/secondary stops applying)."""
    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    when = parse_time(handoff_time)
    candidate = dt.datetime.combine(local.date(), when, tzinfo=tz)
    while candidate <= local or (period == "weekly" and candidate.weekday() != weekday):
        candidate = dt.datetime.combine(candidate.date() + dt.timedelta(days=1), when, tzinfo=tz)
    return candidate.astimezone(dt.UTC)


def last_handoff_date(*, at: dt.datetime, period: str, handoff_time: str, weekday: int,
                      zone: str) -> dt.date:
    """The local date of the latest hand-off at or before `at`: a new rotation's anchor, so
    that the first person named is on call from the moment the rotation is set."""
    local = at.astimezone(ZoneInfo(zone))
    day = local.date()
    if local.time() < parse_time(handoff_time):
        day -= dt.timedelta(days=1)
    if period == "weekly":
        day -= dt.timedelta(days=(day.weekday() - weekday) % 7)
    return day
