"""Turning message text into a command: a case-insensitive verb and what follows it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.incidents.people import Person
from bot.teams.mentions import PLACEHOLDER, ParsedText

MAX_COMMAND_CHARS = 4000


@dataclass(frozen=True)
class Command:
    """`verb` in lower case; `args` as typed (with `@N` placeholders); `people` they name."""

    verb: str
    args: str
    people: tuple[Person, ...]

    def person(self, token: str) -> Person | None:
        """The person a `@N` token stands for."""
        match = PLACEHOLDER.fullmatch(token)
        if match and int(match.group(1)) < len(self.people):
            return self.people[int(match.group(1))]
        return None


def parse_command(parsed: ParsedText) -> Command:
    """Split off the verb; an empty message is the `help` verb."""
    text = parsed.text[:MAX_COMMAND_CHARS].strip()
    verb, _, rest = text.partition(" ")
    return Command(verb=verb.lower() or "help", args=rest.strip(), people=parsed.people)
