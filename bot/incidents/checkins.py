"""Regular private check-ins with the Investigator.

Guide: "Periodically introspect on your emotional state; if you feel panicky or
overwhelmed, ask the Incident Commander for more support." The bot asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import NotAllowedError, NotFoundError
from bot.incidents import notices as say
from bot.incidents.background import Background, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.people import Person
from bot.incidents.roles import Role, holder
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import Incident, IncidentStatus
from bot.store.models import Job


@dataclass(frozen=True)
class CheckIn(jobs.JobPayload):
    """Ask the Investigator of `incident_id` how it is going."""

    KIND = "incident.checkin"
    incident_id: int


def _key(incident: Incident) -> str:
    return f"checkin:{incident.id}"


async def schedule_next(ctx: Ctx, incident: Incident) -> None:
    """The next check-in, one interval (its level's, `Policy.checkin_s`) from now."""
    await jobs.schedule(CheckIn(incident.id),
                        due_ms=ctx.now_ms + ctx.policy.checkin_s(incident.severity) * 1000,
                        dedupe_key=_key(incident))


async def stop(incident: Incident) -> None:
    """No more check-ins (resolved)."""
    await jobs.cancel(_key(incident))


async def run(ctx: Ctx, incident_id: int) -> None:
    """The timer fired: ask the Investigator, and plan the next one."""
    incident = await Incident.get_or_none(id=incident_id)
    if incident is None or incident.status not in (IncidentStatus.INVESTIGATING,
                                                   IncidentStatus.MITIGATED):
        return
    investigator = holder(incident, Role.INVESTIGATOR)
    if investigator is not None:
        ctx.tell(say.CheckInRequested(incident.id, investigator))
        await record(ctx, incident, EventKind.CHECKIN_SENT,
                     f"Check-in sent to {investigator.name}.")
    await schedule_next(ctx, incident)


async def answer(ctx: Ctx, incident_id: int, *, ok: bool) -> Incident:
    """The Investigator answers; asking for support tells the Commander at once."""
    incident = await Incident.filter(id=incident_id, tenant_id=ctx.origin.tenant_id
                                     ).select_for_update().first()
    if incident is None:
        raise NotFoundError("That incident does not exist.")
    if ctx.actor.id != incident.investigator_id:
        raise NotAllowedError("This check-in is for the Investigator.")
    if ok:
        await record(ctx, incident, EventKind.CHECKIN, f"{ctx.actor.name} checked in: OK.")
        return incident
    await record(ctx, incident, EventKind.CHECKIN, f"{ctx.actor.name} asked for support.")
    commander = holder(incident, Role.COMMANDER)
    text = f"{ctx.actor.name} (Investigator) asked for support on INC-{incident.number}."
    if commander is not None:
        ctx.tell(say.DirectMessage(incident.id, commander, text + " Find out what they need."))
    mentions: tuple[Person, ...] = (commander,) if commander else ()
    ctx.tell(say.ThreadPost(incident.id, text, mentions))
    return incident


async def checkin_job(bg: Background, job: Job, payload: CheckIn) -> None:
    """The check-in, in the incident's transaction."""
    await bg.in_incident(payload.incident_id, lambda ctx: run(ctx, payload.incident_id))


JOBS = (JobHandler(CheckIn, checkin_job),)
