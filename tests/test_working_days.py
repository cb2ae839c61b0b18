"""The PIR is due at 17:00 local on the first working day after the day of mitigation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.incidents.working_days import pir_due, reminder_times

BERLIN = "Europe/Berlin"
LONDON = "Europe/London"


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local wall-clock time in `zone`, as the aware UTC instant the bot stores."""
    local = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


async def test_working_day_mitigation_is_due_at_five_pm_the_next_day() -> None:
    due = pir_due(at(BERLIN, 2026, 6, 9, 10), zone=BERLIN, country="DE")  # a Tuesday

    assert due == at(BERLIN, 2026, 6, 10, 17)


async def test_late_evening_mitigation_still_gets_the_whole_next_day() -> None:
    due = pir_due(at(BERLIN, 2026, 6, 9, 23, 30), zone=BERLIN, country="DE")

    assert due == at(BERLIN, 2026, 6, 10, 17)


async def test_due_time_is_aware_utc() -> None:
    due = pir_due(at(BERLIN, 2026, 6, 9, 10), zone=BERLIN, country="DE")

    assert due.utcoffset() == timedelta(0)
    assert due == datetime(2026, 6, 10, 15, 0, tzinfo=UTC)  # 17:00 CEST


async def test_friday_mitigation_is_due_on_monday() -> None:
    due = pir_due(at(BERLIN, 2026, 6, 12, 10), zone=BERLIN, country="DE")

    assert due == at(BERLIN, 2026, 6, 15, 17)


@pytest.mark.parametrize("day", [13, 14], ids=["saturday", "sunday"])
async def test_weekend_mitigation_is_due_at_the_end_of_monday(day: int) -> None:
    due = pir_due(at(BERLIN, 2026, 6, day, 3), zone=BERLIN, country="DE")

    assert due == at(BERLIN, 2026, 6, 15, 17)


async def test_team_zone_decides_the_day_of_mitigation() -> None:
    # Thursday 23:30 UTC is already Friday 01:30 in Berlin.
    mitigated = datetime(2026, 6, 11, 23, 30, tzinfo=UTC)

    assert pir_due(mitigated, zone=BERLIN, country=None) == at(BERLIN, 2026, 6, 15, 17)
    assert pir_due(mitigated, zone="UTC", country=None) == at("UTC", 2026, 6, 12, 17)


async def test_christmas_holidays_and_the_weekend_are_skipped() -> None:
    # 2026-12-25 (Friday) and 2026-12-26 (Saturday) are German public holidays.
    due = pir_due(at(BERLIN, 2026, 12, 24, 12), zone=BERLIN, country="DE")

    assert due == at(BERLIN, 2026, 12, 28, 17)
    assert due == datetime(2026, 12, 28, 16, 0, tzinfo=UTC)  # 17:00 CET


async def test_easter_holidays_on_both_sides_of_the_weekend_are_skipped() -> None:
    # Good Friday 2026-04-03 and Easter Monday 2026-04-06.
    due = pir_due(at(BERLIN, 2026, 4, 2, 9), zone=BERLIN, country="DE")

    assert due == at(BERLIN, 2026, 4, 7, 17)


async def test_holidays_of_the_next_year_are_known() -> None:
    # New Year's Day 2027 is a Friday.
    due = pir_due(at(BERLIN, 2026, 12, 31, 9), zone=BERLIN, country="DE")

    assert due == at(BERLIN, 2027, 1, 4, 17)


async def test_subdivision_adds_its_own_holidays() -> None:
    # Epiphany, Tuesday 2026-01-06, is a holiday in Bavaria but not everywhere in Germany.
    mitigated = at(BERLIN, 2026, 1, 5, 9)

    assert pir_due(mitigated, zone=BERLIN, country="DE") == at(BERLIN, 2026, 1, 6, 17)
    bavaria = pir_due(mitigated, zone=BERLIN, country="DE", subdivision="BY")
    assert bavaria == at(BERLIN, 2026, 1, 7, 17)


async def test_saturday_before_a_bank_holiday_monday_is_due_on_tuesday() -> None:
    # Early May bank holiday, Monday 2026-05-04, in England.
    due = pir_due(at(LONDON, 2026, 5, 2, 14), zone=LONDON, country="GB", subdivision="ENG")

    assert due == at(LONDON, 2026, 5, 5, 17)


async def test_due_time_stays_five_pm_local_when_clocks_go_back() -> None:
    # British Summer Time ends on Sunday 2026-10-25: Friday is UTC+1, Monday is UTC+0.
    due = pir_due(at(LONDON, 2026, 10, 23, 15), zone=LONDON, country="GB")

    assert due == datetime(2026, 10, 26, 17, 0, tzinfo=UTC)
    assert due.astimezone(ZoneInfo(LONDON)).hour == 17


async def test_due_time_stays_five_pm_local_when_clocks_go_forward() -> None:
    # British Summer Time starts on Sunday 2026-03-29: Friday is UTC+0, Monday is UTC+1.
    due = pir_due(at(LONDON, 2026, 3, 27, 15), zone=LONDON, country="GB")

    assert due == datetime(2026, 3, 30, 16, 0, tzinfo=UTC)


async def test_mitigation_in_the_repeated_hour_counts_as_that_sunday() -> None:
    # 01:30 happens twice in London on 2026-10-25, at 00:30 and 01:30 UTC.
    for hour in (0, 1):
        mitigated = datetime(2026, 10, 25, hour, 30, tzinfo=UTC)
        due = pir_due(mitigated, zone=LONDON, country="GB")
        assert due == datetime(2026, 10, 26, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("country", [None, ""], ids=["none", "empty"])
async def test_without_a_country_only_weekends_are_skipped(country: str | None) -> None:
    assert pir_due(at(BERLIN, 2026, 12, 24, 12), zone=BERLIN, country=country) == at(
        BERLIN, 2026, 12, 25, 17
    )
    assert pir_due(at(BERLIN, 2026, 12, 25, 12), zone=BERLIN, country=country) == at(
        BERLIN, 2026, 12, 28, 17
    )


async def test_country_code_is_case_insensitive() -> None:
    due = pir_due(at(BERLIN, 2026, 12, 24, 12), zone=BERLIN, country="de")

    assert due == at(BERLIN, 2026, 12, 28, 17)


async def test_unknown_country_code_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown country code 'XX'.*ISO 3166-1 alpha-2"):
        pir_due(at(BERLIN, 2026, 6, 9, 10), zone=BERLIN, country="XX")


async def test_unknown_subdivision_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"'DE' has no subdivision 'ZZ'.*BY"):
        pir_due(at(BERLIN, 2026, 6, 9, 10), zone=BERLIN, country="DE", subdivision="ZZ")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe", "", "../etc/passwd"])
async def test_unknown_time_zone_is_refused_by_name(zone: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        pir_due(at(BERLIN, 2026, 6, 9, 10), zone=zone, country=None)


async def test_naive_mitigation_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pir_due(datetime(2026, 6, 9, 10), zone=BERLIN, country=None)


async def test_commander_is_reminded_four_hours_before_and_at_due_time() -> None:
    due = datetime(2026, 6, 15, 15, 0, tzinfo=UTC)

    assert reminder_times(due) == [
        datetime(2026, 6, 15, 11, 0, tzinfo=UTC),
        due,
    ]


async def test_reminders_are_in_utc_whatever_zone_due_is_given_in() -> None:
    due = datetime(2026, 6, 15, 17, 0, tzinfo=ZoneInfo(BERLIN))

    reminders = reminder_times(due)

    assert [r.utcoffset() for r in reminders] == [timedelta(0), timedelta(0)]
    assert reminders[1] == due


async def test_reminders_of_a_naive_due_time_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        reminder_times(datetime(2026, 6, 15, 17, 0))
