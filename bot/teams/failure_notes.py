"""What an outbox row remembers about whom to tell if Teams refuses it for good
(`bot.teams.undelivered` reads it; `bot.teams.render` writes it)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from botbuilder.schema import Activity

log = logging.getLogger(__name__)


class Loss(StrEnum):
    """What was not delivered."""

    COMMANDEER = "commandeer"
    PRIVATE = "private"
    STAKEHOLDERS = "stakeholders"


@dataclass(frozen=True)
class Place:
    """Where the person who caused a message reads the bot's answers."""

    service_url: str
    conversation_id: str
    activity_id: str | None
    tenant_id: str | None


@dataclass(frozen=True)
class FailureNote:
    """Stored with an outbox row: whom to tell if Teams refuses it for good."""

    loss: Loss
    incident_id: int
    # Whom the message was for, as people call them, and their Teams id.
    recipient: str = ""
    recipient_id: str = ""
    commandeer_id: int | None = None
    # The bot was installed for the recipient already: do not try that again.
    after_install: bool = False
    # None: the incident's thread (a timer sent it).
    told: Place | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> FailureNote | None:
        if not data:
            return None
        try:
            told = data.get("told")
            return cls(loss=Loss(data["loss"]), incident_id=int(data["incident_id"]),
                       recipient=str(data.get("recipient") or ""),
                       recipient_id=str(data.get("recipient_id") or ""),
                       commandeer_id=data.get("commandeer_id"),
                       after_install=bool(data.get("after_install")),
                       told=Place(**told) if told else None)
        except (KeyError, TypeError, ValueError):
            log.warning("unreadable failure note %r", data)
            return None


def place_of(activity: Activity | None, tenant_id: str | None) -> Place | None:
    """Where the sender of `activity` reads the bot's answers (None for a timer)."""
    if activity is None:
        return None
    return Place(service_url=activity.service_url, conversation_id=activity.conversation.id,
                 activity_id=activity.id, tenant_id=tenant_id)
