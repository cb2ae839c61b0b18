"""Mentions in Teams messages: strip the bot's own, turn everyone else's into people.

botbuilder's `remove_recipient_mention` re-subs the bot's name everywhere in the text (so
"declare Incident Bot outage" loses words) and leaves other `<at>` tags behind
(docs/architecture.md, "Teams protocol facts"). Here each mention entity removes exactly the `<at>` span it
describes, and other people's spans become `@N` placeholders the command parser resolves.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from botbuilder.schema import Activity

from bot.incidents.limits import MAX_NAME, clip
from bot.incidents.people import Person

# Commands are at most 4000 characters; the rest of a long paste is never read.
MAX_TEXT_CHARS = 16_000
_SPACES = re.compile(r"[ \t\u00a0]+")
PLACEHOLDER = re.compile(r"@(\d+)\b")
# Teams ids (`29:…` MRIs) are short; the columns that keep them hold 256 characters.
MAX_ID = 256


@dataclass(frozen=True)
class ParsedText:
    """Message text without the bot's mention; `@N` stands for `people[N]`."""

    text: str
    people: tuple[Person, ...]


def sender(activity: Activity) -> Person:
    """The person who sent the activity: the only identity the bot trusts."""
    account = activity.from_property
    return Person(
        id=account.id,
        name=clip(account.name or "", MAX_NAME) or "someone",
        aad_object_id=getattr(account, "aad_object_id", None),
    )


def _mention_entities(activity: Activity) -> list[tuple[str, str, str, str | None]]:
    found = []
    for entity in activity.entities or []:
        if str(getattr(entity, "type", "") or "").lower() != "mention":
            continue
        data = getattr(entity, "additional_properties", None) or {}
        mentioned = data.get("mentioned") or {}
        if not isinstance(mentioned, dict) or not isinstance(mentioned.get("id"), str):
            continue
        if len(mentioned["id"]) > MAX_ID or len(str(mentioned.get("aadObjectId") or "")) > 64:
            continue  # not an id Teams gives out: the text stays plain text
        raw_text = data.get("text")
        text = raw_text if isinstance(raw_text, str) else ""
        found.append((text, mentioned["id"], str(mentioned.get("name") or ""),
                      mentioned.get("aadObjectId")))
    return found


def parse_text(activity: Activity) -> ParsedText:
    """Remove the bot's mention and number the other people mentioned, in order."""
    text = activity.text if isinstance(activity.text, str) else ""
    bot_id = activity.recipient.id if activity.recipient else None
    entities = _mention_entities(activity)
    people: list[Person] = []
    index_of: dict[str, int] = {}
    pieces: list[str] = []
    position = 0
    for start, end, inner in _at_spans(text[:MAX_TEXT_CHARS]):
        pieces.append(text[position:start])
        position = end
        entity = _take_entity(entities, text[start:end])
        if entity is None or entity[1] == bot_id:
            # The bot's own mention, or an <at> no entity backs: neither names a person.
            pieces.append(" " if entity else inner)
            continue
        _, person_id, name, aad = entity
        if person_id not in index_of:
            index_of[person_id] = len(people)
            people.append(Person(id=person_id, name=clip(name or inner, MAX_NAME) or "someone",
                                 aad_object_id=aad))
        pieces.append(f" @{index_of[person_id]} ")
    pieces.append(text[position:MAX_TEXT_CHARS])
    plain = html.unescape("".join(pieces))
    # Teams splits "Jane Doe" into two mentions of one id: "@0 @0" is one person.
    plain = re.sub(r"(@\d+)(\s+\1\b)+", r"\1", _SPACES.sub(" ", plain))
    return ParsedText(text=plain.strip(), people=tuple(people))


def _at_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """`<at>…</at>` spans, as a lazy regex would find them, in linear time: the regex took
    minutes on a 240 KB message of unclosed `<at>` tags."""
    lower = text.lower()
    position = 0
    while (start := lower.find("<at>", position)) >= 0:
        end = lower.find("</at>", start + 4)
        if end < 0:
            return
        yield start, end + 5, text[start + 4 : end]
        position = end + 5


def _take_entity(
    entities: list[tuple[str, str, str, str | None]], span: str
) -> tuple[str, str, str, str | None] | None:
    for i, entity in enumerate(entities):
        if entity[0] == span:
            return entities.pop(i)
    return None
