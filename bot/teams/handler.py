"""The Teams activity handler: strip the mention, parse, call the service, render.

Command methods are marked with `@command`; their docstrings are what `help` shows.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from botbuilder.core import ActivityHandler, CardFactory, MessageFactory, TurnContext
from botbuilder.core.bot_framework_adapter import BotFrameworkAdapter
from botbuilder.schema import ActivityTypes, ChannelAccount, InvokeResponse

from bot.teams import cards
from bot.teams.commands import Command, parse_command
from bot.teams.mentions import parse_text

log = logging.getLogger(__name__)

CommandMethod = Callable[[Any, TurnContext, Command], Awaitable[None]]
INVOKE_RESPONSE_KEY = BotFrameworkAdapter._INVOKE_RESPONSE_KEY  # noqa: SLF001 - SDK's own key


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


class IncidentBot(ActivityHandler):
    """Routes Teams activities to commands and card actions."""

    def __init__(self) -> None:
        self.commands: dict[str, CommandSpec] = {}
        for _, method in inspect.getmembers(type(self), inspect.isfunction):
            marked = getattr(method, "__command__", None)
            if marked:
                summary = inspect.getdoc(method) or ""
                self.commands[marked[0]] = CommandSpec(
                    verb=marked[0], usage=marked[1], summary=summary.splitlines()[0],
                    method=method,
                )

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        parsed = parse_text(turn_context.activity)
        cmd = parse_command(parsed)
        spec = self.commands.get(cmd.verb)
        if spec is None:
            await self.send_help(turn_context, intro=f"I don't know '{cmd.verb[:60]}'. "
                                 "Here is what I can do:")
            return
        await spec.method(self, turn_context, cmd)

    @command("help")
    async def cmd_help(self, turn_context: TurnContext, cmd: Command) -> None:
        """List the commands I understand."""
        await self.send_help(turn_context, intro="Mention me with one of these commands:")

    async def send_help(self, turn_context: TurnContext, *, intro: str) -> None:
        """Reply with the help card."""
        listing = [(f"@incident {s.usage}", s.summary) for s in self.commands.values()]
        card = cards.help_card(listing, intro=intro)
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))

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
        return card_message_response("This card is out of date; mention me with 'help'.")

    async def on_turn(self, turn_context: TurnContext) -> None:
        if turn_context.activity.type == ActivityTypes.invoke:
            response = await self.on_invoke_activity(turn_context)
            turn_context.turn_state[INVOKE_RESPONSE_KEY] = response
            return
        await super().on_turn(turn_context)


def card_message_response(message: str) -> InvokeResponse:
    """An Action.Execute answer that shows a short message instead of a new card."""
    return InvokeResponse(
        status=200,
        body={"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
              "value": message},
    )
