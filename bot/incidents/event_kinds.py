"""What can happen on an incident's timeline, and the data some events carry.

The values are what `timeline_event.kind` stores: existing databases hold them, so a value
never changes. A stored kind that is not a member (written by an older or newer version)
still renders: `category_of` puts it under "other".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """One kind of timeline event; its value is the stored string."""

    DECLARED = "declared"
    SEVERITY = "severity"
    TITLE = "title"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REVIEW_OPENED = "review_opened"
    REVIEW_EDITED = "review_edited"
    REVIEW_READY = "review_ready"
    REVIEW_REMINDER = "review_reminder"
    REVIEW_EXPORTED = "review_exported"
    REVIEW_WAIVED = "review_waived"
    REVIEW_MEETING = "review_meeting"
    REVIEW_MEETING_FAILED = "review_meeting_failed"
    ROLE_REQUESTED = "role_requested"
    ROLE_ACCEPTED = "role_accepted"
    ROLE_DECLINED = "role_declined"
    ROLE_EXPIRED = "role_expired"
    ROLE_UNTAKEN = "role_untaken"
    HYPOTHESIS = "hypothesis"
    HYPOTHESIS_SETTLED = "hypothesis_settled"
    NOTE = "note"
    MESSAGE = "message"
    UPDATE = "update"
    IMPACT = "impact"
    EXTERNAL_UPDATE = "external_update"
    COMMANDEERED = "commandeered"
    COMMANDEER_ANSWER = "commandeer_answer"
    COMMANDEER_UNANSWERED = "commandeer_unanswered"
    COMMANDEER_UNREACHABLE = "commandeer_unreachable"
    ONCALL = "oncall"
    CHECKIN_SENT = "checkin_sent"
    CHECKIN = "checkin"
    TASK = "task"
    TASK_DONE = "task_done"
    ACTION = "action"
    ACTION_DONE = "action_done"
    ROOM_REQUESTED = "room_requested"
    ROOM = "room"
    ROOM_FAILED = "room_failed"
    ROOM_JOINED = "room_joined"
    ROOM_LEFT = "room_left"
    ROOM_NOT_JOINED = "room_not_joined"
    CHANNEL = "channel"
    CHANNEL_FAILED = "channel_failed"
    ALERT = "alert"
    ALERT_RESOLVED = "alert_resolved"
    # What people wrote in the incident's place without mentioning the bot
    # (bot.incidents.conversation); the review shows these in its Conversation section.
    CHAT = "chat"

    @property
    def category(self) -> str:
        """The review's colour group: "role_accepted" -> "roles"."""
        return CATEGORIES[self]

    @classmethod
    def parse(cls, value: str) -> EventKind | None:
        """The member stored as `value`, or None for a kind this version does not know."""
        try:
            return cls(value)
        except ValueError:
            return None


# Every member's review category (the keys of the review's palette). Filed messages and
# follow-up actions have always been "other"; kept so the review renders as before.
CATEGORIES: dict[EventKind, str] = {
    EventKind.DECLARED: "lifecycle",
    EventKind.SEVERITY: "severity",
    EventKind.TITLE: "other",
    EventKind.MITIGATED: "lifecycle",
    EventKind.RESOLVED: "lifecycle",
    EventKind.CLOSED: "lifecycle",
    EventKind.REVIEW_OPENED: "lifecycle",
    EventKind.REVIEW_EDITED: "lifecycle",
    EventKind.REVIEW_READY: "lifecycle",
    EventKind.REVIEW_REMINDER: "lifecycle",
    EventKind.REVIEW_EXPORTED: "lifecycle",
    EventKind.REVIEW_WAIVED: "lifecycle",
    EventKind.REVIEW_MEETING: "lifecycle",
    EventKind.REVIEW_MEETING_FAILED: "lifecycle",
    EventKind.ROLE_REQUESTED: "roles",
    EventKind.ROLE_ACCEPTED: "roles",
    EventKind.ROLE_DECLINED: "roles",
    EventKind.ROLE_EXPIRED: "roles",
    EventKind.ROLE_UNTAKEN: "roles",
    EventKind.HYPOTHESIS: "hypotheses",
    EventKind.HYPOTHESIS_SETTLED: "hypotheses",
    EventKind.NOTE: "notes",
    EventKind.MESSAGE: "other",
    EventKind.UPDATE: "updates",
    EventKind.IMPACT: "updates",
    EventKind.EXTERNAL_UPDATE: "updates",
    EventKind.COMMANDEERED: "people",
    EventKind.COMMANDEER_ANSWER: "people",
    EventKind.COMMANDEER_UNANSWERED: "people",
    EventKind.COMMANDEER_UNREACHABLE: "people",
    EventKind.ONCALL: "people",
    EventKind.CHECKIN_SENT: "people",
    EventKind.CHECKIN: "people",
    EventKind.TASK: "tasks",
    EventKind.TASK_DONE: "tasks",
    EventKind.ACTION: "other",
    EventKind.ACTION_DONE: "other",
    EventKind.ROOM_REQUESTED: "rooms",
    EventKind.ROOM: "rooms",
    EventKind.ROOM_FAILED: "rooms",
    EventKind.ROOM_JOINED: "rooms",
    EventKind.ROOM_LEFT: "rooms",
    EventKind.ROOM_NOT_JOINED: "rooms",
    EventKind.CHANNEL: "other",
    EventKind.CHANNEL_FAILED: "other",
    # The alert an incident was declared from, with its links, and its end.
    EventKind.ALERT: "other",
    EventKind.ALERT_RESOLVED: "other",
    EventKind.CHAT: "other",
}


def category_of(kind: str) -> str:
    """The category of a stored kind; "other" for one this version does not know."""
    member = EventKind.parse(kind)
    return CATEGORIES[member] if member is not None else "other"


@dataclass(frozen=True, slots=True)
class Declared:
    """`EventKind.DECLARED` data: the severity the incident was declared at."""

    severity: int

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Declared:
        return cls(int(data["severity"]))


@dataclass(frozen=True, slots=True)
class SeverityChanged:
    """`EventKind.SEVERITY` data: the level before and after."""

    from_level: int
    to_level: int

    def to_json(self) -> dict[str, Any]:
        return {"from": self.from_level, "to": self.to_level}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SeverityChanged:
        return cls(int(data["from"]), int(data["to"]))


@dataclass(frozen=True, slots=True)
class TitleChanged:
    """`EventKind.TITLE` data: the title before and after."""

    before: str
    after: str

    def to_json(self) -> dict[str, Any]:
        return {"from": self.before, "to": self.after}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TitleChanged:
        return cls(str(data["from"]), str(data["to"]))
