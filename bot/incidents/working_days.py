"""When a PIR is due: "within 1 working day of the incident", in the team's time zone.

The rule, chosen so that whoever writes the PIR always gets one whole working day:

    The PIR is due at 17:00 local time on the first working day after the local
    calendar day on which the incident was mitigated.

A working day is Monday to Friday and not a public holiday of the team's country (and
subdivision, if given) in the `holidays` package; without a country only weekends count.

    mitigated Tue 09:00 or Tue 23:30   -> due Wed 17:00
    mitigated Fri, Sat or Sun          -> due Mon 17:00
    mitigated Thu 24 Dec 2026, "DE"    -> due Mon 28 Dec 17:00 (25th and 26th are holidays)

"Local" is the wall clock in `zone`, so a DST change between mitigation and due time moves
the due instant by an hour, not the 17:00 people see.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

END_OF_WORKING_DAY = time(17, 0)
# The Commander hears about a due PIR this long before it is due, and again when it is.
REMINDER_LEAD = timedelta(hours=4)
_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


def pir_due(
    mitigated_at: datetime, *, zone: str, country: str | None, subdivision: str | None = None
) -> datetime:
    """Return when the PIR is due (aware, UTC): 17:00 local on the next working day."""
    _require_aware(mitigated_at, "mitigated_at")
    local_zone = _zone(zone)
    closed = _public_holidays(country, subdivision)
    day = mitigated_at.astimezone(local_zone).date() + _ONE_DAY
    while not is_working_day(day, closed):
        day += _ONE_DAY
    due = datetime.combine(day, END_OF_WORKING_DAY, tzinfo=local_zone)
    return due.astimezone(UTC)


def reminder_times(due: datetime) -> list[datetime]:
    """Return when to remind the Commander (aware, UTC): 4 hours before `due`, then at it."""
    _require_aware(due, "due")
    due_utc = due.astimezone(UTC)
    return [due_utc - REMINDER_LEAD, due_utc]


def is_working_day(day: date, public_holidays: Container[date]) -> bool:
    """Tell whether `day` is Monday to Friday and not one of `public_holidays`."""
    return day.weekday() < _SATURDAY and day not in public_holidays


def _public_holidays(country: str | None, subdivision: str | None) -> Container[date]:
    if not country:
        return frozenset()
    code = country.strip().upper()
    try:
        # Years are filled in as dates are looked up, so a search into January works.
        return holidays.country_holidays(code, subdiv=subdivision or None)
    except NotImplementedError:
        # `holidays` says the same thing for both mistakes; tell people which one they made.
        if code not in holidays.list_supported_countries():
            raise ValueError(
                f"unknown country code {country!r} for public holidays: "
                "use an ISO 3166-1 alpha-2 code such as 'DE' or 'US'"
            ) from None
        raise ValueError(
            f"country {code!r} has no subdivision {subdivision!r} for public holidays: "
            f"use one of {', '.join(holidays.list_supported_countries()[code])}"
        ) from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    # A folder such as "Europe" is found on disk but is no zone: IsADirectoryError.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/London'"
        ) from None


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
