"""Commandeering: the Commander pulls anyone into the incident; their answer is recorded.

Guide: "declaring an incident grants the ability to the Incident Commander to commandeer
any person within the company at any level".
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import CommandError, NotAllowedError, NotFoundError
from bot.incidents import notices as say
from bot.incidents import privacy
from bot.incidents.background import Background, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.limits import clip
from bot.incidents.people import Person
from bot.incidents.roles import require_commandeerer
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import Commandeer, CommandeerStatus, Incident
from bot.store.models import Job
from integrations.teams_apps import AppInstallError


@dataclass(frozen=True)
class RemindCommandeer(jobs.JobPayload):
    """Tell the Commander that `commandeer_id` has not answered yet."""

    KIND = "commandeer.remind"
    commandeer_id: int


async def commandeer(ctx: Ctx, incident: Incident, person: Person, why: str) -> Commandeer:
    """Message `person` 1:1 with the incident and a join/can't answer."""
    require_commandeerer(ctx, incident)
    if person.id == ctx.actor.id:
        raise CommandError("You cannot commandeer yourself.")
    request = await Commandeer.create(
        incident=incident, person_id=person.id, name=person.name,
        aad_object_id=person.aad_object_id, why=clip(why) if why else None,
        requested_by_id=ctx.actor.id, requested_by_name=ctx.actor.name, requested_at=ctx.now,
    )
    reason = f": {clip(why, 200)}" if why else ""
    await privacy.join(incident, person, now_ms=ctx.now_ms)
    await record(ctx, incident, EventKind.COMMANDEERED,
                 f"{ctx.actor.name} commandeered {person.name}{reason}",
                 {"commandeer": request.id, "person": person.id})
    await jobs.schedule(RemindCommandeer(request.id),
                        due_ms=ctx.now_ms + ctx.policy.commandeer_timeout_s * 1000,
                        dedupe_key=f"commandeer:{request.id}")
    ctx.tell(say.CommandeerRequested(request.id),
             say.Reply(f"Asked {person.name} privately to join INC-{incident.number}. "
                       "Their answer will show here."))
    return request


async def answer(ctx: Ctx, commandeer_id: int, *, joining: bool) -> Commandeer:
    """The commandeered person answers; only they can (in their tenant)."""
    request = await Commandeer.get_or_none(id=commandeer_id,
                                           incident__tenant_id=ctx.origin.tenant_id)
    if request is None:
        raise NotFoundError("That request no longer exists.")
    if ctx.actor.id != request.person_id:
        raise NotAllowedError(f"This request is for {request.name}.")
    incident = await Incident.filter(id=request.incident_id).select_for_update().get()
    status = CommandeerStatus.JOINING if joining else CommandeerStatus.DECLINED
    # Conditional update: of two answers racing, exactly one finds the request unanswered.
    changed = await Commandeer.filter(
        id=request.id, status__in=[CommandeerStatus.PENDING, CommandeerStatus.EXPIRED]
    ).update(status=status, answered_at=ctx.now)
    if not changed:
        await request.refresh_from_db()
        raise CommandError(f"You already answered: {request.status.value}.")
    request.status, request.answered_at = status, ctx.now
    await jobs.cancel(f"commandeer:{request.id}")
    verdict = "is joining" if joining else "can't join"
    text = f"{request.name} {verdict} (asked by {request.requested_by_name})."
    await record(ctx, incident, EventKind.COMMANDEER_ANSWER, text,
                 {"commandeer": request.id, "joining": joining})
    commander = Person(request.requested_by_id, request.requested_by_name)
    ctx.tell(say.ThreadPost(incident.id, text, (commander,)))
    return request


async def remind(ctx: Ctx, commandeer_id: int) -> None:
    """No answer in time: remind whoever asked (the request stays open for a late answer)."""
    request = await Commandeer.get_or_none(id=commandeer_id)
    if request is None or request.status is not CommandeerStatus.PENDING:
        return
    incident = await Incident.filter(id=request.incident_id).select_for_update().get()
    if not await Commandeer.filter(id=request.id, status=CommandeerStatus.PENDING).update(
            status=CommandeerStatus.EXPIRED):
        return  # answered meanwhile
    minutes = ctx.policy.commandeer_timeout_s // 60
    text = f"{request.name} has not answered the commandeer request after {minutes} min."
    await record(ctx, incident, EventKind.COMMANDEER_UNANSWERED, text, {"commandeer": request.id})
    commander = Person(request.requested_by_id, request.requested_by_name)
    ctx.tell(say.DirectMessage(incident.id, commander, f"INC-{incident.number}: {text} Try someone else, "
                               "or call them."),
             say.ThreadPost(incident.id, text, (commander,)))


@dataclass(frozen=True)
class InstallForCommandeer(jobs.JobPayload):
    """Install the bot for `commandeer_id`'s person (Teams refused the 1:1), then ask again."""

    KIND = "commandeer.install_app"
    commandeer_id: int


async def unreachable(ctx: Ctx, commandeer_id: int, reason: str) -> None:
    """Teams will not let the bot message the person privately: ask in the thread instead,
    so the request still reaches them, and the Commander knows how it was asked."""
    request = await Commandeer.get_or_none(id=commandeer_id)
    if request is None:
        return
    incident = await Incident.filter(id=request.incident_id).select_for_update().get()
    await record(ctx, incident, EventKind.COMMANDEER_UNREACHABLE,
                 f"Could not message {request.name} privately ({reason}); asked them in "
                 "the incident thread instead.", {"commandeer": request.id})
    ctx.tell(say.CommandeerInThread(request.id, reason))


async def install_then_ask(ctx: Ctx, commandeer_id: int) -> None:
    """Teams refused the 1:1 because the bot is not installed for the person: install it
    for them (Microsoft Graph), then message them again."""
    await jobs.schedule(InstallForCommandeer(commandeer_id), due_ms=ctx.now_ms,
                        dedupe_key=f"commandeer-install:{commandeer_id}")


async def asked_again(ctx: Ctx, commandeer_id: int) -> None:
    """The bot is installed for the person now: the 1:1 can go."""
    request = await Commandeer.get(id=commandeer_id)
    incident = await Incident.get(id=request.incident_id)
    await record(ctx, incident, EventKind.COMMANDEERED,
                 f"Installed the incident bot for {request.name} to message them privately.",
                 {"commandeer": request.id, "installed": True})
    ctx.tell(say.CommandeerRequested(request.id, after_install=True))


async def install_job(bg: Background, job: Job, payload: InstallForCommandeer) -> None:
    """Install through the app installer (outside any transaction), then record the outcome."""
    request = await Commandeer.get_or_none(id=payload.commandeer_id)
    if request is None:
        return
    installer = bg.apps
    if installer is None or not request.aad_object_id:
        why = "the incident bot is not installed for them"
        if installer is not None:
            why += (", and Teams did not give their Microsoft Entra id, so it could not be "
                    "installed for them")
        await bg.in_incident(request.incident_id, lambda ctx: unreachable(ctx, request.id, why))
        return
    aad_object_id = request.aad_object_id
    await bg.call_provider(
        job, request.incident_id, lambda: installer.install_for(aad_object_id),
        errors=AppInstallError, metric=None,
        failed=lambda ctx, error: unreachable(
            ctx, request.id, "the incident bot is not installed for them, and installing it "
                             f"failed: {error}"),
        done=lambda ctx, _: asked_again(ctx, request.id))


async def remind_job(bg: Background, job: Job, payload: RemindCommandeer) -> None:
    """The reminder, in the incident's transaction."""
    incident_id = (await Commandeer.get(id=payload.commandeer_id)).incident_id
    await bg.in_incident(incident_id, lambda ctx: remind(ctx, payload.commandeer_id))


JOBS = (JobHandler(RemindCommandeer, remind_job),
        JobHandler(InstallForCommandeer, install_job))
