"""Mentions cannot be dropped: `render.message` places every person it is given, whether
or not the sentence names them, and each placed mention has its entity (what makes Teams
notify them)."""

from __future__ import annotations

import re

import pytest

from bot.incidents.people import Person
from bot.teams.render import message

ANN = Person("29:1ann", "Ann Lee")
ANNA = Person("29:1anna", "Anna Lee")
GRACE = Person("29:1grace", "Grace Hopper")
HOSTILE = Person("29:1hostile", "**Bold** [x](y) Name")


def _placed(body: dict) -> list[str]:
    return re.findall(r"<at>(.*?)</at>", body["text"])


def _notified(body: dict) -> list[str]:
    return [e["mentioned"]["id"] for e in body.get("entities", [])]


@pytest.mark.parametrize(("text", "people", "shown"), [
    # Named in the text: the name becomes the mention.
    ("Grace Hopper accepted.", (GRACE,), "<at>Grace Hopper</at> accepted."),
    # Not named (the support request asks for the Commander): mentioned in front.
    ("Ada (Investigator) asked for support on INC-1.", (GRACE,),
     "<at>Grace Hopper</at>: Ada (Investigator) asked for support on INC-1."),
    # One named, one not: the named in place, the other in front.
    ("Linus is joining (asked by Grace Hopper).", (ANN, GRACE),
     "<at>Ann Lee</at>: Linus is joining (asked by <at>Grace Hopper</at>)."),
    # "Ann Lee" is not found inside "Anna Lee".
    ("Anna Lee asked Ann Lee.", (ANN, ANNA), "<at>Anna Lee</at> asked <at>Ann Lee</at>."),
    ("Anna Lee was asked.", (ANN, ANNA), "<at>Ann Lee</at>: <at>Anna Lee</at> was asked."),
    # A name inside a word is not that person: mentioned in front instead.
    ("Maximum lag on the replica.", (Person("29:1max", "Max"),),
     "<at>Max</at>: Maximum lag on the replica."),
], ids=["named", "not named", "one of each", "substring names", "substring missing",
        "inside a word"])
def test_every_person_given_is_mentioned(text: str, people: tuple[Person, ...],
                                         shown: str) -> None:
    body = message(text, mentions=people)

    assert body["text"] == shown
    assert sorted(_notified(body)) == sorted(p.id for p in people)
    # Each entity's text is exactly a span in the message (Teams matches them).
    for entity in body["entities"]:
        assert entity["text"] in body["text"]


def test_a_person_given_twice_is_mentioned_once() -> None:
    body = message("Grace Hopper and Grace Hopper.", mentions=(GRACE, GRACE))

    assert _placed(body) == ["Grace Hopper"] and _notified(body) == [GRACE.id]


def test_a_person_without_an_id_is_not_a_mention() -> None:
    body = message("Nobody yet.", mentions=(Person("", "Someone"),))

    assert body["text"] == "Nobody yet." and "entities" not in body


def test_a_hostile_name_is_found_as_it_is_escaped_in_the_text() -> None:
    body = message(f"{HOSTILE.name} took command.", mentions=(HOSTILE,))

    assert body["text"].startswith(f"<at>{HOSTILE.name}</at> took command.")
    assert _notified(body) == [HOSTILE.id]


def test_mentions_need_text_to_be_placed_in() -> None:
    with pytest.raises(ValueError):
        message(card={"type": "AdaptiveCard"}, mentions=(GRACE,))
