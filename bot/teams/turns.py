"""Running one activity, from Teams or from the local journal, and answering its failure.

What Teams is answered, and what the person is told (issue 14, docs/reliability.md):
- the turn worked: 200, or the invoke's response;
- the database could not take a command that changes something: the activity goes to
  the local journal (fsynced), then 200 and "Saved; …"; the replayer applies it when
  the database is back and says so;
- the journal could not take it either: 503, and the person is told it was not saved;
- a command that only reads (`status`, `list`): 200, and "the record is unavailable";
- the Bot Connector refused the answer itself (a wrong app password, a removed app): 200,
  logged as an error, since Teams delivering the activity again cannot help;
- a bug: 500 and an apology with an error id.

An invoke (a card button, the message action) is answered 200 in every case, carrying
what the person must read: Teams shows an invoke's message only with a 200, and shows a
generic error otherwise.

Only a turn that worked or was journaled is remembered as done (`remember`): Teams'
redelivery of any other runs it again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import Enum
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes, InvokeResponse

from bot.errors import ConnectorError, new_error_id
from bot.incidents.local_time import team_zone
from bot.metrics import Metrics
from bot.store.availability import DatabaseGate, answered_within, is_unavailable
from bot.store.local_journal import JournalEntry, JournalError, LocalJournal
from bot.teams import turn_record
from bot.teams.activity_json import activity_from_dict, to_json
from bot.teams.adapter import INVOKE_RESPONSE_KEY, TeamsAdapter
from bot.teams.answers import MESSAGE, card_message, task_message
from bot.teams.bot import TeamsBot
from bot.teams.call import origin_of
from bot.teams.command_line import parse_command
from bot.teams.conversation import is_chat
from bot.teams.mentions import parse_text
from bot.teams.render import message

log = logging.getLogger(__name__)

SAVED = ("Saved. The incident database is not answering right now; this will be applied as "
         "soon as it is back, and I will say so here.")
UNAVAILABLE = ("The incident record is unavailable right now: its database is not answering. "
               "Commands that change it are still saved, and applied when it is back.")
DONE_UNSHOWN = ("Done, but I cannot show the result right now: the incident database stopped "
                "answering.")


def not_saved(reason: str) -> str:
    """What to say when neither the database nor the journal could take a command."""
    return (f"I could not save this: the incident database is not answering, and my local "
            f"journal could not take it either ({reason}). Keep your own note of it and try "
            f"again in a minute.")


def apology(error_id: str) -> str:
    """What a person reads when a bug stopped their command."""
    return (f"Sorry, something went wrong on my side (error id {error_id}). "
            "If it happens again, give this id to whoever runs the bot.")


class Outcome(str, Enum):
    """How a turn from Teams ended."""

    DONE = "done"
    JOURNALED = "journaled"
    UNAVAILABLE = "unavailable"
    NOT_SAVED = "not_saved"
    UNANSWERED = "unanswered"
    BUG = "bug"


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to Teams: status and JSON body (None: empty)."""

    status: int
    body: object | None
    outcome: Outcome

    @property
    def remember(self) -> bool:
        """Whether a redelivery of the activity may get this answer without running."""
        return self.outcome in (Outcome.DONE, Outcome.JOURNALED)


class Replayed(str, Enum):
    """How applying a journal entry ended."""

    APPLIED = "applied"  # done, or refused (the person was told why): the entry is finished
    DUPLICATE = "duplicate"  # it had been applied already (its activity key says so)
    WAIT = "wait"  # the database is still away: try the same entry again later
    RETRY = "retry"  # a bug, maybe passing: try the same entry again soon
    SET_ASIDE = "set_aside"  # a bug, on the last try: keep the entry aside, the person told


def describe(activity: Activity) -> str:
    """What the person did, in their words, for messages about it later."""
    if activity.type == ActivityTypes.invoke:
        if (activity.name or "").startswith("composeExtension/"):
            return "message filed into an incident"
        return "button press"
    if isinstance(activity.value, dict) and not (activity.text or "").strip():
        return "button press"
    return f"“{parse_command(parse_text(activity)).verb}” command"


class TurnRunner:
    """Runs activities through the bot; see the module docstring for the answers."""

    def __init__(self, adapter: TeamsAdapter, bot: TeamsBot, *, journal: LocalJournal,
                 gate: DatabaseGate, metrics: Metrics) -> None:
        self._adapter = adapter
        self._bot = bot
        self._journal = journal
        self._gate = gate
        self._metrics = metrics
        self._telling: set[asyncio.Task[bool]] = set()

    async def run(self, data: dict[str, Any]) -> Answer:
        """Run the activity Teams sent (already authenticated and validated)."""
        received_at = dt.datetime.now(dt.UTC)
        activity = activity_from_dict(data)
        context = self._adapter.context_for(activity)
        record = turn_record.start(context)
        try:
            await self._adapter.run_pipeline(context, self._bot.on_turn)
        except Exception as exc:  # noqa: BLE001 - every failure gets an answer below
            return await self._failed(context, record, exc, data, received_at)
        return _done(context)

    async def _failed(self, context: TurnContext, record: turn_record.TurnRecord,
                      exc: Exception, data: dict[str, Any], received_at: dt.datetime) -> Answer:
        activity = context.activity
        if isinstance(exc, ConnectorError):  # never the database: see is_unavailable
            log.error("could not answer activity %s: %s", activity.id, exc)
            return Answer(200, None, Outcome.UNANSWERED)
        if not is_unavailable(exc):
            error_id = new_error_id()
            log.error("turn failed, error id %s", error_id, exc_info=exc)
            return self._say(activity, apology(error_id), Outcome.BUG, status=500,
                             silent=record.silent)
        self._gate.failed(exc)
        if record.committed:
            return self._say(activity, DONE_UNSHOWN, Outcome.DONE, silent=record.silent)
        if record.reading:
            return self._say(activity, UNAVAILABLE, Outcome.UNAVAILABLE, silent=record.silent)
        try:
            await self._journal.append(data, received_at=received_at)
        except JournalError as error:
            log.error("activity %s NOT saved: the database is away (%s) and %s", activity.id,
                      self._gate.reason, error)
            self._metrics.journal("not_saved")
            return self._say(activity, not_saved(str(error)), Outcome.NOT_SAVED, status=503,
                             silent=record.silent)
        self._metrics.journal("appended")
        log.info("activity %s saved in the local journal (%d waiting)", activity.id,
                 self._journal.pending)
        return self._say(activity, SAVED, Outcome.JOURNALED, silent=record.silent)

    def _say(self, activity: Activity, text: str, outcome: Outcome, *,
             status: int = 200, silent: bool = False) -> Answer:
        """Tell the sender `text`: in the invoke's answer, or as a reply sent meanwhile
        (nothing for a `silent` turn: a chat message nobody addressed to the bot)."""
        if silent:
            return Answer(status, None, outcome)
        if activity.type == ActivityTypes.invoke:
            response = (task_message(text) if (activity.name or "").startswith(
                "composeExtension/") else card_message(text))
            return Answer(200, to_json(response.body), outcome)
        self._spawn(self._adapter.tell(activity, message(text)))
        return Answer(status, None, outcome)

    def _spawn(self, telling: Coroutine[Any, Any, bool]) -> None:
        # Not awaited: the connector may be slow or away too, and Teams waits for the answer.
        task = asyncio.create_task(telling)
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    async def replay(self, entry: JournalEntry, *, last_try: bool = True) -> Replayed:
        """Apply one journal entry as if Teams had just sent it, at the time it was saved."""
        activity = activity_from_dict(entry.activity)
        context = self._adapter.context_for(activity)
        replay = turn_record.Replay(received_at=entry.received_at, what=describe(activity),
                                    zone=await self._zone(activity))
        record = turn_record.start(context, replay=replay)
        try:
            await self._adapter.run_pipeline(context, self._bot.on_turn)
        except Exception as exc:
            if record.committed or isinstance(exc, ConnectorError):
                # Applied (or refused), only its answer could not be sent: nothing to redo.
                log.warning("journal entry %s applied, but its answer failed: %s", entry.id,
                            exc)
                return Replayed.APPLIED
            if is_unavailable(exc):
                self._gate.failed(exc)
                return Replayed.WAIT
            error_id = new_error_id()
            log.error("journal entry %s could not be applied, error id %s", entry.id,
                      error_id, exc_info=exc)
            if not last_try:
                return Replayed.RETRY
            if record.silent:
                return Replayed.SET_ASIDE
            await self._adapter.tell(activity, message(replay.refused(
                f"something went wrong on my side (error id {error_id}).")))
            return Replayed.SET_ASIDE
        if record.duplicate:
            return Replayed.DUPLICATE
        if activity.type == ActivityTypes.invoke and not record.committed:
            # A refused button press: its answer went nowhere, so say it in the chat.
            text = _message_of(_invoke_response(context))
            if text:
                await self._adapter.tell(activity, message(text))
        return Replayed.APPLIED

    async def abandon(self, entry: JournalEntry, reason: str) -> None:
        """Give up on a journal entry: log it with an error id, and tell its sender."""
        activity = activity_from_dict(entry.activity)
        error_id = new_error_id()
        log.error("journal entry %s set aside, error id %s: %s", entry.id, error_id, reason)
        if is_chat(activity, self._bot.services.policy):
            return  # a chat message: nobody asked the bot anything
        replay = turn_record.Replay(received_at=entry.received_at, what=describe(activity),
                                    zone=await self._zone(activity))
        await self._adapter.tell(activity, message(replay.refused(
            f"{reason} (error id {error_id}).")))

    async def _zone(self, activity: Activity) -> str:
        """The zone the sender's team writes times in (`bot.incidents.local_time`); the
        `TIMEZONE` setting when the database cannot say."""
        services, origin = self._bot.services, origin_of(activity)
        try:
            return await answered_within(services.database_timeout_s, lambda: team_zone(
                origin.tenant_id, origin.team_id, services.policy))
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            return services.policy.timezone

    async def finish_telling(self, *, timeout_s: float) -> None:
        """Wait (a little) for the replies being sent; used at shutdown."""
        if self._telling:
            await asyncio.wait(list(self._telling), timeout=timeout_s)


def _invoke_response(context: TurnContext) -> InvokeResponse:
    """What the turn answers its invoke (200 with no body if it set nothing)."""
    response = context.turn_state.get(INVOKE_RESPONSE_KEY)
    if isinstance(response, Activity):  # sent the SDK's way, as an invokeResponse
        response = response.value
    return response if isinstance(response, InvokeResponse) else InvokeResponse(status=200)


def _done(context: TurnContext) -> Answer:
    if context.activity.type != ActivityTypes.invoke:
        return Answer(200, None, Outcome.DONE)
    response = _invoke_response(context)
    body = to_json(response.body) if response.body is not None else None
    return Answer(response.status or 200, body, Outcome.DONE)


def _message_of(response: InvokeResponse) -> str:
    """The text of an invoke answer that shows a message (a card action's or a dialog's)."""
    body = to_json(response.body) if response.body is not None else None
    if not isinstance(body, dict):
        return ""
    if body.get("type") == MESSAGE:
        return str(body.get("value") or "")
    task = body.get("task")
    if isinstance(task, dict) and task.get("type") == "message":
        return str(task.get("value") or "")
    return ""
