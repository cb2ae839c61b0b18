"""Teams presence: is someone available to be asked? One Protocol, Graph or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

ONLINE = frozenset({"Available", "AvailableIdle"})


@dataclass(frozen=True)
class Availability:
    """What Graph says of one person."""

    availability: str
    out_of_office: bool = False

    @property
    def unavailable_because(self) -> str | None:
        """Why the guide would pass them over (None: they can be asked)."""
        if self.out_of_office:
            return "out of office"
        if self.availability == "Offline":
            return "offline"  # PresenceUnknown says nothing either way
        return None

    @property
    def online(self) -> bool:
        """Available right now: preferred when looking for someone from the squad."""
        return self.availability in ONLINE and not self.out_of_office


class PresenceSource(Protocol):
    """Looks presence up by Entra object id; ids it knows nothing of are left out."""

    async def lookup(self, aad_object_ids: Iterable[str]) -> dict[str, Availability]:
        """Presence of each id."""
        ...


class NoPresence:
    """Without Graph, answers and time-outs alone decide who is available."""

    async def lookup(self, aad_object_ids: Iterable[str]) -> dict[str, Availability]:
        return {}
