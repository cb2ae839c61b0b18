"""Turning message text into a command: a case-insensitive verb and what follows it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.errors import CommandError
from bot.incidents import severity as sev
from bot.incidents.people import Person
from bot.incidents.severity import SeverityScale
from bot.store.status_models import PublicStatus
from bot.teams.mentions import PLACEHOLDER, ParsedText

MAX_COMMAND_CHARS = 4000
_REFERENCE = re.compile(r"^(?:inc-?)?(\d+)$", re.IGNORECASE)
_DONE = re.compile(r"^(\d+)\s+done$", re.IGNORECASE)
# What is left of a word once `_compact` has run: a `sev` code, in range or not (`sev0`).
_SEVERITY_LIKE = re.compile(r"^sev[0-9]$")
_SETTLE = re.compile(r"^#?([0-9]{1,9})\s+([a-z]+)[.!]?$", re.IGNORECASE)
# The guide's words for settling a hypothesis ("prove/disprove each hypothesis"), and the
# ones people also use: True when it holds.
VERDICTS = {"proved": True, "proven": True, "confirmed": True,
            "disproved": False, "refuted": False}


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


def severity_word(token: str, scale: SeverityScale = sev.BUILT_IN) -> int | None:
    """One word that is a severity code: `sev2`, `SEV-2`, `p2` (any case) -> 2; else None."""
    return scale.codes.get(_compact(token))


def severity_of(text: str, scale: SeverityScale = sev.BUILT_IN) -> int:
    """What `sev` is given: a code (`sev2`, `SEV 2`, `sev-2`, `p2`), its number (`2`) or
    its word (`major`), any case -> 2; anything else is refused with the accepted forms."""
    word = _compact(text)
    codes = scale.codes
    for table, key in ((codes, word), (scale.words, word), (codes, f"sev{word}")):
        if key in table:
            return table[key]
    if word.isascii() and word.isdigit() and scale.highest <= int(word) <= scale.lowest:
        return int(word)
    said = f"'{text.strip()[:40]}' is not a severity" if word else "Say which severity"
    example = next(iter(codes))
    raise CommandError(f"{said}: `@incident sev {example}`, for example. "
                       f"{severity_forms(scale)}")


def severity_in_title(words: list[str], scale: SeverityScale = sev.BUILT_IN
                      ) -> tuple[int | None, list[str]]:
    """The severity among a title's words, and the title without it.

    It is the last code (`sev2`, `SEV-2`, or the two words `SEV 2`), wherever it is: the
    README's `declare <title> [sev1-4] [squad]` puts a squad after it. Any other code
    (`p2`, or a process file's `major`) counts only as one of the last two words (`EC2 p3
    instances down` is a title about p3 instances). Only that one is taken out of the
    title. The words critical, major, minor and low are not read here (`declare disk space
    low` is a title); `sev critical` takes them. A one-digit `sev` code out of range
    (`sev0`, `SEV 5`) is refused rather than left in the title as a word.
    """
    codes = scale.codes
    last_two = len(words) - 2
    spans = [(a, b, code) for a, b, code in _spans(words)
             if (code in codes and (_SEVERITY_LIKE.match(code) or a >= last_two))
             or _SEVERITY_LIKE.match(code)]
    wrong = [" ".join(words[a:b]) for a, b, code in spans if code not in codes]
    if wrong:
        raise CommandError(f"'{wrong[0][:40]}' is not a severity. {severity_forms(scale)}")
    if not spans:
        return None, words
    start, end, code = spans[-1]
    return codes[code], words[:start] + words[end:]


def _spans(words: list[str]) -> Iterator[tuple[int, int, str]]:
    """Each word, and each `SEV 2` pair of words, as (start, end, `_compact` of it)."""
    for i, word in enumerate(words):
        if i and _compact(words[i - 1]) == "sev" and word.isascii() and word.isdigit():
            yield i - 1, i + 1, f"sev{word}"
        yield i, i + 1, _compact(word)


def severity_forms(scale: SeverityScale = sev.BUILT_IN) -> str:
    """The severities people may type, for usage messages."""
    words = f" and, after `sev`, {', '.join(scale.words)}" if scale.words else ""
    spaced = (" (any case, also `SEV 1` and `sev-1`)" if any(
        _SEVERITY_LIKE.match(c) for c in scale.codes) else " (any case)")
    return (f"Severities are {', '.join(scale.codes)}{spaced}{words}; "
            f"{scale.name(scale.highest).lower()} is the most severe.")


def settled_hypothesis(text: str) -> tuple[int, bool] | None:
    """`2 proved` -> (2, True), `2 refuted` -> (2, False) (any of `VERDICTS`, any case);
    anything else (a new hypothesis) -> None."""
    match = _SETTLE.match(text.strip())
    if match is None or match.group(2).lower() not in VERDICTS:
        return None
    return int(match.group(1)), VERDICTS[match.group(2).lower()]


_compact = sev.compact


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
