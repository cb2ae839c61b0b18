"""Squads and their on-call rotations, managed from Teams or imported from iCalendar.

Guide: "By default the on-call engineer becomes the Investigator ... Secondary on-call
becomes the Incident Commander". This module answers "who is primary and secondary now".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import CommandError, NotFoundError
from bot.incidents import notices as say
from bot.incidents.context import Ctx
from bot.incidents.local_time import origin_zone, written
from bot.incidents.people import Person
from bot.incidents.process_file import runbook_problem
from bot.incidents.rotation import (
    WEEKDAYS,
    handoffs_since,
    last_handoff_date,
    next_handoff,
    on_duty,
    parse_time,
)
from bot.store.incident_models import Incident
from bot.store.oncall_models import ChannelSquad, OnCallOverride, Squad, SquadMember

SLOTS = ("primary", "secondary")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_RELATIVE = re.compile(r"^\+(\d+)([mhd])$")


@dataclass(frozen=True)
class Duty:
    """Someone on call, and why (the rotation, or an override)."""

    person: Person
    why: str


def _person(row: SquadMember | OnCallOverride) -> Person:
    return Person(row.person_id, row.name, row.aad_object_id)


async def squad_named(tenant_id: str, name: str) -> Squad:
    """The squad, or a clear error listing the ones that exist."""
    squad = await Squad.get_or_none(tenant_id=tenant_id, name=name.lower())
    if squad is None:
        # flat=True gives the bare names; Tortoise types every values_list() row as a tuple.
        known = cast(list[str], await Squad.filter(tenant_id=tenant_id).values_list(
            "name", flat=True))
        listed = ", ".join(sorted(known)) or "none yet"
        raise NotFoundError(f"There is no squad '{name}' (squads: {listed}). Create one with "
                            "`@incident oncall <squad> rotation weekly 09:00 mon Europe/London "
                            "@a @b`.")
    return squad


async def members(squad: Squad) -> list[Person]:
    """Members in rotation order."""
    return [_person(m) for m in await SquadMember.filter(squad=squad).order_by("position")]


async def current(squad: Squad, at: dt.datetime) -> tuple[Duty | None, Duty | None]:
    """Primary and secondary at `at`: an override covering `at` wins over the rotation."""
    people = await members(squad)
    turns = handoffs_since(anchor=squad.anchor, at=at, period=squad.period,
                           handoff_time=squad.handoff_time, weekday=squad.handoff_weekday,
                           zone=squad.timezone)
    primary, secondary = on_duty(people, turns)
    duties = {"primary": Duty(primary, f"primary on-call for {squad.name}") if primary else None,
              "secondary": (Duty(secondary, f"secondary on-call for {squad.name}")
                            if secondary else None)}
    covering = await OnCallOverride.filter(squad=squad, starts_at__lte=at, ends_at__gt=at
                                           ).order_by("id")
    for row in covering:  # the latest override of a slot wins
        duties[row.slot] = Duty(_person(row), f"{row.slot} on-call for {squad.name} (override)")
    return duties["primary"], duties["secondary"]


async def show(ctx: Ctx) -> str:
    """`oncall`: every squad's primary and secondary right now."""
    squads = await Squad.filter(tenant_id=ctx.origin.tenant_id).order_by("name")
    if not squads:
        return ("No squads yet. Create one: `@incident oncall db rotation weekly 09:00 mon "
                "Europe/London @Ada @Grace`.")
    lines = []
    for squad in squads:
        zone = await squad_zone(ctx, squad)
        primary, secondary = await current(squad, ctx.now)
        change = next_handoff(at=ctx.now, period=squad.period, handoff_time=squad.handoff_time,
                              weekday=squad.handoff_weekday, zone=squad.timezone)
        lines.append(f"{squad.name}: primary {primary.person.name if primary else 'nobody'}, "
                     f"secondary {secondary.person.name if secondary else 'nobody'} "
                     f"(next hand-off {written(change, zone)})")
    return "\n".join(lines)


async def define_rotation(ctx: Ctx, name: str, *, period: str, handoff: str, weekday: str,
                          zone: str, people: list[Person]) -> Squad:
    """Create or replace a squad's rotation; people rotate in the order given."""
    if not _NAME.match(name.lower()):
        raise CommandError("Squad names are short words: letters, digits, - and _.")
    scale = ctx.policy.severity
    if re.sub(r"[_-]+", "", name.lower()) in {**scale.codes, **scale.words}:
        # `declare <title> [severity] [squad]` could not tell the two apart.
        raise CommandError(f"'{name}' is a severity; give the squad another name.")
    if period not in ("daily", "weekly"):
        raise CommandError("The rotation hands off `daily` or `weekly`.")
    try:
        parse_time(handoff)
        ZoneInfo(zone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        raise CommandError(
            "Give the hand-off as HH:MM and a time zone like Europe/London.") from None
    if weekday not in WEEKDAYS:
        raise CommandError("Give the hand-off day as mon, tue, ... sun.")
    people = list({p.id: p for p in people}.values())  # a person named twice rotates once
    if not people:
        raise CommandError("Mention the squad's members in rotation order.")
    squad, _ = await Squad.get_or_create(tenant_id=ctx.origin.tenant_id, name=name.lower(),
                                         defaults={"anchor": ctx.now.date()})
    squad.period, squad.handoff_time, squad.timezone = period, handoff, zone
    squad.handoff_weekday = WEEKDAYS.index(weekday)
    squad.anchor = last_handoff_date(at=ctx.now, period=period, handoff_time=handoff,
                                     weekday=squad.handoff_weekday, zone=zone)
    await squad.save()
    await SquadMember.filter(squad=squad).delete()
    for position, person in enumerate(people):
        await SquadMember.create(squad=squad, person_id=person.id, name=person.name,
                                 aad_object_id=person.aad_object_id, position=position)
    ctx.tell(say.Reply(await show_one(ctx, squad)))
    return squad


async def show_one(ctx: Ctx, squad: Squad) -> str:
    """One squad's line of `oncall`."""
    primary, secondary = await current(squad, ctx.now)
    order = ", ".join(p.name for p in await members(squad))
    runbook = await runbook_of(ctx, squad)
    return (f"Squad {squad.name} ({squad.period} hand-off {squad.handoff_time} "
            f"{squad.timezone}; order: {order}). On call now: primary "
            f"{primary.person.name if primary else 'nobody'}, secondary "
            f"{secondary.person.name if secondary else 'nobody'}."
            + (f" Runbook: {runbook}" if runbook else ""))


async def cover(ctx: Ctx, name: str, slot: str, person: Person,
                until: dt.datetime | None = None) -> OnCallOverride:
    """`primary @x` (until the next hand-off) or `override @x until <time>`."""
    squad = await squad_named(ctx.origin.tenant_id, name)
    ends = until or next_handoff(at=ctx.now, period=squad.period,
                                 handoff_time=squad.handoff_time,
                                 weekday=squad.handoff_weekday, zone=squad.timezone)
    if ends <= ctx.now:
        raise CommandError("That time has already passed.")
    row = await OnCallOverride.create(squad=squad, slot=slot, person_id=person.id,
                                      name=person.name, aad_object_id=person.aad_object_id,
                                      starts_at=ctx.now, ends_at=ends)
    ctx.tell(say.Reply(f"{person.name} is {slot} on-call for {squad.name} until "
                       f"{written(ends, await squad_zone(ctx, squad))}."))
    return row


async def set_runbook(ctx: Ctx, name: str, url: str) -> Squad:
    """`oncall <squad> runbook <https link>|none`: the link incidents declared for the
    squad show on their card and in the Investigator's role request (it wins over the
    process file's)."""
    squad = await squad_named(ctx.origin.tenant_id, name)
    url = url.strip().strip("<>")
    if url.lower() in ("none", "clear", "-"):
        squad.runbook = None
        await squad.save()
        fallback = ctx.policy.file_runbook(squad.name)
        after = (f" Incidents declared for it now show the process file's: {fallback}"
                 if fallback else "")
        ctx.tell(say.Reply(f"Squad {squad.name} has no runbook of its own any more.{after}"))
        return squad
    problem = runbook_problem(url) if url else "give the link"
    if problem is not None:
        raise CommandError(f"Cannot use that runbook: {problem}. Usage: `@incident oncall "
                           f"{squad.name} runbook https://wiki.example.com/runbooks/"
                           f"{squad.name}` (or `none` to clear it).")
    squad.runbook = url
    await squad.save()
    ctx.tell(say.Reply(f"Squad {squad.name}'s runbook is now {url}. Incidents declared for "
                       "it show it on their card and to their Investigator."))
    return squad


async def runbook_of(ctx: Ctx, squad: Squad) -> str | None:
    """The squad's runbook: its own, else the process file's."""
    return squad.runbook or ctx.policy.file_runbook(squad.name)


async def attach_runbook(ctx: Ctx, incident: Incident, squad: Squad) -> None:
    """An incident declared for `squad` keeps its runbook (the card shows it)."""
    link = await runbook_of(ctx, squad)
    if link and link != incident.runbook:
        incident.runbook = link
        await incident.save()


async def squad_zone(ctx: Ctx, squad: Squad) -> str:
    """The zone an on-call time is read and written in: the team's where the command comes
    from a team (its other times are written there), else the squad's own (a 1:1 has no
    team, and the `TIMEZONE` default would misread a London squad's "until 18:00")."""
    return await origin_zone(ctx) if ctx.origin.team_id else squad.timezone


def parse_until(text: str, *, now: dt.datetime, zone: str) -> dt.datetime:
    """"2026-11-28 18:00", "18:00" (next one) or "+4h" / "+30m" / "+2d", read in `zone`."""
    text = text.strip()
    tz = ZoneInfo(zone)
    try:
        relative = _RELATIVE.match(text)
        if relative:
            unit = {"m": "minutes", "h": "hours", "d": "days"}[relative.group(2)]
            moment = now + dt.timedelta(**{unit: int(relative.group(1))})
        elif len(text) <= 5:
            local = dt.datetime.combine(now.astimezone(tz).date(), parse_time(text), tzinfo=tz)
            if local <= now:
                local += dt.timedelta(days=1)
            moment = local
        else:
            given = dt.datetime.fromisoformat(text.replace(" ", "T"))
            moment = given if given.tzinfo else given.replace(tzinfo=tz)
    except (ValueError, OverflowError):
        raise CommandError("Give the time as `2026-11-28 18:00`, `18:00` or `+4h`.") from None
    if moment <= now:
        raise CommandError("That time has already passed.")
    return moment.astimezone(dt.UTC)


async def set_channel_squad(ctx: Ctx, name: str) -> None:
    """Incidents declared in this channel default to this squad's on-call."""
    if not ctx.origin.channel_id:
        raise CommandError("Run this in the channel whose incidents the squad takes.")
    squad = await squad_named(ctx.origin.tenant_id, name)
    await ChannelSquad.update_or_create(tenant_id=ctx.origin.tenant_id,
                                        channel_id=ctx.origin.channel_id,
                                        defaults={"squad": squad})
    ctx.tell(say.Reply(f"Incidents declared here now go to {squad.name}'s on-call."))


async def squad_for(ctx: Ctx, name: str | None) -> Squad | None:
    """The squad named at declaration, else this channel's default squad, else none."""
    if name:
        return await squad_named(ctx.origin.tenant_id, name)
    if ctx.origin.channel_id:
        link = await ChannelSquad.get_or_none(tenant_id=ctx.origin.tenant_id,
                                              channel_id=ctx.origin.channel_id
                                              ).prefetch_related("squad")
        if link is not None:
            return link.squad
    return None


async def is_squad(tenant_id: str, word: str) -> bool:
    """Whether a word of a `declare` names a squad."""
    return await Squad.filter(tenant_id=tenant_id, name=word.lower()).exists()
