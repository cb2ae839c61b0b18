"""Finding the incident a command is about, and the current picture of one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from bot.errors import CommandError, NotFoundError
from bot.incidents import privacy
from bot.incidents.context import Ctx
from bot.incidents.handovers import pending_for
from bot.incidents.people import Person
from bot.incidents.roles import assistants
from bot.incidents.timeline import recent
from bot.store.incident_models import (
    Handover,
    Hypothesis,
    Incident,
    IncidentStatus,
    ItemStatus,
    Participant,
    Task,
    TimelineEvent,
)
from bot.store.prepared import incidents_in_thread, incidents_numbered
from bot.store.status_models import PublicIncident

OPEN = (IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED)


async def find_incident(ctx: Ctx, number: int | None, *, lock: bool = True) -> Incident:
    """The incident whose thread this is, the one named, or the only one the actor works on.

    Locked for update so that commands on one incident run one after another. A private
    incident is found only by its members, and only in its chat or a 1:1 chat: what a
    command answers elsewhere would be read by people who are not.
    """
    incident = await _find(ctx, number, lock=lock)
    if incident.private:
        await privacy.require_member(incident, ctx.actor.id)
        if (ctx.origin.conversation_type != "personal"
                and ctx.origin.conversation_id != incident.thread_id):
            raise CommandError(f"INC-{incident.number} is private: say it in its group chat, "
                               "or in your 1:1 chat with me.")
    return incident


async def _find(ctx: Ctx, number: int | None, *, lock: bool) -> Incident:
    query = Incident.filter(tenant_id=ctx.origin.tenant_id)
    if number is not None:
        # Most commands name their incident: the one query built once (bot.store.prepared).
        found = await incidents_numbered(ctx.origin.tenant_id, number, lock=lock)
        if len(found) == 1:
            return found[0]
        raise NotFoundError(f"There is no INC-{number}.")
    if ctx.origin.conversation_id:
        # Said in an incident's thread (the usual case): one prepared query finds and locks it.
        found = await incidents_in_thread(ctx.origin.tenant_id, ctx.origin.conversation_id,
                                          lock=lock)
        if len(found) == 1:
            return found[0]
        if ctx.origin.channel_id:
            # A new post in an incident's own channel (bot.incidents.spaces).
            own = query.filter(channel_id=ctx.origin.channel_id, space_state="open")
            found = await (own.select_for_update() if lock else own).all()
            if len(found) == 1:
                return found[0]
        query = query.filter(id__in=await _working_on(ctx))
    found = await (query.select_for_update() if lock else query).all()
    if len(found) == 1:
        return found[0]
    raise CommandError("Which incident? Say it in the incident's thread, or start with its "
                       "number: `@incident note INC-42 ...`.")


async def _working_on(ctx: Ctx) -> list[int]:
    me = ctx.actor.id
    # flat=True gives the bare ids; Tortoise types every values_list() row as a tuple.
    holding = cast(list[int], await Incident.filter(
        tenant_id=ctx.origin.tenant_id, status__in=OPEN
    ).filter(investigator_id=me).values_list("id", flat=True))
    commanding = cast(list[int], await Incident.filter(
        tenant_id=ctx.origin.tenant_id, status__in=OPEN, commander_id=me
    ).values_list("id", flat=True))
    helping = cast(list[int], await Participant.filter(
        person_id=me, incident__status__in=OPEN, incident__tenant_id=ctx.origin.tenant_id
    ).values_list("incident_id", flat=True))
    return sorted(set(holding) | set(commanding) | set(helping))


@dataclass
class Picture:
    """Everything `status` and the card show."""

    incident: Incident
    assistants: list[Person]
    pending: list[Handover]
    hypotheses: list[Hypothesis]
    tasks: list[Task]
    recent: list[TimelineEvent]
    # What customers were told, if anything (the public incident).
    public: PublicIncident | None = None


async def picture(incident: Incident) -> Picture:
    """The current state of one incident."""
    return Picture(
        incident=incident,
        assistants=await assistants(incident),
        pending=await pending_for(incident),
        hypotheses=list(await Hypothesis.filter(incident=incident, status=ItemStatus.OPEN)
                        .order_by("number")),
        tasks=list(await Task.filter(incident=incident, status=ItemStatus.OPEN)
                   .order_by("number")),
        recent=await recent(incident, 5),
        public=await PublicIncident.get_or_none(incident_id=incident.id),
    )


async def open_incidents(tenant_id: str, limit: int = 25, *, viewer: str | None = None,
                         private_too: bool = False) -> list[Incident]:
    """Incidents not yet closed, most severe and newest first: the private ones only
    `private_too` (asked in a 1:1 chat) and only those `viewer` is a member of."""
    found = list(await Incident.filter(tenant_id=tenant_id, status__in=OPEN)
                 .order_by("severity", "-declared_at").limit(limit))
    if not private_too or viewer is None:
        return [i for i in found if not i.private]
    return await privacy.visible(found, viewer)
