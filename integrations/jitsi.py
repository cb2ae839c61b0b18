"""Jitsi Meet rooms: the no-credentials default, a link with an unguessable name."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from integrations.video import Meeting, Room, invitees, meeting_start

# Words of the topic kept in the room name, so people can tell rooms apart in a list.
_SLUG_WORDS = 4
_SLUG_MAX_CHARS = 40
# Jitsi folds room names to lower case, which leaves about 5.2 bits per urlsafe char:
# 24 chars give over 120 bits, so knowing the topic does not help anyone guess a room.
_TOKEN_BYTES = 18


class JitsiBridge:
    """Makes Jitsi room links; a Jitsi room exists as soon as someone opens its link."""

    name = "jitsi"

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")

    async def create_room(self, *, topic: str, request_id: str) -> Room:
        """Return a link to a fresh room whose name cannot be guessed from the topic."""
        room = room_name(topic)
        return Room(provider=self.name, join_url=f"{self._base_url}/{room}", meeting_id=room)

    async def schedule_meeting(
        self,
        *,
        topic: str,
        starts_at: datetime,
        duration_min: int,
        attendees: Sequence[str],
        request_id: str,
    ) -> Meeting:
        """A fresh room for later; Jitsi has no calendar, so nobody is invited (`invited=()`):
        the bot posts the invitation itself."""
        start = meeting_start(starts_at, duration_min)
        invitees(attendees)  # the same checks as the other providers, results unused
        room = await self.create_room(topic=topic, request_id=request_id)
        return Meeting(provider=self.name, join_url=room.join_url, starts_at=start,
                       meeting_id=room.meeting_id)


def room_name(topic: str) -> str:
    """`Incident-<First-Words>-<random>`, using only letters, digits, `-` and `_`."""
    slug = _slug(topic)
    prefix = f"Incident-{slug}-" if slug else "Incident-"
    return prefix + secrets.token_urlsafe(_TOKEN_BYTES)


def _slug(topic: str) -> str:
    # Drop accents and punctuation: the name goes into a URL path as is.
    ascii_text = unicodedata.normalize("NFKD", topic).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", ascii_text)[:_SLUG_WORDS]
    return "-".join(w[:1].upper() + w[1:] for w in words)[:_SLUG_MAX_CHARS].rstrip("-")
