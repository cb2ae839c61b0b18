"""The Incident Command Room: one Protocol for every video provider."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class Room:
    """A video call people can join from the incident card."""

    provider: str
    join_url: str
    meeting_id: str | None = None
    # Shown next to the link when the provider gives one (Zoom passcode, Meet code).
    passcode: str | None = None


@dataclass(frozen=True)
class Stay:
    """One person's time in a room, as the provider reports it (`left_at` None: still
    there). `key` names the stay, stably across reports."""

    key: str
    name: str
    joined_at: datetime  # aware, UTC
    left_at: datetime | None = None
    # The person's Entra object id and email, where the provider gives them (Teams).
    entra_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Meeting:
    """A call scheduled for later, e.g. the Post Incident Review."""

    provider: str
    join_url: str
    starts_at: datetime  # aware, UTC
    meeting_id: str | None = None
    # Emails the provider was asked to invite; () when the bot must invite people itself.
    invited: tuple[str, ...] = ()


class VideoBridge(Protocol):
    """Creates rooms on one provider; raises `bot.errors.BridgeError` when it cannot."""

    name: str

    async def create_room(self, *, topic: str, request_id: str) -> Room:
        """Create a room now; `request_id` is stable across retries of the same request."""
        ...

    async def schedule_meeting(
        self,
        *,
        topic: str,
        starts_at: datetime,
        duration_min: int,
        attendees: Sequence[str],
        request_id: str,
    ) -> Meeting:
        """Schedule a meeting at `starts_at` (aware) inviting `attendees` (emails) where the
        provider can; `request_id` is stable across retries of the same request."""
        ...


def meeting_start(starts_at: datetime, duration_min: int) -> datetime:
    """`starts_at` in UTC, to the second; ValueError for a naive time or a bad duration."""
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise ValueError("starts_at must be timezone-aware")
    if isinstance(duration_min, bool) or not isinstance(duration_min, int) or duration_min < 1:
        raise ValueError(f"duration_min must be a positive whole number, not {duration_min!r}")
    return starts_at.astimezone(UTC).replace(microsecond=0)


def invitees(attendees: Sequence[str]) -> tuple[str, ...]:
    """The attendees' emails, trimmed, without empty ones or repeats (case-insensitive)."""
    if isinstance(attendees, str):
        raise TypeError("attendees must be a sequence of emails, not one string")
    seen: set[str] = set()
    emails = []
    for attendee in attendees:
        email = (attendee or "").strip()
        if email and email.casefold() not in seen:
            seen.add(email.casefold())
            emails.append(email)
    return tuple(emails)
