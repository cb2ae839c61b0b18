"""Every card the bot can send is a valid Adaptive Card 1.5 (what Teams renders)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft6Validator
from jsonschema.exceptions import best_match

from bot.teams import cards, incident_cards
from bot.teams.commands import file_message
from tests.card_gallery import GalleryCard, gallery

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "adaptive-card-1.5.schema.json")
                    .read_text(encoding="utf-8"))
VALIDATOR = Draft6Validator(SCHEMA)
CARDS = gallery()

# Teams' own card property, which the Adaptive Card schema does not know (see SOURCES.md).
MSTEAMS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "width": {"enum": ["Full"]},
        "entities": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["type", "text", "mentioned"],
            "properties": {
                "type": {"const": "mention"},
                "text": {"type": "string", "pattern": "^<at>.+</at>$"},
                "mentioned": {"type": "object", "required": ["id", "name"],
                              "properties": {"id": {"type": "string", "minLength": 1},
                                             "name": {"type": "string"}}},
            },
        }},
    },
}


def _as_sent(card: dict[str, Any]) -> dict[str, Any]:
    """The card as JSON on the wire (what Teams receives), not the Python objects."""
    return json.loads(json.dumps(card))


def _errors(validator: Draft6Validator, instance: Any) -> str | None:
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    return f"{error.message[:300]} at {list(error.absolute_path)}"


def test_schema_itself_is_valid() -> None:
    Draft6Validator.check_schema(SCHEMA)


def test_the_gallery_calls_every_card_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    called: set[str] = set()
    builders = [(module, name) for module in (cards, incident_cards, file_message)
                for name in dir(module)
                if name.endswith("_card") and callable(getattr(module, name))
                # builders of cards, not of the invoke answers that carry one (task_card)
                and "Card" in str(inspect.signature(getattr(module, name)).return_annotation)]
    for module, name in builders:
        def record(*args: Any, _name: str = name, _real: Any = getattr(module, name),
                   **kwargs: Any) -> Any:
            called.add(_name)
            return _real(*args, **kwargs)
        monkeypatch.setattr(module, name, record)
    gallery()
    assert called == {name for _, name in builders}


@pytest.mark.parametrize("shown", CARDS, ids=lambda c: c.name)
def test_card_is_valid_adaptive_card_1_5(shown: GalleryCard) -> None:
    card = _as_sent(shown.card)
    teams_only = card.pop("msteams", None)
    assert card.get("type") == "AdaptiveCard"
    assert card.get("version") == "1.5"
    assert _errors(VALIDATOR, card) is None, _errors(VALIDATOR, card)
    if teams_only is not None:
        assert _errors(Draft6Validator(MSTEAMS), teams_only) is None


@pytest.mark.parametrize("shown", CARDS, ids=lambda c: c.name)
def test_card_mentions_appear_in_its_text(shown: GalleryCard) -> None:
    # Teams rejects a card whose mention entity's text is not in the card.
    card = shown.card
    text = json.dumps(card.get("body", []), ensure_ascii=False)
    for entity in card.get("msteams", {}).get("entities", []):
        assert entity["text"] in text


@pytest.mark.parametrize("shown", CARDS, ids=lambda c: c.name)
def test_card_fits_in_a_teams_message(shown: GalleryCard) -> None:
    # Teams refuses bot messages over 40 KB of UTF-16 with 413 MessageSizeTooBig (Microsoft
    # Learn "Format your bot messages"; newer pages say ~100 KB, 80 KB recommended).
    size = len(json.dumps(shown.card, ensure_ascii=False).encode("utf-16-le"))
    assert size < 40_000, f"{size} bytes"


def test_validation_rejects_what_teams_would_not_render() -> None:
    card = _as_sent(CARDS[0].card)
    card["body"].append({"type": "TextBlock", "txt": "typo"})
    assert _errors(VALIDATOR, card) is not None
    card = _as_sent(CARDS[0].card)
    card["actions"] = [{"type": "Action.Execute", "title": "x", "style": "loud"}]
    assert _errors(VALIDATOR, card) is not None
