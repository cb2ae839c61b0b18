"""Adaptive Cards (schema 1.5, the newest Teams renders everywhere) as plain dicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

CARD_VERSION = "1.5"
# The content type of an Adaptive Card attachment (and of an answer that is one).
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Teams refreshes a card by itself for at most 60 people: "The `userIds` property must
# always be included ... with a maximum of 60 (sixty) user MRIs" (Microsoft Learn, "Work
# with Universal Actions for Adaptive Cards", User IDs in refresh).
REFRESH_USERS = 60


class Card(dict[str, Any]):
    """A finished card. Cards are never changed once built, so copying one returns itself:
    botbuilder's `TurnContext.send_activity` deep-copies every activity it sends (the
    bot's own answers are addressed without it: `bot.teams.addressing`)."""

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
    """The list of commands, usage over summary, shown for `help` and unknown text."""
    # Not a FactSet: its title column is at most 150 px in Teams, which broke usages such
    # as `hypothesis <text> | <n> proved|disproved` inside words.
    body = [text("Incident bot", weight="Bolder", size="Medium"), text(intro, isSubtle=True)]
    for usage, summary in commands:
        # Teams-style renderers drop "<text>" as an unknown HTML tag (seen in the M365 Agents
        # Playground: "@incident note" lost its argument), so placeholders use ‹ ›.
        shown = usage.replace("<", "‹").replace(">", "›")
        body += [text(shown, weight="Bolder", spacing="Medium"),
                 text(summary, isSubtle=True, spacing="None")]
    return card(body)


def execute(
    title: str, verb: str, data: dict[str, Any], *, style: str | None = None
) -> dict[str, Any]:
    """A button: Action.Execute for current Teams, Action.Submit for clients without it.

    Both carry the verb in their data so either path reaches the same handler.
    """
    payload = {"verb": verb, **data}
    action: dict[str, Any] = {
        "type": "Action.Execute", "title": title, "verb": verb, "data": payload,
        "fallback": {"type": "Action.Submit", "title": title, "data": payload},
    }
    if style:
        action["style"] = style
    return action


def moment(at: dt.datetime) -> str:
    """`at` as each reader's Teams shows it, in their own zone and language: "Wed, Dec 2,
    2026 5:00 PM" for a reader in Berlin. For TextBlock text only (below)."""
    # Adaptive Cards' date functions (Microsoft Learn, "Text features", Date/Time formatting
    # and localization: https://learn.microsoft.com/adaptive-cards/authoring-cards/text-features)
    # must be in capitals, with no spaces inside the braces or before the parentheses, and
    # take strict RFC 3339: `2026-12-02T16:00:00Z`, no fractions; anything else is shown raw.
    # Teams' own page ("Format cards in Microsoft Teams") still says the date features are
    # not supported there; Teams clients are reported to expand them in TextBlocks but not
    # in FactSet values (not checked against a live Teams here), so cards put times only
    # in TextBlocks.
    stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"


def refreshed(result: Card, verb: str, data: dict[str, Any], user_ids: Iterable[str]) -> Card:
    """Make Teams ask for the card's current look (the card verb `verb`) when one of
    `user_ids` (MRIs, the first 60 of them) sees it; others can refresh it from its menu.

    Universal Actions' refresh (Microsoft Learn, "Work with Universal Actions for Adaptive
    Cards", Refresh model): Teams sends an `adaptiveCard/action` invoke with this action
    (and `trigger: "automatic"`), and the bot answers with the card, as for a button.
    """
    people = list(dict.fromkeys(i for i in user_ids if i))[:REFRESH_USERS]
    result["refresh"] = {"action": {"type": "Action.Execute", "verb": verb, "data": data},
                         "userIds": people}
    return result


def facts(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A FactSet of title/value rows (no times in them: see `moment`)."""
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs]}


def with_mentions(result: Card, people: Iterable[Any]) -> Card:
    """Make `<at>Name</at>` in the card's text notify those people (Teams card mentions)."""
    entities = [
        {"type": "mention", "text": f"<at>{p.name}</at>", "mentioned": {"id": p.id, "name": p.name}}
        for p in people
    ]
    if entities:
        result["msteams"] = {"entities": entities, "width": "Full"}
    return result
