"""Nothing silently undelivered: when Teams refuses a message for good, someone is told.

The renderer gives every message that someone depends on a `FailureNote` (stored with the
outbox row): what it was, which incident, and where the person who caused it will see a
notice. When the dispatcher gives up on the row, `Undelivered` turns the note into words:

- a commandeer request Teams refused (403: the bot is not installed for that person, the
  usual case for someone outside the team): with Microsoft Graph configured the bot
  installs itself for them and asks again (`integrations.teams_apps`); otherwise, or when
  that fails, the request is made in the incident's thread, @mentioning them and the
  Commander (`bot.incidents.commandeer.unreachable`);
- another private message (a check-in, a reminder) refused because the person does not
  have the app: the same message goes into the incident's thread, @mentioning them (its
  buttons still answer only for them), and whoever caused it is told if elsewhere;
- any other refusal of a private message or stakeholder post: the person who caused it
  is told, in the place they gave the command, or the incident's thread when a timer sent
  it.

A notice that is itself refused is only logged (no chain of notices about notices).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.incidents import commandeer as commandeering
from bot.incidents import notices as say
from bot.incidents.background import InIncident
from bot.incidents.context import Ctx
from bot.incidents.people import Person
from bot.store.incident_models import Incident
from bot.store.models import OutboxMessage, OutboxOperation, Urgency
from bot.store.unit_of_work import UnitOfWork
from bot.teams.failure_notes import FailureNote, Loss, Place
from bot.teams.outbox import Refusal
from bot.teams.outbox_names import DirectChat, parse
from bot.teams.pacing import row_thread, thread_of
from bot.teams.render import Renderer, message

log = logging.getLogger(__name__)
NOT_INSTALLED = "the incident bot is not installed for them in Teams"


def in_plain_words(refusal: Refusal, row: OutboxMessage) -> str:
    """Why Teams refused, as someone in an incident can act on it."""
    status = refusal.status
    # A 1:1: a chat being created with one person, a message waiting for that, or a chat
    # whose id is Teams' `a:...`.
    thread = row_thread(row)
    private = (thread.startswith(("user:", thread_of("a:")))
               or isinstance(parse(row.after), DirectChat))
    if status == 403:
        if private:
            return NOT_INSTALLED
        return "Teams refused the bot there (it may have been removed from that team or chat)"
    if status == 404:
        return "that conversation no longer exists in Teams"
    if status in (400, 413):
        return "Teams rejected the message as invalid (the bot's log has the details)"
    if status == 429:
        return "Teams kept throttling the bot for a day"
    return "Teams could not be reached for a day"


class Undelivered:
    """The dispatcher's `on_undeliverable`: tells someone, in their own transaction."""

    def __init__(self, renderer: Renderer, in_incident: InIncident, *,
                 wake: Callable[[], None], installs: bool) -> None:
        self._renderer = renderer
        self._in_incident = in_incident
        self._wake = wake
        # Whether the bot can install itself for people (Graph and the catalog id are set).
        self._installs = installs

    async def __call__(self, row: OutboxMessage, refusal: Refusal) -> None:
        note = FailureNote.from_json(row.on_failure)
        if note is None:
            log.warning("outbox %s was refused for good and nobody waits for it: %s", row.id,
                        refusal.error)
            return
        words = in_plain_words(refusal, row)
        if note.loss is Loss.COMMANDEER and note.commandeer_id is not None:
            await self._commandeer(note, note.commandeer_id, refusal, words)
            return
        if note.loss is Loss.PRIVATE and words == NOT_INSTALLED and note.recipient_id:
            await self._in_thread_instead(note, row, words)
            return
        what = (f"your private message to {note.recipient}" if note.loss is Loss.PRIVATE
                else "the status update to the stakeholder channel")
        text = f"I could not deliver {what}: {words}."
        if note.told is not None:
            await self._tell(note.told, text)
            return
        incident_id = note.incident_id

        async def post(ctx: Ctx) -> None:
            ctx.tell(say.ThreadPost(incident_id, text))

        await self._in_incident(incident_id, post)

    async def _commandeer(self, note: FailureNote, commandeer_id: int, refusal: Refusal,
                          words: str) -> None:
        if refusal.status == 403 and self._installs and not note.after_install:
            await self._in_incident(note.incident_id, lambda ctx: commandeering.install_then_ask(
                ctx, commandeer_id))
            return
        await self._in_incident(note.incident_id, lambda ctx: commandeering.unreachable(
            ctx, commandeer_id, words))
        incident = await Incident.get_or_none(id=note.incident_id)
        if incident is not None:  # (the thread post mentions the Commander already)
            await self._tell_elsewhere(note, incident, f"I could not message {note.recipient} "
                                       f"privately ({words}): I asked them in "
                                       f"INC-{incident.number}'s thread instead.")

    async def _in_thread_instead(self, note: FailureNote, row: OutboxMessage,
                                 words: str) -> None:
        """A private message (a check-in, a reminder) Teams refused because the person
        does not have the app: the same message in the incident's thread, mentioning
        them (its buttons answer only for them), and whoever caused it told if elsewhere."""
        incident = await Incident.get_or_none(id=note.incident_id)
        if incident is None:
            return
        person = Person(note.recipient_id, note.recipient)
        original = row.payload or {}
        body = message(f"{note.recipient}, I could not message you privately ({words}), "
                       "so here it is:", mentions=(person,))
        if original.get("text"):
            body["text"] += "\n\n" + str(original["text"])  # already as Teams shows it
        if original.get("attachments"):
            body["attachments"] = original["attachments"]
        async with UnitOfWork(on_commit=self._wake) as uow:
            await self._renderer.into_thread(uow, incident, body)
        await self._tell_elsewhere(note, incident, f"I could not message {note.recipient} "
                                   f"privately ({words}): I posted it in "
                                   f"INC-{incident.number}'s thread instead, mentioning them.")

    async def _tell_elsewhere(self, note: FailureNote, incident: Incident, text: str) -> None:
        """Tell whoever caused the message, unless they gave the command in the incident's
        thread (where the fallback post already is) or a timer sent it."""
        told = note.told
        if told is not None and told.conversation_id != incident.thread_id:
            await self._tell(told, text)

    async def _tell(self, place: Place, text: str) -> None:
        async with UnitOfWork(on_commit=self._wake) as uow:
            await uow.enqueue(
                operation=OutboxOperation.REPLY if place.activity_id else OutboxOperation.SEND,
                service_url=place.service_url, conversation_id=place.conversation_id,
                activity_id=place.activity_id, payload=message(text),
                tenant_id=place.tenant_id, urgency=Urgency.URGENT)

