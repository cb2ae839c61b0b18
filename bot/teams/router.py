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

import difflib
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
# How alike a mistyped word and a verb must be to be offered ("decalre" -> "declare" is
# 0.86; "thanks" -> "task" 0.6 must not be).
SPELLING_CUTOFF = 0.7
# Longer words are not mistyped verbs (and are not compared: pasted text can be long).
LONGEST_GUESS = 30


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
        # Words people type for a command that are not it: offered, never run.
        self.synonyms: dict[str, str] = {}

    def command(self, verb: str, usage: str | None = None, *,
                synonyms: Iterable[str] = ()) -> Callable[[CommandRun], CommandRun]:
        """Register the decorated function as the command `verb`; `synonyms` are words
        people type meaning it, answered with "Did you mean" and its usage."""

        def register(run: CommandRun) -> CommandRun:
            summary = (inspect.getdoc(run) or "").splitlines()[0]
            _add(self.commands, verb, CommandSpec(verb, usage or verb, summary, run))
            for word in synonyms:
                _add(self.synonyms, word, verb)
            return run

        return register

    def meant(self, word: str) -> CommandSpec | None:
        """The command someone who typed `word` (not a verb) probably meant: a synonym, a
        near spelling of a verb or synonym, or the one verb `word` begins (`hypo`)."""
        word = word.lower()
        if not word or len(word) > LONGEST_GUESS:
            return None
        known = {**self.synonyms, **{verb: verb for verb in self.commands}}
        close = difflib.get_close_matches(word, known, n=1, cutoff=SPELLING_CUTOFF)
        if close:
            return self.commands[known[close[0]]]
        begun = [verb for verb in self.commands if len(word) >= 3 and verb.startswith(word)]
        return self.commands[begun[0]] if len(begun) == 1 else None

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
            for word, verb in other.synonyms.items():
                _add(self.synonyms, word, verb)
        taken = sorted(set(self.synonyms) & set(self.commands))
        if taken:
            raise ValueError(f"{taken} are verbs, not synonyms")
        # `help` lists commands in alphabetical order, whichever module holds them.
        self.commands = dict(sorted(self.commands.items()))
        return self


def _add(table: dict[str, Any], key: str, value: Any) -> None:
    if key in table:
        raise ValueError(f"{key!r} is registered twice")
    table[key] = value
