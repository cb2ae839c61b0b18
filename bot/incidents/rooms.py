"""The Incident Command Room: created in the background when an incident is declared.

Guide: the Commander "creates an Incident Command Room as a video conference (Zoom or
Meet)". Declaring never waits for the provider: a durable job creates the room, retries
with backoff, then falls back along the configured chain (default: the provider, then
Jitsi), and the card and thread say what happened.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.errors import BridgeError, CommandError
from bot.incidents import attendance, privacy
from bot.incidents import notices as say
from bot.incidents.background import Background, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.roles import require_role_holder
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import Incident
from bot.store.models import Job
from bot.store.outbox import backoff_s
from integrations.video import Room

log = logging.getLogger(__name__)
TRIES_PER_PROVIDER = 3
PROVIDERS = {"zoom": "Zoom", "meet": "Google Meet", "teams": "Microsoft Teams", "jitsi": "Jitsi"}


@dataclasses.dataclass(frozen=True)
class CreateRoom(jobs.JobPayload):
    """Create the room on `chain[0]` (try `attempt` on it); `request_id` makes the
    provider call idempotent and tells a superseded request from the current one."""

    KIND = "room.create"
    incident_id: int
    chain: tuple[str, ...]
    attempt: int
    request_id: str


def label(provider: str) -> str:
    """"meet" -> "Google Meet"."""
    return PROVIDERS.get(provider, provider)


async def request_room(ctx: Ctx, incident: Incident, chain: tuple[str, ...]) -> None:
    """Queue the room's creation; the card says it is on its way."""
    if not chain:
        incident.room_note = "No video room is configured (VIDEO_PROVIDER=none)"
        await incident.save()
        return
    request_id = f"incident-{incident.id}-{ctx.now_ms}"
    incident.room_note = f"Creating the Incident Command Room on {label(chain[0])}…"
    incident.room_request = request_id
    await incident.save()
    await jobs.schedule(CreateRoom(incident.id, chain, 0, request_id), due_ms=ctx.now_ms,
                        max_attempts=1)


async def ask_for_room(ctx: Ctx, incident: Incident, provider: str,
                       fallback: tuple[str, ...]) -> None:
    """`room <provider>`: a new room on that provider (then the usual fallback)."""
    if provider not in PROVIDERS:
        raise CommandError(f"Usage: `@incident room` or `@incident room {'|'.join(PROVIDERS)}`.")
    await require_role_holder(ctx, incident, "replace the room")
    chain = (provider,) + tuple(p for p in fallback if p != provider)
    await request_room(ctx, incident, chain)
    await record(ctx, incident, EventKind.ROOM_REQUESTED,
                 f"{ctx.actor.name} asked for a new room on {label(provider)}.")
    ctx.tell(say.CardChanged(incident.id), say.Reply(f"Creating a {label(provider)} room; the "
                                                     "card will show its link."))


def show_room(incident: Incident) -> str:
    """`room`: the link, or what is happening to it."""
    if incident.room_url:
        who = attendance.unavailable(incident) or "Who is in it is on the incident card."
        if incident.room_provider == "teams" and incident.room_meeting_id:
            who += " Who attended its ended sessions is on the incident card."
        return (f"INC-{incident.number} Incident Command Room ({label(incident.room_provider or '')}):"
                f" {incident.room_url} {who}")
    return f"INC-{incident.number}: {incident.room_note or 'no room yet'}."


def topic(incident: Incident) -> str:
    """The meeting's name, as people will see it in their calendar or client (and the
    provider's admins: a private incident's title stays out, bot.incidents.privacy)."""
    return f"INC-{incident.number}: {privacy.outside_title(incident)}"[:200]


def _superseded(incident: Incident, request_id: str) -> bool:
    """A newer `room` request was made meanwhile: this result no longer matters."""
    return incident.room_request is not None and incident.room_request != request_id


async def room_created(ctx: Ctx, incident_id: int, room: Room, request_id: str) -> None:
    """Put the link on the card and in the thread."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if _superseded(incident, request_id):
        return
    incident.room_url, incident.room_provider, incident.room_note = (
        room.join_url, room.provider, None)
    attendance.follow(ctx, incident, room)
    await incident.save()
    await attendance.check_later(ctx, incident, room)
    passcode = f" (passcode {room.passcode})" if room.passcode else ""
    text = f"Incident Command Room on {label(room.provider)}: {room.join_url}{passcode}"
    await record(ctx, incident, EventKind.ROOM, text, {"provider": room.provider})
    ctx.tell(say.CardChanged(incident.id), say.ThreadPost(incident.id, text))


async def room_failed(ctx: Ctx, incident_id: int, payload: CreateRoom,
                      error: BridgeError) -> None:
    """Retry the same provider with backoff, else move down the chain, else say so."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if _superseded(incident, payload.request_id):
        return
    chain, attempt = payload.chain, payload.attempt + 1
    provider = label(chain[0])
    if error.retryable and attempt < TRIES_PER_PROVIDER:
        delay_ms = int(backoff_s(attempt + 1) * 1000)
        await jobs.schedule(dataclasses.replace(payload, attempt=attempt),
                            due_ms=ctx.now_ms + delay_ms, max_attempts=1)
        incident.room_note = (f"{provider} did not create the room yet (try {attempt} of "
                              f"{TRIES_PER_PROVIDER}); retrying…")
        await incident.save()
        ctx.tell(say.CardChanged(incident.id))
        return
    rest = chain[1:]
    reason = f"{provider} could not create the Incident Command Room ({error})."
    if rest:
        await jobs.schedule(dataclasses.replace(payload, chain=rest, attempt=0),
                            due_ms=ctx.now_ms, max_attempts=1)
        incident.room_note = f"Creating the Incident Command Room on {label(rest[0])}…"
        text = f"{reason} Using {label(rest[0])} instead."
    else:
        incident.room_note = "No Incident Command Room: every provider failed"
        text = f"{reason} No other provider is left: please open a call by hand."
    await incident.save()
    await record(ctx, incident, EventKind.ROOM_FAILED, text, {"provider": chain[0]})
    ctx.tell(say.CardChanged(incident.id), say.ThreadPost(incident.id, text))


async def create_room(bg: Background, job: Job, payload: CreateRoom) -> None:
    """The provider call (up to VIDEO_TIMEOUT_SECONDS) runs outside any transaction."""
    incident = await Incident.get(id=payload.incident_id)
    provider = payload.chain[0]
    try:
        room = await bg.bridges.get(provider).create_room(topic=topic(incident),
                                                          request_id=payload.request_id)
    except BridgeError as exc:
        bg.metrics.provider_error(exc.provider)
        error = exc
    except Exception as exc:
        log.exception("room creation on %s failed unexpectedly", provider)
        bg.metrics.provider_error(provider)
        error = BridgeError(f"unexpected {type(exc).__name__}", provider=provider)
    else:
        await bg.in_incident(incident.id, lambda ctx: room_created(
            ctx, incident.id, room, payload.request_id))
        return
    await bg.in_incident(incident.id, lambda ctx: room_failed(ctx, incident.id, payload, error))


JOBS = (JobHandler(CreateRoom, create_room),)
