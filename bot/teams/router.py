"""Where every command, card button and message action is registered: plain async
functions, one feature module each (`bot.teams.commands`).

    router = Router()

    @router.command("note", "note <text>")
    async def note(call: Call, cmd: Command) -> Answer | None:
        \"\"\"Add evidence, a finding or a dashboard link to the timeline.\"\"\"

A command's docstring's first line is what `help` and the manifest show. A command
returns what to say (`bot.teams.answers`), or None when the domain's notices say it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botbuilder.schema import InvokeResponse

from bot.incidents.context import Ctx
from bot.teams.answers import Answer
from bot.teams.call import Call
from bot.teams.cards import Card
from bot.teams.command_line import Command

CommandRun = Callable[[Call, Command], Awaitable[Answer | None]]
CardData = dict[str, Any]
# A message action: the invoke's name (fetchTask or submitAction) and its `value`,
# answered in the invoke's response.
MessageActionRun = Callable[[Call, str, dict[str, Any]], Awaitable[InvokeResponse]]


@dataclass(frozen=True)
class MessageAction:
    """A message extension command; its submissions are counted as `label`."""

    label: str
    run: MessageActionRun


@dataclass(frozen=True)
class CommandSpec:
    """One command as `help` lists it."""

    verb: str
    usage: str
    summary: str
    run: CommandRun


CardView = Callable[[Ctx, CardData], Awaitable[Card | str]]


@dataclass(frozen=True)
class CardAction:
    """What a button does (`work`, in one transaction) and what the pressed card then
    shows (`view`: a new card, or a short message). An action without `work` only reads:
    a card's refresh, which no one typed and which is therefore not counted."""

    work: Callable[[Ctx, CardData], Awaitable[object]] | None
    view: CardView

    @classmethod
    def showing(cls, view: CardView) -> CardAction:
        """An action that changes nothing and answers with `view`."""
        return cls(None, view)


class Router:
    """The registry: verbs to commands, card verbs to actions, command ids to message
    actions. Routers of several modules are combined with `include`."""

    def __init__(self) -> None:
        self.commands: dict[str, CommandSpec] = {}
        self.cards: dict[str, CardAction] = {}
        self.message_actions: dict[str, MessageAction] = {}

    def command(self, verb: str, usage: str | None = None) -> Callable[[CommandRun], CommandRun]:
        """Register the decorated function as the command `verb`."""

        def register(run: CommandRun) -> CommandRun:
            summary = (inspect.getdoc(run) or "").splitlines()[0]
            _add(self.commands, verb, CommandSpec(verb, usage or verb, summary, run))
            return run

        return register

    def card(self, verb: str, action: CardAction) -> None:
        """Register what the card button `verb` does."""
        _add(self.cards, verb, action)

    def message_action(self, command_id: str, *,
                       label: str) -> Callable[[MessageActionRun], MessageActionRun]:
        """Register the decorated function as the message extension command `command_id`."""

        def register(run: MessageActionRun) -> MessageActionRun:
            _add(self.message_actions, command_id, MessageAction(label, run))
            return run

        return register

    def include(self, others: Iterable[Router]) -> Router:
        """Add every registration of `others` (a verb registered twice is a bug)."""
        for other in others:
            for verb, spec in other.commands.items():
                _add(self.commands, verb, spec)
            for verb, card in other.cards.items():
                _add(self.cards, verb, card)
            for command_id, message_action in other.message_actions.items():
                _add(self.message_actions, command_id, message_action)
        # `help` lists commands in alphabetical order, whichever module holds them.
        self.commands = dict(sorted(self.commands.items()))
        return self


def _add(table: dict[str, Any], key: str, value: Any) -> None:
    if key in table:
        raise ValueError(f"{key!r} is registered twice")
    table[key] = value
