"""The Teams activity handler: strip the mention, parse, call the service, render.

Command methods (in the mixins) are marked with `@command`; their docstrings are what
`help` shows. State-changing work runs through `execute`: one transaction holding the
change, its timeline and its outgoing messages, at most once per activity.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

from botbuilder.core import ActivityHandler, CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, InvokeResponse

from bot.errors import CommandError
from bot.incidents import notices as say
from bot.incidents.context import Ctx, Origin, Policy
from bot.metrics import Metrics
from bot.store.availability import (
    DatabaseGate,
    DatabaseUnavailable,
    WaitingForJournal,
    answered_within,
    is_connection_lost,
)
from bot.store.unit_of_work import AlreadyProcessed, UnitOfWork, activity_key
from bot.teams import cards, turn_record
from bot.teams.adapter import INVOKE_RESPONSE_KEY
from bot.teams.commands import Command, parse_command
from bot.teams.markdown import literal
from bot.teams.members import MemberDirectory
from bot.teams.mentions import parse_text, sender
from bot.teams.render import Renderer

log = logging.getLogger(__name__)

CommandMethod = Callable[[Any, TurnContext, Command], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True)
class CommandSpec:
    """One command as `help` lists it."""

    verb: str
    usage: str
    summary: str
    method: CommandMethod


def command(verb: str, usage: str | None = None) -> Callable[[CommandMethod], CommandMethod]:
    """Mark a handler method as the command `verb`."""

    def mark(method: CommandMethod) -> CommandMethod:
        method.__command__ = (verb, usage or verb)  # type: ignore[attr-defined]
        return method

    return mark


def origin_of(activity: Activity) -> Origin:
    """Tenant, team, channel and conversation, as Teams puts them in an activity."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conversation = activity.conversation
    tenant = (data.get("tenant") or {}).get("id") or getattr(conversation, "tenant_id", "") or ""
    channel = (data.get("channel") or {}).get("id") or data.get("teamsChannelId")
    return Origin(
        tenant_id=tenant,
        service_url=activity.service_url,
        conversation_id=conversation.id,
        conversation_type=conversation.conversation_type or "",
        team_id=(data.get("team") or {}).get("id") or data.get("teamsTeamId"),
        channel_id=channel,
    )


def unknown_command_intro(verb: str) -> str:
    """The help card's first line when the text was not a command."""
    return f"I don't know '{literal(verb[:60])}'. Here is what I can do:"


# How long a command's unit of work may take before the database counts as not answering.
DATABASE_TIMEOUT_S = 5.0


class BaseBot(ActivityHandler):  # type: ignore[misc]  # botbuilder is untyped
    """Routing, help and the transaction around every state change."""

    def __init__(self, *, renderer: Renderer, policy: Policy,
                 wake: Callable[[], None] = lambda: None,
                 members: MemberDirectory | None = None,
                 metrics: Metrics | None = None,
                 gate: DatabaseGate | None = None,
                 database_timeout_s: float = DATABASE_TIMEOUT_S) -> None:
        self.renderer = renderer
        self.metrics = metrics or Metrics()
        self.members = members
        self.policy = policy
        self.gate = gate or DatabaseGate()
        self.database_timeout_s = database_timeout_s
        self._wake = wake
        self.commands: dict[str, CommandSpec] = {}
        self._help_cards: dict[str, cards.Card] = {}
        for _, method in inspect.getmembers(type(self), inspect.isfunction):
            marked = getattr(method, "__command__", None)
            if marked:
                summary = (inspect.getdoc(method) or "").splitlines()[0]
                self.commands[marked[0]] = CommandSpec(marked[0], marked[1], summary, method)

    def context(self, activity: Activity, *, now: dt.datetime | None = None) -> Ctx:
        """The domain's view of who acts from where (at `now`, the time it was received)."""
        ctx = Ctx(actor=sender(activity), origin=origin_of(activity), policy=self.policy)
        if now is not None:
            ctx.now = now
        return ctx

    async def execute(self, turn: TurnContext, work: Callable[[Ctx], Awaitable[T]]) -> T | None:
        """Run `work` in one transaction with its messages; None if already processed.

        While the database is away (or a journaled command waits to be applied) this
        raises `DatabaseUnavailable` at once, so the command joins the journal behind the
        others. A connection the server closed is retried once on a fresh one: nothing
        was committed, or the activity key says so.
        """
        record = turn_record.of(turn)
        record.writing = True
        if record.replay is None:
            self._require_gate(writing=True)
        activity = turn.activity
        key = activity_key(activity.conversation.id, activity.id) if activity.id else None
        for attempt in range(2):
            try:
                return await self._unit_of_work(turn, record, key, work)
            except AlreadyProcessed:
                log.info("activity %s already processed; ignoring the redelivery", activity.id)
                record.duplicate = True
                return None
            except Exception as exc:
                if attempt or not is_connection_lost(exc):
                    raise
                log.info("database connection lost (%s); trying once more", type(exc).__name__)
        raise AssertionError("unreachable")

    async def _unit_of_work(self, turn: TurnContext, record: turn_record.TurnRecord,
                            key: str | None, work: Callable[[Ctx], Awaitable[T]]) -> T:
        replay = record.replay
        ctx = self.context(turn.activity, now=replay.received_at if replay else None)

        async def transaction() -> T:
            async with UnitOfWork(activity_key=key, on_commit=self._wake) as uow:
                result = await work(ctx)
                notices = _as_applied(ctx.notices, replay) if replay else ctx.notices
                await self.renderer.render(uow, notices, incoming=turn.activity, now=ctx.now)
            record.committed = True
            return result

        return await answered_within(self.database_timeout_s, transaction)

    async def read(self, turn: TurnContext, work: Callable[[], Awaitable[T]]) -> T:
        """Database reads of a command that changes nothing: answered "unavailable" at once
        while the database is known to be away, bounded by the deadline otherwise, and
        never journaled."""
        record = turn_record.of(turn)
        record.reading = True
        if record.replay is None:
            self._require_gate(writing=False)
        return await answered_within(self.database_timeout_s, work)

    def _require_gate(self, *, writing: bool) -> None:
        if not self.gate.up:
            raise DatabaseUnavailable(f"the incident database is not answering "
                                      f"({self.gate.reason})")
        if writing and not self.gate.accepting:
            raise WaitingForJournal("commands saved while the database was away come first")

    def refusal(self, turn: TurnContext, reason: str) -> str:
        """What to answer for a command refused with `reason`."""
        replay = turn_record.of(turn).replay
        return replay.refused(reason) if replay else reason

    async def on_turn(self, turn_context: TurnContext) -> None:
        recipient = turn_context.activity.recipient
        if recipient is not None and recipient.id:
            self.renderer.bot_id = recipient.id
        if turn_context.activity.type == ActivityTypes.invoke:
            response = await self.on_invoke_activity(turn_context)
            turn_context.turn_state[INVOKE_RESPONSE_KEY] = response
            return
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if isinstance(activity.value, dict) and not (activity.text or "").strip():
            await self.on_card_submit(turn_context, activity.value)
            return
        cmd = parse_command(parse_text(activity))
        spec = self.commands.get(cmd.verb)
        if spec is None:
            self.metrics.command("unknown", "unknown")
            await self.send_help(turn_context, intro=unknown_command_intro(cmd.verb))
            return
        try:
            await spec.method(self, turn_context, cmd)
        except CommandError as exc:
            self.metrics.command(spec.verb, "refused")
            await turn_context.send_activity(literal(self.refusal(turn_context, str(exc))))
            return
        except Exception:
            self.metrics.command(spec.verb, "error")
            raise
        self.metrics.command(spec.verb, "ok")

    async def on_card_submit(self, turn_context: TurnContext, data: dict[str, Any]) -> None:
        """Action.Submit from older clients; the card-actions mixin handles it."""
        await turn_context.send_activity("This card is out of date; mention me with 'help'.")

    @command("help")
    async def cmd_help(self, turn_context: TurnContext, cmd: Command) -> None:
        """List the commands I understand."""
        await self.send_help(turn_context, intro="Mention me with one of these commands:")

    async def send_help(self, turn_context: TurnContext, *, intro: str) -> None:
        """Reply with the help card."""
        await send_card(turn_context, self.help_card(intro=intro))

    def help_card(self, *, intro: str) -> cards.Card:
        """The help card under `intro` (built once per intro: commands do not change)."""
        card = self._help_cards.get(intro)
        if card is None:
            listing = [(f"@incident {s.usage}", s.summary) for s in self.commands.values()]
            card = cards.help_card(listing, intro=intro)
            if len(self._help_cards) < 64:  # intros naming unknown words are not kept
                self._help_cards[intro] = card
        return card

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self.send_help(turn_context, intro="Thanks for adding me. Mention me with a command:")

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        # Teams also sends installationUpdate when the bot is added: greet once, on that.
        return None

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        # Answering here (not via on_adaptive_card_invoke) avoids the SDK's double
        # serialisation that turns every card action into an HTTP 500 (TEAMS-PROTOCOL.md 4).
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return InvokeResponse(status=int(HTTPStatus.BAD_REQUEST),
                                  body={"error": f"unsupported invoke {activity.name!r}"})
        value = activity.value if isinstance(activity.value, dict) else {}
        raw_action = value.get("action")
        action = raw_action if isinstance(raw_action, dict) else {}
        raw_data = action.get("data")
        data = raw_data if isinstance(raw_data, dict) else {}
        return await self.on_card_action(turn_context, str(action.get("verb") or ""), data)

    async def on_card_action(self, turn_context: TurnContext, verb: str,
                             data: dict[str, Any]) -> InvokeResponse:
        """Action.Execute; the card-actions mixin handles it."""
        return card_message_response("This card is out of date; mention me with 'help'.")


def _as_applied(notices: list[say.Notice], replay: turn_record.Replay) -> list[say.Notice]:
    """A replayed command's answers, saying it was saved earlier (one line if it had none)."""
    replies = [n for n in notices if isinstance(n, say.Reply)]
    if not replies:
        return [*notices, say.Reply(replay.applied(""))]
    first = replies[0]
    return [say.Reply(replay.applied(n.text)) if n is first else n for n in notices]


async def send_card(turn_context: TurnContext, card: cards.Card) -> None:
    """Reply with one Adaptive Card."""
    await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))


def card_message_response(message: str) -> InvokeResponse:
    """An Action.Execute answer that shows a short message instead of a new card."""
    return InvokeResponse(
        status=200,
        body={"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
              "value": message},
    )


def card_response(card: cards.Card) -> InvokeResponse:
    """An Action.Execute answer that replaces the card the person pressed."""
    return InvokeResponse(
        status=200,
        body={"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card},
    )
