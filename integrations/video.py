"""The Incident Command Room: one Protocol for every video provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Room:
    """A video call people can join from the incident card."""

    provider: str
    join_url: str
    meeting_id: str | None = None
    # Shown next to the link when the provider gives one (Zoom passcode, Meet code).
    passcode: str | None = None


class VideoBridge(Protocol):
    """Creates rooms on one provider; raises `bot.errors.BridgeError` when it cannot."""

    name: str

    async def create_room(self, *, topic: str, request_id: str) -> Room:
        """Create a room now; `request_id` is stable across retries of the same request."""
        ...
