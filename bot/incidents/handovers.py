"""Handing a role over: the old holder keeps it until the new one accepts on the card.

The guide: "You may only let go of a role when the person stepping into the role has
acknowledged that they have taken over." A pending request expires (a durable job) and
the requester is reminded; only the person asked can answer.

When nobody can be asked for the Commander role (no squad, or the rotation ran out) the
request is open to anyone (`ANYONE`): the first to accept commands, the rest are told,
and the Investigator is reminded if nobody has after a few minutes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.errors import CommandError, NotAllowedError, NotFoundError
from bot.incidents import notices as say
from bot.incidents import privacy
from bot.incidents.background import Background, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.limits import clip
from bot.incidents.people import Person
from bot.incidents.roles import Role, holder, set_holder
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import (
    Handover,
    HandoverStatus,
    Incident,
    IncidentStatus,
    Participant,
)
from bot.store.models import Job


@dataclass(frozen=True)
class ExpireHandover(jobs.JobPayload):
    """Nobody answered role request `handover_id` in time."""

    KIND = "handover.expire"
    handover_id: int


@dataclass(frozen=True)
class Candidate:
    """Someone the on-call defaults ask next if the person asked does not accept, and why
    (stored on the handover as JSON, under the keys below)."""

    person: Person
    why: str | None = None

    def to_json(self) -> dict[str, str | None]:
        p = self.person
        return {"id": p.id, "name": p.name, "aad": p.aad_object_id, "why": self.why}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Candidate:
        return cls(Person(str(data["id"]), str(data["name"]), data.get("aad")), data.get("why"))


# The `to_id` of a request anyone in the incident's channel may accept.
ANYONE = "*"


def is_open(handover: Handover) -> bool:
    """Whether this request was made of anyone (nobody in particular was asked)."""
    return handover.anyone


def _job_key(handover_id: int) -> str:
    return f"handover:{handover_id}"


async def request_role(ctx: Ctx, incident: Incident, role: Role, person: Person, *,
                       reason: str | None = None,
                       next_candidates: list[Candidate] | None = None,
                       timeout_s: int | None = None) -> Handover:
    """Ask `person` to take `role`; the current holder keeps it until they accept.

    `next_candidates` (on-call defaults) are asked in turn if this person does not accept.
    """
    current = holder(incident, role)
    if current is not None and current.id == person.id:
        raise CommandError(f"{person.name} is already the {role.title} of INC-{incident.number}.")
    if role is Role.ASSISTANT and await Participant.filter(
        incident=incident, person_id=person.id, role=role.value
    ).exists():
        raise CommandError(f"{person.name} is already helping investigate INC-{incident.number}.")
    other = Role.COMMANDER if role is Role.INVESTIGATOR else Role.INVESTIGATOR
    other_holder = holder(incident, other)
    if role.single and other_holder is not None and other_holder.id == person.id:
        raise CommandError(
            f"{person.name} is the {other.title}; one person cannot hold both roles. "
            f"Hand the {other.title} role to someone else first."
        )
    await _supersede_pending(ctx, incident, role, person)
    timeout = timeout_s or ctx.policy.handover_timeout_s
    handover = await Handover.create(
        incident=incident, role=role.value, to_id=person.id, to_name=person.name,
        to_aad=person.aad_object_id, from_id=current.id if current else None,
        from_name=current.name if current else None, requested_by_id=ctx.actor.id,
        requested_by_name=ctx.actor.name, requested_at=ctx.now, reason=clip(reason, 256) if reason else None,
        answer_by=ctx.now + dt.timedelta(seconds=timeout),
        next_candidates=(None if next_candidates is None
                         else [c.to_json() for c in next_candidates]),
    )
    keeps = f" {current.name} keeps the role until then." if current else ""
    await privacy.join(incident, person, now_ms=ctx.now_ms)
    await record(ctx, incident, EventKind.ROLE_REQUESTED,
                 f"{ctx.actor.name} asked {person.name} to take the {role.title} role.{keeps}",
                 {"handover": handover.id, "role": role.value, "to": person.id})
    await jobs.schedule(ExpireHandover(handover.id), due_ms=ctx.now_ms + timeout * 1000,
                        dedupe_key=_job_key(handover.id))
    ctx.tell(say.RoleRequested(handover.id), say.CardChanged(incident.id))
    return handover


async def call_for(ctx: Ctx, incident: Incident, role: Role) -> Handover | None:
    """Nobody to ask for `role`: a card in the thread anyone may accept (first wins).
    Nothing if the role is held or someone is already being asked."""
    if holder(incident, role) is not None or await Handover.filter(
            incident=incident, role=role.value, status=HandoverStatus.PENDING).exists():
        return None
    wait_s = ctx.policy.commander_wanted_s
    handover = await Handover.create(
        incident=incident, role=role.value, to_id=ANYONE, to_name="anyone", anyone=True,
        requested_by_id=ctx.actor.id, requested_by_name=ctx.actor.name, requested_at=ctx.now,
        reason="nobody is on call to ask", answer_by=ctx.now + dt.timedelta(seconds=wait_s))
    await record(ctx, incident, EventKind.ROLE_REQUESTED,
                 f"Anyone in the channel may take the {role.title} role of "
                 f"INC-{incident.number}: nobody is on call to ask.",
                 {"handover": handover.id, "role": role.value, "to": ANYONE})
    await jobs.schedule(ExpireHandover(handover.id), due_ms=ctx.now_ms + wait_s * 1000,
                        dedupe_key=_job_key(handover.id))
    ctx.tell(say.RoleRequested(handover.id), say.CardChanged(incident.id))
    return handover


async def _supersede_pending(ctx: Ctx, incident: Incident, role: Role, person: Person) -> None:
    """A single role has at most one open request: a newer request replaces older ones."""
    query = Handover.filter(incident=incident, role=role.value, status=HandoverStatus.PENDING)
    if not role.single:
        query = query.filter(to_id=person.id)
    for old in await query:
        await Handover.filter(id=old.id).update(status=HandoverStatus.SUPERSEDED,
                                                answered_at=ctx.now)
        await jobs.cancel(_job_key(old.id))
        ctx.tell(say.HandoverAnswered(old.id))


async def pending_for(incident: Incident) -> list[Handover]:
    """Open requests, oldest first (the card shows them)."""
    return list(await Handover.filter(incident=incident, status=HandoverStatus.PENDING)
                .order_by("id"))


async def answer(ctx: Ctx, handover_id: int, *, accept: bool) -> Handover:
    """Accept or decline; only the person asked may, and only once (in their tenant)."""
    handover = await Handover.get_or_none(id=handover_id,
                                          incident__tenant_id=ctx.origin.tenant_id)
    if handover is None:
        raise NotFoundError("That role request no longer exists.")
    incident = await Incident.filter(id=handover.incident_id).select_for_update().get()
    anyone = is_open(handover)
    if not anyone and ctx.actor.id != handover.to_id:
        raise NotAllowedError(f"Only {handover.to_name} can answer this request.")
    role = Role(handover.role)
    if anyone and not accept:
        raise CommandError(f"Nobody has to decline: leave it for someone who can take the "
                           f"{role.title} role.")
    if anyone and incident.private:
        if ctx.origin.conversation_id != incident.thread_id:
            raise NotAllowedError(f"Take it on the card in INC-{incident.number}'s chat.")
    elif anyone and ctx.origin.channel_id != incident.channel_id:
        # "Anyone in the channel": the card is there, and so are the people it asks.
        raise NotAllowedError(f"Take it on the card in INC-{incident.number}'s thread in "
                              "the incidents channel.")
    if accept and role.single:
        other = Role.COMMANDER if role is Role.INVESTIGATOR else Role.INVESTIGATOR
        other_holder = holder(incident, other)
        if other_holder is not None and other_holder.id == ctx.actor.id:
            raise CommandError(f"You are the {other.title}; one person cannot hold both roles. "
                               f"Hand the {other.title} role over first.")
    status = HandoverStatus.ACCEPTED if accept else HandoverStatus.DECLINED
    # Conditional update: of two answers racing, exactly one finds it still pending.
    taker = ({"to_id": ctx.actor.id, "to_name": ctx.actor.name,
              "to_aad": ctx.actor.aad_object_id} if anyone else {})
    changed = await Handover.filter(id=handover.id, status=HandoverStatus.PENDING).update(
        status=status, answered_at=ctx.now, **taker)
    if not changed:
        await handover.refresh_from_db()
        if anyone and handover.status is HandoverStatus.ACCEPTED:
            raise CommandError(f"{handover.to_name} took the {role.title} role first.")
        raise CommandError(f"This request is already {handover.status.value}.")
    handover.status, handover.answered_at = status, ctx.now
    for field, value in taker.items():
        setattr(handover, field, value)
    await jobs.cancel(_job_key(handover.id))
    if accept:
        await _take_role(ctx, incident, role, handover)
    else:
        keeps = f"{handover.from_name} keeps it." if handover.from_name else "It stays open."
        await record(ctx, incident, EventKind.ROLE_DECLINED,
                     f"{handover.to_name} declined the {role.title} role. {keeps}",
                     {"handover": handover.id, "role": role.value})
        ctx.tell(say.ThreadPost(incident.id, f"{handover.to_name} declined the {role.title} "
                                f"role. {keeps}", (_requester(handover),)))
        await ask_next(ctx, incident, handover, "declined")
    ctx.tell(say.HandoverAnswered(handover.id), say.CardChanged(incident.id))
    return handover


async def _take_role(ctx: Ctx, incident: Incident, role: Role, handover: Handover) -> None:
    person = Person(handover.to_id, handover.to_name, handover.to_aad)
    # One who took an open request (in the chat, maybe added by hand) may see it from now.
    await privacy.join(incident, person, now_ms=ctx.now_ms)
    previous = holder(incident, role)
    if role.single:
        set_holder(incident, role, person)
        await incident.save()
        # Someone taking a single role no longer counts as an extra investigator.
        await Participant.filter(incident=incident, person_id=person.id).delete()
    else:
        await Participant.create(incident=incident, person_id=person.id, name=person.name,
                                 aad_object_id=person.aad_object_id, role=role.value)
    if role.single:
        await _withdraw_other_single_role(ctx, incident, role, person)
    released = f" {previous.name} is released." if previous and role.single else ""
    text = f"{person.name} accepted and is now {_article(role)}{role.title}.{released}"
    await record(ctx, incident, EventKind.ROLE_ACCEPTED, text,
                 {"handover": handover.id, "role": role.value, "from": handover.from_id})
    mentions = (person,) + ((previous,) if previous and role.single else ())
    ctx.tell(say.ThreadPost(incident.id, text, mentions))


def _article(role: Role) -> str:
    return "an " if role is Role.ASSISTANT else "the "


def _requester(handover: Handover) -> Person:
    return Person(handover.requested_by_id, handover.requested_by_name)


async def expire(ctx: Ctx, handover_id: int) -> None:
    """The timer ran out: the old holder keeps the role and the requester is told."""
    handover = await Handover.get_or_none(id=handover_id)
    if handover is None:
        return
    incident = await Incident.filter(id=handover.incident_id).select_for_update().get()
    if is_open(handover):
        await _nobody_took(ctx, incident, handover)
        return
    changed = await Handover.filter(id=handover.id, status=HandoverStatus.PENDING).update(
        status=HandoverStatus.EXPIRED, answered_at=ctx.now)
    if not changed:
        return
    role = Role(handover.role)
    keeps = f"{handover.from_name} keeps it." if handover.from_name else "It is still open."
    timeout = (ctx.policy.oncall_answer_s if handover.next_candidates is not None
               else ctx.policy.handover_timeout_s)
    minutes = timeout // 60
    text = (f"{handover.to_name} did not answer the request to take the {role.title} role "
            f"within {minutes} min. {keeps}")
    await record(ctx, incident, EventKind.ROLE_EXPIRED, text, {"handover": handover.id})
    ctx.tell(say.HandoverAnswered(handover.id), say.CardChanged(incident.id),
             say.ThreadPost(incident.id, text))
    if handover.requested_by_id:  # the bot's own on-call requests have nobody to remind
        ctx.tell(say.DirectMessage(incident.id, _requester(handover),
                                   f"INC-{incident.number}: {text} Ask someone else with "
                                   f"`@incident {role.value} @name`."))
    await ask_next(ctx, incident, handover, "did not answer")


async def _nobody_took(ctx: Ctx, incident: Incident, handover: Handover) -> None:
    """An open request nobody took in time: it stays open (anyone may still take it), and
    the Investigator, who runs the incident until there is a Commander, is reminded once."""
    if await Handover.filter(id=handover.id, status=HandoverStatus.PENDING).count() == 0:
        return
    if incident.status not in (IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED):
        await withdraw_open(ctx, incident)
        return
    role = Role(handover.role)
    minutes = ctx.policy.commander_wanted_s // 60
    text = (f"Nobody has taken the {role.title} role of INC-{incident.number} in {minutes} "
            f"min. Ask someone: `@incident {role.value} @name` (the card stays open).")
    await record(ctx, incident, EventKind.ROLE_UNTAKEN, text, {"handover": handover.id})
    investigator = holder(incident, Role.INVESTIGATOR)
    ctx.tell(say.ThreadPost(incident.id, text, (investigator,) if investigator else ()))


async def withdraw_open(ctx: Ctx, incident: Incident) -> None:
    """The incident is over: requests open to anyone end (nobody is asked to command a
    resolved incident, and their cards stop offering it)."""
    for pending in await Handover.filter(incident=incident, anyone=True,
                                         status=HandoverStatus.PENDING):
        await Handover.filter(id=pending.id).update(status=HandoverStatus.SUPERSEDED,
                                                    answered_at=ctx.now)
        await jobs.cancel(_job_key(pending.id))
        ctx.tell(say.HandoverAnswered(pending.id))


async def _withdraw_other_single_role(ctx: Ctx, incident: Incident, role: Role,
                                      person: Person) -> None:
    """Someone who took one single role cannot take the other: move that request on."""
    other = Role.COMMANDER if role is Role.INVESTIGATOR else Role.INVESTIGATOR
    for pending in await Handover.filter(incident=incident, role=other.value, to_id=person.id,
                                         status=HandoverStatus.PENDING):
        await Handover.filter(id=pending.id).update(status=HandoverStatus.SUPERSEDED,
                                                    answered_at=ctx.now)
        await jobs.cancel(_job_key(pending.id))
        ctx.tell(say.HandoverAnswered(pending.id))
        await ask_next(ctx, incident, pending, f"took the {role.title} role")


async def ask_next(ctx: Ctx, incident: Incident, handover: Handover, why: str) -> None:
    """On-call defaults: ask the next candidate, in the guide's order, and say why."""
    role = Role(handover.role)
    candidates = [Candidate.from_json(c) for c in handover.next_candidates or []]
    busy = {incident.investigator_id, incident.commander_id}
    while candidates:
        candidate = candidates.pop(0)
        person = candidate.person
        if person.id in busy:
            continue
        # The new card says why this person, and who did not take it before them: the
        # thread hears it once, on the card.
        before = f"{handover.to_name} {why}"
        await request_role(ctx, incident, role, person,
                           reason=f"{candidate.why}; {before}" if candidate.why else before,
                           next_candidates=candidates,
                           timeout_s=ctx.policy.oncall_answer_s)
        return
    if handover.next_candidates is not None and role is Role.COMMANDER:
        await call_for(ctx, incident, role)
    elif handover.next_candidates is not None:
        ctx.tell(say.ThreadPost(
            incident.id, f"Nobody from the rotation took the {role.title} role. Name someone: "
            f"`@incident {role.value} @name`."))


async def expire_job(bg: Background, job: Job, payload: ExpireHandover) -> None:
    """The expiry, in the incident's transaction."""
    incident_id = (await Handover.get(id=payload.handover_id)).incident_id
    await bg.in_incident(incident_id, lambda ctx: expire(ctx, payload.handover_id))


JOBS = (JobHandler(ExpireHandover, expire_job),)
