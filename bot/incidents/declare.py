"""Declaring an incident: a number, roles filled, a thread, an announcement.

Guide: "until you know otherwise assume the higher severity if this is unclear"; the
on-call engineer (here: the declarer, until on-call schedules exist) becomes Investigator.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import CommandError
from bot.incidents import checkins, handovers, oncall, privacy, rooms, spaces, staffing
from bot.incidents import notices as say
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import Declared, EventKind
from bot.incidents.limits import MAX_TITLE, clip
from bot.incidents.numbering import next_number
from bot.incidents.people import Person
from bot.incidents.roles import Role, set_holder
from bot.incidents.team_settings import incidents_channel
from bot.incidents.timeline import record
from bot.store.incident_models import Incident
from bot.store.oncall_models import Squad


@dataclass(frozen=True)
class Declaration:
    """What the declarer said (from the command line or the form card)."""

    title: str
    severity: int | None = None
    investigator: Person | None = None
    commander: Person | None = None
    description: str | None = None
    affected: str | None = None
    # The last word of the title may name a squad whose on-call fills the roles.
    squad_in_title: bool = True
    # Talked about in a group chat of its members only (bot/incidents/privacy.py).
    private: bool = False
    # A squad named outright (an alert rule's, bot/incidents/alerts.py): its on-call
    # fills the roles, as a squad named at the end of the title would.
    squad: str | None = None


async def declare(ctx: Ctx, what: Declaration) -> Incident:
    """Open the incident; the thread and card are created by the outbox right after commit."""
    if what.private:
        privacy.require_available(ctx)
    title, squad = await _squad_from_title(ctx, what)
    title = clip(title, MAX_TITLE)
    if not title:
        raise CommandError("An incident needs a title: `@incident declare <title> [sev1-4]`.")
    channel_id, team_id = await incidents_channel(ctx)
    scale = ctx.policy.severity
    level = what.severity or scale.highest
    incident = await Incident.create(
        tenant_id=ctx.origin.tenant_id, number=await next_number(ctx.origin.tenant_id),
        title=title, severity=level, declared_at=ctx.now,
        description=clip(what.description) if what.description else None,
        affected=clip(what.affected) if what.affected else None,
        declared_by_id=ctx.actor.id, declared_by_name=ctx.actor.name,
        service_url=ctx.origin.service_url, team_id=team_id, channel_id=channel_id,
        private=what.private,
    )
    set_holder(incident, Role.INVESTIGATOR, ctx.actor)
    await incident.save()
    assumed = "" if what.severity else " (severity not given: assuming the highest until known)"
    await record(ctx, incident, EventKind.DECLARED,
                 f"{ctx.actor.name} declared INC-{incident.number} {scale.name(level)}: "
                 f"{title}{assumed}", Declared(level).to_json())
    await rooms.request_room(ctx, incident, ctx.policy.video_chain)
    if what.private:
        named = [p for p in (what.investigator, what.commander) if p is not None]
        await privacy.plan(ctx, incident, named)
        own_channel = False
    else:
        own_channel = await spaces.plan(ctx, incident)
    ctx.tell(say.ThreadOpened(incident.id))
    await _ask_for_roles(ctx, incident, what)
    if squad is not None:
        await oncall.attach_runbook(ctx, incident, squad)
    staffed = squad is not None and what.investigator is None and what.commander is None
    wanted = ""
    if staffed:
        assert squad is not None
        await staffing.plan(ctx, incident, squad)
    elif what.commander is None and incident.commander_id is None:
        # Nobody to ask for command: anyone in the channel may take it on its card.
        await handovers.call_for(ctx, incident, Role.COMMANDER)
        wanted = (" Nobody is the Incident Commander yet: anyone can take it on the card "
                  "in the thread.")
    await checkins.schedule_next(ctx, incident)
    lead = (f"{ctx.actor.name} is the Investigator until someone else accepts."
            if incident.investigator_id == ctx.actor.id else
            f"{ctx.actor.name} is the Incident Commander.")
    if what.private:
        await _announce_private(ctx, incident, lead)
        return incident
    where = ("its own channel, which is being created (announced here)" if own_channel
             else "its thread in the incidents channel")
    ctx.tell(say.Reply(
        f"Declared INC-{incident.number} {scale.name(level)}: {title}.{assumed} {lead}{wanted} "
        f"All talk about it goes in {where}."))
    return incident


async def _announce_private(ctx: Ctx, incident: Incident, lead: str) -> None:
    """The incidents channel learns only the redacted line; so does a public place the
    declarer typed in (the title and the rest go to the private chat)."""
    ctx.tell(say.ChannelPost(incident.id, incident.channel_id,
                             privacy.redacted(incident, ctx.policy.severity)))
    if ctx.origin.conversation_type == "personal":
        ctx.tell(say.Reply(
            f"Declared private incident INC-{incident.number} "
            f"{ctx.policy.severity.name(incident.severity)}: {incident.title}. {lead} Its group chat, with "
            "you and the people you named, is being created; only its members see it."))
    else:
        ctx.tell(say.Reply(f"Declared private incident INC-{incident.number}. Its group chat "
                           "is being created; only its members see it."))


async def _squad_from_title(ctx: Ctx, what: Declaration) -> tuple[str, Squad | None]:
    if what.squad:
        return what.title, await oncall.squad_named(ctx.origin.tenant_id, what.squad)
    head, _, last = what.title.strip().rpartition(" ")
    if what.squad_in_title and head and await oncall.is_squad(ctx.origin.tenant_id, last):
        return head, await oncall.squad_named(ctx.origin.tenant_id, last)
    return what.title, await oncall.squad_for(ctx, None)


async def _ask_for_roles(ctx: Ctx, incident: Incident, what: Declaration) -> None:
    commander, investigator = what.commander, what.investigator
    if commander is not None and commander.id == ctx.actor.id:
        if investigator is None or investigator.id == ctx.actor.id:
            raise CommandError("You are the Investigator; name someone else as Commander.")
        # The declarer takes command at once (no one else needs to accept) and leaves the
        # Investigator role to the person named, open until they accept.
        set_holder(incident, Role.COMMANDER, ctx.actor)
        set_holder(incident, Role.INVESTIGATOR, None)
        await incident.save()
        commander = None
    if investigator is not None and investigator.id != ctx.actor.id:
        await handovers.request_role(ctx, incident, Role.INVESTIGATOR, investigator)
    if commander is not None:
        await handovers.request_role(ctx, incident, Role.COMMANDER, commander)
