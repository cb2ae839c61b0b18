"""Importing an on-call schedule from an iCalendar file, so teams keep their calendar.

Each event becomes an override: its SUMMARY says the slot and the person ("Primary: Ada
Lovelace", "Secondary - Grace Hopper", or just a name for primary), matched to squad
members by display name (or the ATTENDEE's CN); DTSTART/DTEND bound it. Recurring events
are expanded by their own occurrences only when the file lists them (RRULE is not
expanded: export the schedule with occurrences, as PagerDuty and Opsgenie feeds do).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import icalendar

from bot.errors import CommandError
from bot.incidents.oncall import members, squad_named
from bot.incidents.people import Person
from bot.store.oncall_models import OnCallOverride, Squad
from bot.store.transactions import transaction

_SLOT = re.compile(r"^\s*(primary|secondary)\s*[:\-–]\s*(.+)$", re.IGNORECASE)


@dataclass
class ImportResult:
    """What was imported and what was not (and why)."""

    imported: int = 0
    skipped: list[str] = field(default_factory=list)


def _utc(value: dt.date | dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


async def import_ical(tenant_id: str, squad: str, data: bytes) -> ImportResult:
    """Replace the squad's imported overrides with the file's events."""
    target = await squad_named(tenant_id, squad)
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise CommandError(f"That is not an iCalendar file: {exc}") from None
    people = {p.name.lower(): p for p in await members(target)}
    result = ImportResult()
    async with transaction():  # the old schedule goes only if the new one is stored
        await OnCallOverride.filter(squad=target, source="ical").delete()
        for event in calendar.walk("VEVENT"):
            await _import_event(target, people, event, result)
    return result


async def _import_event(target: Squad, people: dict[str, Person], event: Any,
                        result: ImportResult) -> None:
    """One VEVENT: an override for the member it names, or a reason it was skipped."""
    if str(event.get("STATUS") or "").upper() == "CANCELLED":
        return
    summary = str(event.get("SUMMARY") or "").strip()
    match = _SLOT.match(summary)
    slot, who = (match.group(1).lower(), match.group(2).strip()) if match else ("primary",
                                                                               summary)
    attendees = event.get("ATTENDEE") or []
    if not isinstance(attendees, list):
        attendees = [attendees]
    names = [who.lower()] + [str(a.params.get("CN", "")).lower() for a in attendees]
    person = next((people[n] for n in names if n in people), None)
    if person is None:
        result.skipped.append(f"{summary or 'an event'}: no squad member of that name")
        return
    if not event.get("DTSTART") or not event.get("DTEND"):
        result.skipped.append(f"{summary or 'an event'}: needs DTSTART and DTEND")
        return
    await OnCallOverride.create(
        squad=target, slot=slot, person_id=person.id, name=person.name,
        aad_object_id=person.aad_object_id, starts_at=_utc(event.decoded("DTSTART")),
        ends_at=_utc(event.decoded("DTEND")), source="ical",
    )
    result.imported += 1
