"""Turning message text into a command: a case-insensitive verb and what follows it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import CommandError
from bot.incidents.people import Person
from bot.store.status_models import PublicStatus
from bot.teams.mentions import PLACEHOLDER, ParsedText

MAX_COMMAND_CHARS = 4000
_REFERENCE = re.compile(r"^(?:inc-?)?(\d+)$", re.IGNORECASE)
_DONE = re.compile(r"^(\d+)\s+done$", re.IGNORECASE)
_SEVERITY = re.compile(r"^sev([1-4])$", re.IGNORECASE)


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

    def first_person(self, text: str, usage: str) -> Person:
        """The first person `text` mentions; else say how the command goes."""
        for word in text.split():
            person = self.person(word)
            if person is not None:
                return person
        raise CommandError(f"Mention the person: `@incident {usage}`.")

    def named(self, text: str) -> str:
        """`text` with people's names back where their mentions were."""
        return PLACEHOLDER.sub(
            lambda m: (self.person(m.group(0)) or Person("", m.group(0))).name, text)


def without_people(text: str) -> str:
    """`text` with its mentions left out (what customers or a tracker read)."""
    return re.sub(r"\s+", " ", PLACEHOLDER.sub("", text)).strip()


def severity_word(token: str) -> int | None:
    """`sev2` (any case) -> 2; anything else -> None."""
    match = _SEVERITY.match(token.strip())
    return int(match.group(1)) if match else None


def public_status(word: str) -> PublicStatus | None:
    """`identified` (any case) -> PublicStatus.IDENTIFIED; anything else -> None."""
    try:
        return PublicStatus(word.strip().lower())
    except ValueError:
        return None


def public_status_and_text(text: str) -> tuple[PublicStatus | None, str]:
    """`monitoring All good` -> (MONITORING, "All good"); no status word -> (None, text)."""
    first, _, rest = text.strip().partition(" ")
    status = public_status(first)
    return status, (rest if status else text)


def done_number(text: str) -> int | None:
    """`3 done` -> 3 (a task or follow-up action marked done); anything else -> None."""
    match = _DONE.match(text.strip())
    return int(match.group(1)) if match else None


def split_reference(args: str) -> tuple[int | None, str]:
    """`INC-42 rest` -> (42, "rest"); no reference -> (None, args)."""
    first, _, rest = args.partition(" ")
    match = _REFERENCE.match(first) if first.lower().startswith("inc") else None
    return (int(match.group(1)), rest.strip()) if match else (None, args)


def parse_command(parsed: ParsedText) -> Command:
    """Split off the verb; an empty message is the `help` verb."""
    text = parsed.text[:MAX_COMMAND_CHARS].strip()
    verb, _, rest = text.partition(" ")
    return Command(verb=verb.lower() or "help", args=rest.strip(), people=parsed.people)
