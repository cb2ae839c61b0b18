"""Private incidents (`declare private`): a Teams group chat of the people involved, and
nothing about them anywhere else but a redacted line.

Security issues and HR-sensitive outages must not be read by the whole incidents channel.
A private incident's members are its declarer, everyone asked for a role, and everyone
commandeered (`IncidentMember`); only they see it in `list` and `status`, and only they
may act on it. The incidents channel gets one redacted line (number, severity,
Commander), stakeholder posts say only that there was an update, follow-up issues and
exports leave the title out, and the public status page shows it only if the Commander
publishes (as for every incident).

Its place is a group chat made through Graph (integrations.teams_chats) in two durable
steps, each recorded before the next, so a retry never makes a second chat: `OpenChat`
creates it with the members known then and stores its id; `InstallInChat` installs the
bot there, then the held message that opens the incident (its live card) goes into the
chat and everything queued behind it follows (`say.SpaceReady`, as for a channel of its
own: bot/incidents/spaces.py). Until then that message is addressed to the declarer's 1:1
chat, which is where the incident lives if Graph refuses for good: never a public place.
People who join later are added with `AddToChat`. See docs/private-incidents.md.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.errors import BridgeError, CommandError, NotFoundError
from bot.incidents import notices as say
from bot.incidents import severity as sev
from bot.incidents.background import Background, ChatDirectory, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.people import Person
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import Incident, IncidentMember
from bot.store.models import Job
from integrations.teams_chats import NewChat

log = logging.getLogger(__name__)

TRIES = 4
# `space_state` of a private incident (None for a public one in thread space).
CREATING, CHAT, OPEN, FALLBACK = "creating", "chat", "private", "fallback"


@dataclasses.dataclass(frozen=True)
class OpenChat(jobs.JobPayload):
    """Create the private incident's group chat."""

    KIND = "incident.chat"
    incident_id: int


@dataclasses.dataclass(frozen=True)
class InstallInChat(jobs.JobPayload):
    """Install the bot in the chat, so that it may post there."""

    KIND = "incident.chat.install"
    incident_id: int


@dataclasses.dataclass(frozen=True)
class AddToChat(jobs.JobPayload):
    """Add one member who joined after the chat was made."""

    KIND = "incident.chat.member"
    incident_id: int
    person_id: str


def require_available(ctx: Ctx) -> None:
    """A private incident needs its chat: say what is missing before anything is made."""
    if not ctx.policy.private_enabled:
        raise CommandError(
            "A private incident needs a Microsoft Graph app (GRAPH_TENANT_ID, GRAPH_CLIENT_ID, "
            "GRAPH_CLIENT_SECRET) with the application permissions Chat.Create, "
            "TeamsAppInstallation.ReadWriteSelfForChat.All and ChatMember.ReadWrite.All "
            "(admin consent), and TEAMS_APP_CATALOG_ID. Nothing was declared. See "
            "docs/private-incidents.md.")
    if not ctx.actor.aad_object_id:
        raise CommandError("Teams did not say who you are in Microsoft Entra (your "
                           "aadObjectId), which the private chat needs. Nothing was declared.")


async def plan(ctx: Ctx, incident: Incident, people: list[Person]) -> None:
    """At declaring: the members so far, and the chat asked for."""
    incident.space_state = CREATING
    await incident.save()
    for person in [ctx.actor, *people]:
        await join(incident, person, now_ms=ctx.now_ms)
    await jobs.schedule(OpenChat(incident.id), due_ms=ctx.now_ms, max_attempts=TRIES)


async def join(incident: Incident, person: Person, *, now_ms: int) -> None:
    """`person` may see the private incident from now on (and is added to its chat)."""
    if not incident.private:
        return
    member, created = await IncidentMember.get_or_create(
        incident=incident, person_id=person.id,
        defaults={"name": person.name, "aad_object_id": person.aad_object_id})
    if not created and person.aad_object_id and not member.aad_object_id:
        member.aad_object_id = person.aad_object_id
        await member.save()
    if incident.space_state == OPEN and not member.in_chat:
        await jobs.schedule(AddToChat(incident.id, person.id), due_ms=now_ms,
                            max_attempts=TRIES,
                            dedupe_key=f"incident:{incident.id}:member:{person.id}")


async def may_see(incident: Incident, person_id: str) -> bool:
    """Whether `person_id` may see this incident (everyone may see a public one)."""
    return not incident.private or await IncidentMember.filter(
        incident_id=incident.id, person_id=person_id).exists()


async def require_member(incident: Incident, person_id: str) -> None:
    """Refuses anyone else the way an unknown number is refused: the redacted line is
    all they may know."""
    if not await may_see(incident, person_id):
        raise NotFoundError(f"INC-{incident.number} is a private incident: only the people "
                            "working on it can see it.")


async def visible(incidents: list[Incident], person_id: str) -> list[Incident]:
    """The incidents `person_id` may see, in the same order."""
    private = [i.id for i in incidents if i.private]
    if not private:
        return incidents
    mine = set(await IncidentMember.filter(incident_id__in=private, person_id=person_id)
               .values_list("incident_id", flat=True))
    return [i for i in incidents if not i.private or i.id in mine]


def redacted(incident: Incident, scale: sev.SeverityScale = sev.BUILT_IN) -> str:
    """What a public place may know of a private incident."""
    commander = incident.commander_name or "not yet named"
    return (f"A private incident INC-{incident.number} is open, "
            f"{scale.name(incident.severity)}, Commander: {commander}.")


def outside_title(incident: Incident) -> str:
    """The title as an outside system (a meeting's topic, a room's name) may show it."""
    return "private incident" if incident.private else incident.title


def reference(incident: Incident) -> str:
    """The incident as outside systems may name it (no title when it is private)."""
    return (f"private incident INC-{incident.number}" if incident.private
            else f"INC-{incident.number} ({incident.title})")


def _chats(bg: Background) -> ChatDirectory:
    if bg.chats is None:
        raise BridgeError("no Microsoft Graph app with TEAMS_APP_CATALOG_ID is configured",
                          provider="teams-chats", retryable=False)
    return bg.chats


async def open_chat(bg: Background, job: Job, payload: OpenChat) -> None:
    """Graph makes the chat outside any transaction; its id is stored in one."""
    incident = await Incident.get(id=payload.incident_id)
    if incident.space_state != CREATING:
        return
    if incident.thread_id:  # the hold ran out before this job could run: stay in the 1:1
        await bg.in_incident(incident.id, lambda ctx: chat_failed(
            ctx, incident.id, "the chat could not be made before the incident had started "
            "here"))
        return
    members = await IncidentMember.filter(incident_id=incident.id).order_by("id")
    invited = [m for m in members if m.aad_object_id]
    topic = (f"INC-{incident.number} (private) {bg.policy.severity.name(incident.severity)} · "
             f"{incident.title}")
    await bg.call_provider(
        job, incident.id, lambda: _chats(bg).create(
            topic=topic, members=[m.aad_object_id or "" for m in invited]),
        errors=BridgeError, metric=None,
        failed=lambda ctx, reason: chat_failed(ctx, incident.id, reason),
        done=lambda ctx, chat: chat_made(ctx, incident.id, chat, [m.id for m in invited]))


async def chat_made(ctx: Ctx, incident_id: int, chat: NewChat, member_ids: list[int]) -> None:
    """The chat exists: remember it before anything else is asked of it."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if incident.space_state != CREATING:
        log.warning("INC-%s got chat %s after it stopped waiting for one", incident.number,
                    chat.id)
        return
    incident.chat_id, incident.space_state = chat.id, CHAT
    await incident.save()
    await IncidentMember.filter(id__in=member_ids).update(in_chat=True)
    await jobs.schedule(InstallInChat(incident.id), due_ms=ctx.now_ms, max_attempts=TRIES)


async def install_in_chat(bg: Background, job: Job, payload: InstallInChat) -> None:
    """Install the bot in the chat (installing twice is harmless)."""
    incident = await Incident.get(id=payload.incident_id)
    if incident.space_state != CHAT or not incident.chat_id:
        return
    chat_id = incident.chat_id
    await bg.call_provider(
        job, incident.id, lambda: _chats(bg).install(chat_id=chat_id),
        errors=BridgeError, metric=None,
        failed=lambda ctx, reason: chat_failed(ctx, incident.id, reason),
        done=lambda ctx, _: chat_ready(ctx, incident.id))


async def chat_ready(ctx: Ctx, incident_id: int) -> None:
    """The incident moves into its chat; whoever joined meanwhile is added."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if incident.space_state != CHAT:
        return
    if incident.thread_id:
        # The hold ran out first (Graph took longer than it): its card and everything after
        # it are in the declarer's 1:1 already. Moving now would split the incident.
        await chat_failed(ctx, incident_id, "Microsoft Graph made the chat only after the "
                          "incident had started here")
        return
    incident.space_state = OPEN
    await incident.save()
    await record(ctx, incident, EventKind.CHANNEL,
                 f"INC-{incident.number} has its private group chat.",
                 {"chat": incident.chat_id})
    ctx.tell(say.SpaceReady(incident.id))
    for member in await IncidentMember.filter(incident_id=incident.id, in_chat=False):
        await jobs.schedule(AddToChat(incident.id, member.person_id), due_ms=ctx.now_ms,
                            max_attempts=TRIES,
                            dedupe_key=f"incident:{incident.id}:member:{member.person_id}")


async def chat_failed(ctx: Ctx, incident_id: int, reason: str) -> None:
    """No chat: the incident stays in the declarer's 1:1 chat (never a public place)."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if incident.space_state not in (CREATING, CHAT):
        return
    incident.space_state = FALLBACK
    await incident.save()
    text = (f"INC-{incident.number} could not get its private group chat: {reason}. It "
            "stays private, here in your 1:1 chat with the bot, where nobody else sees it: "
            "people you commandeer are still asked privately, but role cards are here, so "
            "nobody else can accept them until an admin fixes this.")
    await record(ctx, incident, EventKind.CHANNEL_FAILED, text)
    ctx.tell(say.SpaceReady(incident.id), say.ThreadPost(incident.id, text))


async def add_to_chat(bg: Background, job: Job, payload: AddToChat) -> None:
    """One member more; someone Graph cannot add is named in the chat, to add by hand."""
    incident = await Incident.get(id=payload.incident_id)
    member = await IncidentMember.get_or_none(incident_id=incident.id,
                                              person_id=payload.person_id)
    if member is None or member.in_chat or incident.space_state != OPEN or not incident.chat_id:
        return
    chat_id, aad = incident.chat_id, member.aad_object_id
    if not aad:
        await bg.in_incident(incident.id, lambda ctx: _say(
            ctx, incident.id, f"Could not add {member.name} to this chat: Teams did not "
            "give their Microsoft Entra id. Add them by hand (they may see this incident)."))
        return
    await bg.call_provider(
        job, incident.id, lambda: _chats(bg).add_member(chat_id=chat_id, member=aad),
        errors=BridgeError, metric=None,
        failed=lambda ctx, reason: _say(ctx, incident.id, f"Could not add {member.name} to "
                                        f"this chat: {reason}. Add them by hand."),
        done=lambda ctx, _: _added(member.id))


async def _added(member_id: int) -> None:
    await IncidentMember.filter(id=member_id).update(in_chat=True)


async def _say(ctx: Ctx, incident_id: int, text: str) -> None:
    ctx.tell(say.ThreadPost(incident_id, text))


JOBS = (JobHandler(OpenChat, open_chat), JobHandler(InstallInChat, install_in_chat),
        JobHandler(AddToChat, add_to_chat))
