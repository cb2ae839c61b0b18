"""Who is in the Incident Command Room: the provider's join and leave events, matched to
the people working the incident.

Guide: the Investigator and the Commander meet in the room; so while an incident is open
the bot follows who joins and leaves it, the live card says who is there now (role holders
first), joins and leaves go on the timeline and into the review, a commandeered person's
request shows that they joined, and the Commander is told privately when the Investigator
has not joined `ROOM_JOIN_CHECK_MINUTES` after the room was made.

Zoom reports attendance through its webhooks (`bot.web.zoom_events`, with
`ZOOM_WEBHOOK_SECRET_TOKEN` set); Google Meet through its REST API's conference records,
which the bot polls every `MEET_ATTENDANCE_POLL_SECONDS` while the incident is open
(`PollMeet`: one list of records, participants and sessions per poll, far below Meet's
per-minute read quotas). Teams meetings, with `TEAMS_ATTENDANCE` on, through Graph's
attendance reports, polled every `TEAMS_ATTENDANCE_POLL_SECONDS` (`PollTeams`, the same
path as Meet's): Graph makes a report only when a session of the meeting ends, so a Teams
room never says who is in it now; the card says who attended (`InRoom.attended`), and the
Investigator's join check is not made for it (a session going on has no report yet, so the
check would nudge the Commander about an Investigator who may be in the call). A room is
followed when `Incident.room_meeting_id` is set, which `follow` does when the room is made.
Jitsi rooms, Teams rooms with `TEAMS_ATTENDANCE` off, and Meet rooms made through Calendar
(not by this app) report nothing, and the bot says so rather than show an empty room.

Matching a participant to a Teams person: Graph's attendance records carry the attendee's
Entra object id, matched first to the incident's people's (`Person.aad_object_id`: the
role holders, the extra investigators, the commandeered). Zoom's events and Meet's
participants carry none, so a participant is then matched by display name
(case-insensitively, only when exactly one of the incident's people has it); one left
unmatched whose event carries an email is matched in the background by the email or UPN
Teams gives for each of the incident's people (`MatchByEmail`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.errors import BridgeError
from bot.incidents import notices as say
from bot.incidents.background import Background, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.local_time import incident_zone, written
from bot.incidents.people import Person
from bot.incidents.pir_record import AttendanceLine
from bot.incidents.roles import Role, assistants, holder
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import (
    Commandeer,
    Incident,
    IncidentStatus,
    RoomSession,
)
from bot.store.models import Job, JobStatus
from integrations.video import Room, Stay
from integrations.zoom_webhooks import ParticipantEvent

log = logging.getLogger(__name__)
ROOM = "the Incident Command Room"
# How the card and the timeline name the role holders in the room.
ROLE_LABELS = {Role.INVESTIGATOR: "Investigator", Role.COMMANDER: "Commander"}
# Providers whose rooms can report attendance (Zoom with its webhook configured, Meet
# spaces, Teams meetings with TEAMS_ATTENDANCE).
REPORTING = ("zoom", "meet", "teams")
# What a followed Teams room can say about who is in it.
TEAMS_AFTER = ("Teams meetings report attendance only after a session ends, so who is in "
               "the room now is not known")
TEAMS_PERMISSION = "OnlineMeetingArtifact.Read.All"


@dataclass(frozen=True)
class CheckInvestigatorJoined(jobs.JobPayload):
    """`ROOM_JOIN_CHECK_MINUTES` after room `meeting_id` was made: has the Investigator
    joined it?"""

    KIND = "room.join_check"
    incident_id: int
    meeting_id: str


@dataclass(frozen=True)
class PollMeet(jobs.JobPayload):
    """Read who is in Meet space `meeting_id` (the incident's room) and record what changed."""

    KIND = "room.meet_poll"
    incident_id: int
    meeting_id: str


@dataclass(frozen=True)
class PollTeams(jobs.JobPayload):
    """Read the attendance reports of Teams meeting `online_meeting_id` (Graph's id; the
    incident's room, which `meeting_id` names as `Incident.room_meeting_id` does) and
    record what is new."""

    KIND = "room.teams_poll"
    incident_id: int
    meeting_id: str
    online_meeting_id: str


Poll = PollMeet | PollTeams


@runtime_checkable
class AttendanceReader(Protocol):
    """A video bridge that can say who was in one of its rooms (integrations.google_meet,
    integrations.teams_meetings)."""

    async def attendance(self, meeting_id: str) -> list[Stay]:
        """Every stay in the room so far; `BridgeError` when the provider will not say."""
        ...


@dataclass(frozen=True)
class MatchByEmail(jobs.JobPayload):
    """Find the Teams person whose email is that of session `session_id`."""

    KIND = "room.match_email"
    session_id: int


@dataclass(frozen=True)
class InRoom:
    """Who is in the room now: (role title or None, name), role holders first; `ever`
    says whether anyone has been in it."""

    people: tuple[tuple[str | None, str], ...]
    ever: bool
    # Teams: `people` are who attended the room's ended sessions, not who is in it now.
    attended: bool = False


def teams_handle(online_meeting_id: str) -> str:
    """What `Incident.room_meeting_id` keeps for a Teams meeting: Graph's ids are longer
    than its column, so a digest of the id (the poll job carries the id itself)."""
    return "teams:" + hashlib.sha256(online_meeting_id.encode()).hexdigest()[:26]


def follow(ctx: Ctx, incident: Incident, room: Room) -> bool:
    """A new room was made (the caller saves the incident): follow its attendance if its
    provider reports it; whether it does."""
    meeting = room.meeting_id or ""
    followed = bool(meeting) and (
        (room.provider == "zoom" and ctx.policy.room_attendance)
        or (room.provider == "meet" and ctx.policy.meet_poll_s > 0
            and meeting.startswith("spaces/"))
        or (room.provider == "teams" and ctx.policy.teams_attendance))
    if followed and room.provider == "teams":
        meeting = teams_handle(meeting)
    incident.room_meeting_id = meeting if followed else None
    return followed


async def check_later(ctx: Ctx, incident: Incident, room: Room) -> None:
    """Start reading the room just followed, and schedule the Investigator's join check
    (not for a Teams room: see the module's docstring)."""
    if incident.room_meeting_id is None:
        return
    if incident.room_provider == "meet":
        await _poll_later(ctx, PollMeet(incident.id, incident.room_meeting_id))
    if incident.room_provider == "teams":
        await _poll_later(ctx, PollTeams(incident.id, incident.room_meeting_id,
                                         room.meeting_id or ""))
        return
    await jobs.schedule(CheckInvestigatorJoined(incident.id, incident.room_meeting_id),
                        due_ms=ctx.now_ms + ctx.policy.room_join_check_s * 1000,
                        dedupe_key=f"room-join-check:{incident.id}")


async def _poll_later(ctx: Ctx, poll: Poll) -> None:
    """The next poll: one chain per incident (a poll run twice, its lease lapsed, replaces
    the other's next poll instead of starting a second chain), retried a few times if it
    fails unexpectedly (a provider's refusal is handled by the poll itself)."""
    seconds = ctx.policy.teams_poll_s if isinstance(poll, PollTeams) else ctx.policy.meet_poll_s
    key = f"room-poll:{poll.incident_id}"
    # The running poll keeps its row (and its count as done); only a waiting one goes.
    await Job.filter(dedupe_key=key).exclude(status=JobStatus.PENDING).update(dedupe_key=None)
    await jobs.schedule(poll, due_ms=ctx.now_ms + seconds * 1000, max_attempts=3,
                        dedupe_key=key)


def unavailable(incident: Incident) -> str | None:
    """Why the room's attendance is not known, in plain words; None when it is followed
    (a followed Teams room: that it is known only after each session ends)."""
    if incident.room_meeting_id:
        return f"{TEAMS_AFTER}." if incident.room_provider == "teams" else None
    if incident.room_provider == "jitsi":
        return "Attendance is not available: Jitsi rooms do not report who joins them."
    if incident.room_provider == "teams":
        return ("Attendance is not available: Microsoft Teams rooms report who attended only "
                f"with TEAMS_ATTENDANCE on and the {TEAMS_PERMISSION} permission granted.")
    if incident.room_provider == "meet":
        return ("Attendance is not available: this Google Meet room was made through "
                "Calendar (or MEET_ATTENDANCE_POLL_SECONDS is 0), and only rooms the bot "
                "created through the Meet API report who joins them.")
    if incident.room_provider == "zoom":
        return ("Attendance is not available: Zoom events are not configured "
                "(ZOOM_WEBHOOK_SECRET_TOKEN).")
    return "Attendance is not available: there was no Incident Command Room."


async def incident_for(event: ParticipantEvent) -> int | None:
    """The open incident this event is about: for a leave, the one whose stay it ends;
    else the one whose current room is that meeting."""
    if not event.joined:
        stay = await RoomSession.filter(
            meeting_id=event.meeting_id, participant_key=event.key, left_at__isnull=True,
            incident__status__not=IncidentStatus.CLOSED,
        ).order_by("-joined_at").first()
        if stay is not None:
            return stay.incident_id
    incident = await Incident.filter(room_meeting_id=event.meeting_id).exclude(
        status=IncidentStatus.CLOSED).order_by("-id").first()
    return incident.id if incident is not None else None


async def _people(incident: Incident) -> list[tuple[Person, str | None]]:
    """The incident's people with their role title: role holders first, then the extra
    investigators and the commandeered."""
    people: list[tuple[Person, str | None]] = [
        (p, ROLE_LABELS[role]) for role in (Role.INVESTIGATOR, Role.COMMANDER)
        if (p := holder(incident, role)) is not None]
    people += [(p, None) for p in await assistants(incident)]
    people += [(Person(c.person_id, c.name, c.aad_object_id), None)
               for c in await Commandeer.filter(incident=incident).order_by("id")]
    unique: dict[str, tuple[Person, str | None]] = {}
    for person, role in people:
        unique.setdefault(person.id, (person, role))
    return list(unique.values())


def _folded(name: str) -> str:
    return " ".join(name.split()).casefold()


async def _by_name(incident: Incident, name: str) -> Person | None:
    found = {p.id: p for p, _ in await _people(incident) if _folded(p.name) == _folded(name)}
    return next(iter(found.values())) if len(found) == 1 else None


async def _matched(incident: Incident, name: str, entra_id: str | None) -> Person | None:
    """The incident's person with that Entra object id, else the one with that name."""
    if entra_id:
        wanted = entra_id.casefold()
        for person, _ in await _people(incident):
            if (person.aad_object_id or "").casefold() == wanted:
                return person
    return await _by_name(incident, name)


async def _role_of(incident: Incident, person_id: str | None) -> str | None:
    if person_id is None:
        return None
    return next((role for p, role in await _people(incident) if p.id == person_id), None)


async def joined(ctx: Ctx, incident_id: int, event: ParticipantEvent,
                 entra_id: str | None = None) -> None:
    """Someone joined the room: a stay, a timeline entry, the card; once per stay (Zoom
    may deliver an event twice). `entra_id`: the provider's Entra object id for them."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if (incident.status is IncidentStatus.CLOSED
            or incident.room_meeting_id != event.meeting_id):
        return
    if await RoomSession.exists(incident=incident, participant_key=event.key,
                                joined_at=event.at):
        return
    person = await _matched(incident, event.name, entra_id)
    stay = await RoomSession.create(
        incident=incident, meeting_id=event.meeting_id, participant_key=event.key,
        name=event.name, email=event.email, person_id=person.id if person else None,
        person_name=person.name if person else None, joined_at=event.at)
    await _recognised(ctx, incident, stay, person, first=True)
    if person is None and event.email:
        await jobs.schedule(MatchByEmail(stay.id), due_ms=ctx.now_ms, max_attempts=3)


async def _recognised(ctx: Ctx, incident: Incident, stay: RoomSession, person: Person | None,
                      *, first: bool) -> None:
    """Say who joined (on `first`), and what a matched person's joining means."""
    if first:
        role = await _role_of(incident, person.id if person else None)
        who = person.name if person else stay.name
        as_ = f" ({role})" if role else ""
        zoom = (f' as "{stay.name}"' if person and _folded(person.name) != _folded(stay.name)
                else "")
        when = await _reported(ctx, incident, stay.joined_at)
        await record(ctx, incident, EventKind.ROOM_JOINED, f"{who}{as_} joined {ROOM}{zoom}{when}.",
                     {"session": stay.id, "person": person.id if person else None})
    ctx.tell(say.CardChanged(incident.id))
    if person is None:
        return
    requests = await Commandeer.filter(incident=incident, person_id=person.id,
                                       joined_room_at__isnull=True)
    for request in requests:
        request.joined_room_at = stay.joined_at
        await request.save(update_fields=["joined_room_at"])
    if requests:
        asked_by = requests[0]
        commander = Person(asked_by.requested_by_id, asked_by.requested_by_name)
        ctx.tell(say.ThreadPost(incident.id, f"{person.name} joined {ROOM} (commandeered by "
                                             f"{asked_by.requested_by_name}).", (commander,)))


async def left(ctx: Ctx, incident_id: int, event: ParticipantEvent) -> None:
    """Someone left: their stay ends (a second delivery finds it ended and does nothing)."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if incident.status is IncidentStatus.CLOSED:
        return
    stay = await RoomSession.filter(
        incident=incident, meeting_id=event.meeting_id, participant_key=event.key,
        left_at__isnull=True, joined_at__lte=event.at).order_by("-joined_at").first()
    if stay is None:
        return
    stay.left_at = event.at
    await stay.save(update_fields=["left_at"])
    role = await _role_of(incident, stay.person_id)
    as_ = f" ({role})" if role else ""
    await record(ctx, incident, EventKind.ROOM_LEFT,
                 f"{stay.person_name or stay.name}{as_} left {ROOM} after "
                 f"{_minutes(stay.joined_at, event.at)}"
                 f"{await _reported(ctx, incident, event.at)}.",
                 {"session": stay.id, "person": stay.person_id})
    ctx.tell(say.CardChanged(incident.id))


async def _reported(ctx: Ctx, incident: Incident, at: dt.datetime) -> str:
    """For a Teams room, when it happened: its report comes after the session ended."""
    if incident.room_provider != "teams":
        return ""
    return f" at {written(at, await incident_zone(ctx, incident))} (Teams attendance report)"


def _minutes(start: dt.datetime, end: dt.datetime) -> str:
    minutes = max(0, int((end - start).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


async def in_room(incident: Incident) -> InRoom | None:
    """Who is in the current room now (a Teams room: who attended its ended sessions);
    None when its attendance is not followed."""
    if not incident.room_meeting_id:
        return None
    stays = await RoomSession.filter(incident=incident, meeting_id=incident.room_meeting_id
                                     ).order_by("joined_at", "id")
    present: dict[str, tuple[str | None, str]] = {}
    roles = {incident.investigator_id: ROLE_LABELS[Role.INVESTIGATOR],
             incident.commander_id: ROLE_LABELS[Role.COMMANDER]}
    attended = incident.room_provider == "teams"
    for stay in stays:
        if stay.left_at is None or attended:
            key = stay.person_id or f"zoom:{stay.participant_key}"
            present.setdefault(key, (roles.get(stay.person_id) if stay.person_id else None,
                                     stay.person_name or stay.name))
    order = {ROLE_LABELS[Role.INVESTIGATOR]: 0, ROLE_LABELS[Role.COMMANDER]: 1}
    people = sorted(present.values(), key=lambda p: order.get(p[0] or "", 2))
    return InRoom(tuple(people), ever=bool(stays), attended=attended)


async def check_joined(ctx: Ctx, incident_id: int, meeting_id: str) -> None:
    """The Investigator has not joined the room in time: tell the Commander privately
    (with no other Commander, remind the Investigator in the thread). Never for a Teams
    room: Graph reports a session only after it ends, so an Investigator in the call now
    would look absent (`check_later` schedules no check; this covers one stored before)."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if (incident.status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)
            or incident.room_meeting_id != meeting_id or incident.room_provider == "teams"):
        return
    investigator = holder(incident, Role.INVESTIGATOR)
    # In this room: after `room <provider>` made a new one, having joined the old one
    # does not count (the guide: the Investigator is present in the room).
    if investigator is None or await RoomSession.exists(incident=incident,
                                                        person_id=investigator.id,
                                                        meeting_id=meeting_id):
        return
    minutes = ctx.policy.room_join_check_s // 60
    text = (f"{investigator.name} (Investigator) has not joined {ROOM} {minutes} min after "
            "it was made.")
    commander = holder(incident, Role.COMMANDER)
    told = commander if commander and commander.id != investigator.id else investigator
    how = ("The Commander was told privately." if told is commander
           else "They were reminded in the thread.")
    await record(ctx, incident, EventKind.ROOM_NOT_JOINED, f"{text} {how}", {"told": told.id})
    if told is commander and commander is not None:
        ctx.tell(say.DirectMessage(incident.id, commander,
                                   f"INC-{incident.number}: {text} Ask them to join: "
                                   f"{incident.room_url}"))
    else:
        ctx.tell(say.ThreadPost(incident.id, f"{investigator.name}, {ROOM} is waiting for you "
                                             f"and you have not joined yet: {incident.room_url}",
                                (investigator,)))


async def room_seen(ctx: Ctx, poll: Poll, stays: list[Stay]) -> None:
    """What Meet or Teams reports now, as joins and leaves (each recorded once), and the
    next look."""
    incident_id, meeting_id = poll.incident_id, poll.meeting_id
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if incident.status is IncidentStatus.CLOSED or incident.room_meeting_id != meeting_id:
        return
    # Joins and leaves in the order they happened (a join before a leave at one time).
    moments = sorted([(s.joined_at, 0, n) for n, s in enumerate(stays)]
                     + [(s.left_at, 1, n) for n, s in enumerate(stays) if s.left_at is not None])
    for at, leaving, n in moments:
        stay = stays[n]
        if leaving:
            await left(ctx, incident_id, ParticipantEvent(False, meeting_id, stay.key,
                                                          stay.name, None, at))
        else:
            await joined(ctx, incident_id, ParticipantEvent(True, meeting_id, stay.key,
                                                            stay.name, stay.email, at),
                         stay.entra_id)
    await _poll_later(ctx, poll)


async def room_unreadable(ctx: Ctx, incident_id: int, meeting_id: str, reason: str) -> None:
    """The provider refused for good: say so once, and stop showing an attendance that is
    not known."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if incident.room_meeting_id != meeting_id:
        return
    incident.room_meeting_id = None
    await incident.save(update_fields=["room_meeting_id"])
    text = f"Attendance of {ROOM} is not available: {reason}."
    await record(ctx, incident, EventKind.ROOM_NOT_JOINED, text, {"meeting": meeting_id})
    ctx.tell(say.ThreadPost(incident.id, text), say.CardChanged(incident.id))


async def matched_by_email(ctx: Ctx, session_id: int, person: Person) -> None:
    """The stay's email is `person`'s: it is theirs from now on."""
    stay = await RoomSession.get_or_none(id=session_id)
    if stay is None or stay.person_id is not None:
        return
    incident = await Incident.filter(id=stay.incident_id).select_for_update().get()
    stay.person_id, stay.person_name = person.id, person.name
    await stay.save(update_fields=["person_id", "person_name"])
    await _recognised(ctx, incident, stay, person, first=False)


async def attendance_lines(incident: Incident) -> tuple[AttendanceLine, ...]:
    """Every stay in the incident's rooms, for the review."""
    return tuple(
        AttendanceLine(s.person_name or s.name, s.person_id is not None, s.joined_at, s.left_at)
        for s in await RoomSession.filter(incident=incident).order_by("joined_at", "id"))


async def poll_job(bg: Background, job: Job, payload: Poll) -> None:
    """Ask Meet or Teams outside any transaction; record in one. A failure the provider
    may get over (busy, unreachable) waits for the next poll; one it will not ends the
    following."""
    incident = await Incident.get_or_none(id=payload.incident_id)
    if (incident is None or incident.status is IncidentStatus.CLOSED
            or incident.room_meeting_id != payload.meeting_id):
        return
    provider, name, meeting = (
        ("teams", "Teams", payload.online_meeting_id) if isinstance(payload, PollTeams)
        else ("meet", "Meet", payload.meeting_id))
    try:
        bridge = bg.bridges.get(provider)
        if not isinstance(bridge, AttendanceReader):
            raise BridgeError(f"the {name} bridge cannot read attendance", provider=provider,
                              retryable=False)
        stays = await bridge.attendance(meeting)
    except BridgeError as exc:
        bg.metrics.provider_error(provider)
        reason = str(exc)
        if exc.retryable:
            log.info("INC-%s: %s attendance not read this time: %s", incident.number, name,
                     exc)
            await bg.in_incident(incident.id, lambda ctx: room_seen(ctx, payload, []))
        else:
            await bg.in_incident(incident.id, lambda ctx: room_unreadable(
                ctx, payload.incident_id, payload.meeting_id, reason))
        return
    await bg.in_incident(incident.id, lambda ctx: room_seen(ctx, payload, stays))


async def check_job(bg: Background, job: Job, payload: CheckInvestigatorJoined) -> None:
    """The join check, in the incident's transaction."""
    await bg.in_incident(payload.incident_id, lambda ctx: check_joined(
        ctx, payload.incident_id, payload.meeting_id))


async def email_job(bg: Background, job: Job, payload: MatchByEmail) -> None:
    """Ask Teams for each of the incident's people's email (outside any transaction)."""
    stay = await RoomSession.get_or_none(id=payload.session_id)
    if stay is None or stay.person_id is not None or not stay.email:
        return
    incident = await Incident.get(id=stay.incident_id)
    wanted = stay.email.casefold()
    for person, _ in await _people(incident):
        found = await bg.members.emails(service_url=incident.service_url,
                                        scope=incident.team_id or incident.thread_id or "",
                                        people=[person])
        if any(address.casefold() == wanted for address in found):
            await _match(bg, incident.id, stay.id, person)
            return
    log.info("INC-%s: no Teams person has the email of room participant %s", incident.number,
             stay.id)


async def _match(bg: Background, incident_id: int, session_id: int, person: Person) -> None:
    await bg.in_incident(incident_id, lambda ctx: matched_by_email(ctx, session_id, person))


JOBS = (JobHandler(CheckInvestigatorJoined, check_job), JobHandler(MatchByEmail, email_job),
        JobHandler(PollMeet, poll_job), JobHandler(PollTeams, poll_job))
