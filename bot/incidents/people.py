"""People as the domain knows them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    """Someone in Teams: the id the bot addresses them by, their name, their Entra id."""

    id: str
    name: str
    aad_object_id: str | None = None
