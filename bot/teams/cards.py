"""Adaptive Cards (schema 1.5, the newest Teams renders everywhere) as plain dicts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CARD_VERSION = "1.5"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


class Card(dict):  # type: ignore[type-arg]
    """A finished card. Cards are never changed once built, so copying one returns itself:
    botbuilder deep-copies every outgoing activity, which cost 10% of a `help` turn."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Card:
        return self


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> Card:
    """Wrap elements into a full card."""
    result = Card({
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": CARD_VERSION,
        "body": body,
    })
    if actions:
        result["actions"] = actions
    return result


def text(value: str, **style: Any) -> dict[str, Any]:
    """A wrapped TextBlock; user text is passed through as data, never as markup."""
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


def help_card(commands: Iterable[tuple[str, str]], *, intro: str) -> Card:
    """The list of commands with one line each, shown for `help` and unknown text."""
    facts = [{"title": usage, "value": summary} for usage, summary in commands]
    return card(
        [
            text("Incident bot", weight="Bolder", size="Medium"),
            text(intro, isSubtle=True),
            {"type": "FactSet", "facts": facts},
        ]
    )
