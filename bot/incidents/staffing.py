"""On-call defaults at declaration, in the guide's order.

"By default: the on-call engineer becomes the Investigator; if on-call is not available
then the secondary becomes the Investigator; secondary on-call becomes the Incident
Commander; if the secondary is not available look for an online member of the
appropriate squad first." Everyone is asked on a card that says why them; the declarer
keeps the Investigator role until someone accepts. With nobody to ask for command, anyone
in the channel may take it (`handovers.call_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from bot.incidents import handovers
from bot.incidents import notices as say
from bot.incidents.background import Background, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.oncall import Duty, current, members
from bot.incidents.people import Person
from bot.incidents.roles import Role, set_holder
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import Incident, IncidentStatus
from bot.store.models import Job
from bot.store.oncall_models import Squad
from integrations.presence import Availability


@dataclass(frozen=True)
class Staff(jobs.JobPayload):
    """Ask `squad_id`'s on-call to fill the roles of `incident_id`."""

    KIND = "incident.staff"
    incident_id: int
    squad_id: int


async def plan(ctx: Ctx, incident: Incident, squad: Squad) -> None:
    """Ask the squad's on-call right after the declaration commits (presence is looked up
    outside the transaction)."""
    incident.squad = squad.name
    await incident.save()
    await jobs.schedule(Staff(incident.id, squad.id), due_ms=ctx.now_ms)


async def people_to_check(squad_id: int) -> list[Person]:
    """Everyone whose presence matters for this squad."""
    return await members(await Squad.get(id=squad_id))


async def staff(ctx: Ctx, incident_id: int, squad_id: int,
                presence: dict[str, Availability]) -> None:
    """Ask for Investigator and Commander from the rotation, passing over the unavailable."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if incident.status not in (IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED):
        return  # resolved before the defaults ran: nobody needs paging
    squad = await Squad.get(id=squad_id)
    primary, secondary = await current(squad, ctx.now)
    if primary and secondary and primary.person.id == secondary.person.id:
        secondary = None  # someone covering both slots is asked once
    skipped: list[str] = []

    def available(duty: Duty | None) -> TypeGuard[Duty]:
        if duty is None:
            return False
        state = presence.get(duty.person.aad_object_id or "")
        reason = state.unavailable_because if state else None
        if reason:
            skipped.append(f"{duty.person.name} ({duty.why}) is {reason}")
        return reason is None

    on_duty = [d for d in (primary, secondary) if available(d)]
    # Unavailable on-call people are asked last rather than never: better than nobody.
    last_resort = [d for d in (primary, secondary) if d is not None and d not in on_duty]
    others = await _online_first(squad, presence, exclude={d.person.id for d in (primary,
                                                                                secondary) if d})
    pending = {h.role for h in await handovers.pending_for(incident)}
    if (secondary in on_duty and primary in on_duty and secondary is not None
            and secondary.person.id == incident.investigator_id):
        # The secondary declared: they take command at once, the primary is asked to
        # investigate (the guide's split, without asking the declarer to accept).
        set_holder(incident, Role.COMMANDER, secondary.person)
        set_holder(incident, Role.INVESTIGATOR, None)
        await incident.save()
        ctx.tell(say.ThreadPost(incident.id, f"{secondary.person.name} ({secondary.why}) "
                                "declared and is the Incident Commander."))
        on_duty, commanders = [primary], []
    else:
        # The secondary commands when the primary investigates; else the squad is searched.
        commanders = ([secondary] if len(on_duty) == 2 and secondary else []) + others
    if Role.INVESTIGATOR.value not in pending:  # a request someone made by hand stands
        await _ask(ctx, incident, Role.INVESTIGATOR, on_duty + last_resort)
    if Role.COMMANDER.value not in pending:
        await _ask(ctx, incident, Role.COMMANDER, commanders + last_resort)
    summary = f"On-call defaults for squad {squad.name}."
    if skipped:
        summary += " Passed over: " + "; ".join(skipped) + "."
    await record(ctx, incident, EventKind.ONCALL, summary)
    ctx.tell(say.CardChanged(incident.id))
    if skipped:  # the role cards say why each person was asked, not who was passed over
        ctx.tell(say.ThreadPost(incident.id, summary))


async def _online_first(squad: Squad, presence: dict[str, Availability], *,
                        exclude: set[str]) -> list[Duty]:
    """Other squad members who can be asked, those shown Available first."""
    people = [p for p in await members(squad) if p.id not in exclude]
    usable = []
    for person in people:
        state = presence.get(person.aad_object_id or "")
        if state is None or state.unavailable_because is None:
            usable.append((0 if state and state.online else 1, person))
    usable.sort(key=lambda item: item[0])
    return [Duty(p, f"{'online ' if rank == 0 else ''}member of {squad.name}")
            for rank, p in usable]


async def _ask(ctx: Ctx, incident: Incident, role: Role, duties: list[Duty]) -> None:
    holder_id = incident.investigator_id if role is Role.INVESTIGATOR else incident.commander_id
    other_id = incident.commander_id if role is Role.INVESTIGATOR else incident.investigator_id
    queue = [d for d in duties if d.person.id != other_id]
    if queue and queue[0].person.id == holder_id:
        return  # the declarer is on call: they already hold the role
    queue = [d for d in queue if d.person.id != holder_id]
    if not queue:
        if role is Role.COMMANDER:
            await handovers.call_for(ctx, incident, role)
        return
    first, rest = queue[0], queue[1:]
    # The role card says who is asked and why; the thread hears it once, there.
    await handovers.request_role(ctx, incident, role, first.person, reason=first.why,
                                 next_candidates=[handovers.Candidate(d.person, d.why)
                                                  for d in rest],
                                 timeout_s=ctx.policy.oncall_answer_s)


async def staff_job(bg: Background, job: Job, payload: Staff) -> None:
    """Presence (Graph) is asked outside any transaction; it only orders the candidates."""
    people = await people_to_check(payload.squad_id)
    seen = await bg.presence.lookup(p.aad_object_id for p in people if p.aad_object_id)
    await bg.in_incident(payload.incident_id, lambda ctx: staff(
        ctx, payload.incident_id, payload.squad_id, seen))


JOBS = (JobHandler(Staff, staff_job),)
