"""Timeline kinds: the stored strings, their review categories and the typed event data."""

from __future__ import annotations

import json

import pytest

from bot.incidents.event_kinds import (
    CATEGORIES,
    Declared,
    EventKind,
    SeverityChanged,
    TitleChanged,
    category_of,
)

# The review's grouping before kinds were an enum: the first prefix a kind starts with.
OLD_KIND_PREFIXES = (
    ("severity", "severity"), ("declared", "lifecycle"), ("mitigated", "lifecycle"),
    ("resolved", "lifecycle"), ("closed", "lifecycle"), ("review", "lifecycle"),
    ("role", "roles"), ("hypothesis", "hypotheses"), ("note", "notes"), ("update", "updates"),
    ("impact", "updates"), ("external", "updates"), ("commandeer", "people"), ("oncall", "people"),
    ("checkin", "people"), ("task", "tasks"), ("room", "rooms"),
)


def old_category(kind: str) -> str:
    return next((cat for prefix, cat in OLD_KIND_PREFIXES if kind.startswith(prefix)), "other")


def test_values_are_unique_stored_strings() -> None:
    values = [kind.value for kind in EventKind]
    assert len(values) == len(set(values))
    for kind in EventKind:
        assert str(kind) == f"{kind}" == kind.value  # what the database column receives
        assert EventKind.parse(kind.value) is kind


@pytest.mark.parametrize("kind", list(EventKind))
def test_category_is_the_old_prefix_rule(kind: EventKind) -> None:
    assert kind.category == category_of(kind.value) == old_category(kind.value)


def test_every_member_has_a_known_category() -> None:
    assert set(CATEGORIES) == set(EventKind)
    assert set(CATEGORIES.values()) <= {"severity", "lifecycle", "roles", "hypotheses", "notes",
                                        "updates", "people", "tasks", "rooms", "other"}


@pytest.mark.parametrize("stored", ["", "unknown", "Note", "room locked", "review_sent_later"])
def test_an_unknown_kind_is_other(stored: str) -> None:
    # Written by another version; even a known prefix no longer picks a category.
    assert EventKind.parse(stored) is None
    assert category_of(stored) == "other"


def test_severity_changed_is_the_old_json() -> None:
    data = SeverityChanged(from_level=3, to_level=1).to_json()
    assert json.dumps(data) == json.dumps({"from": 3, "to": 1})
    assert SeverityChanged.from_json(json.loads(json.dumps(data))) == SeverityChanged(3, 1)
    assert SeverityChanged.from_json({"from": "2", "to": "4"}) == SeverityChanged(2, 4)


def test_declared_is_the_old_json() -> None:
    data = Declared(severity=2).to_json()
    assert json.dumps(data) == json.dumps({"severity": 2})
    assert Declared.from_json(json.loads(json.dumps(data))) == Declared(2)
    assert Declared.from_json({"severity": "1"}) == Declared(1)


def test_title_changed_keeps_both_titles() -> None:
    data = TitleChanged(before="db down", after="Primary DB → failover").to_json()
    assert data == {"from": "db down", "to": "Primary DB → failover"}
    assert TitleChanged.from_json(json.loads(json.dumps(data))) == TitleChanged(
        "db down", "Primary DB → failover")
