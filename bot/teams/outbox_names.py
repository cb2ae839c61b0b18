"""The names and ordering keys of outbox rows, as values.

A row that creates something later rows need (an incident's thread, a role card, a 1:1
chat) carries a name; later rows name it in `after` and the dispatcher fills in the ids
its answer taught (`bot.teams.deliveries`). Rows of one ordering key are sent strictly in
order. Both are stored as text (their format is what existing databases hold); this
module is the only place that writes or reads that text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ThreadStart:
    """The message that opens an incident's thread with its live card."""

    incident_id: int

    def __str__(self) -> str:
        return f"incident:{self.incident_id}:thread"


@dataclass(frozen=True)
class RoleCard:
    """The card of one role request (updated in place when answered)."""

    handover_id: int

    def __str__(self) -> str:
        return f"handover:{self.handover_id}:card"


@dataclass(frozen=True)
class DirectChat:
    """One creation of a 1:1 chat with `user_id` (`attempt` keeps racing creations apart)."""

    tenant_id: str
    user_id: str
    attempt: str

    @classmethod
    def new(cls, tenant_id: str, user_id: str) -> DirectChat:
        """A creation no other transaction has named."""
        return cls(tenant_id, user_id, uuid.uuid4().hex[:12])

    @staticmethod
    def prefix(tenant_id: str, user_id: str) -> str:
        """What every creation's name for this person starts with."""
        return f"dm:{tenant_id}:{user_id}:"

    def __str__(self) -> str:
        return self.prefix(self.tenant_id, self.user_id) + self.attempt


@dataclass(frozen=True)
class AlertPost:
    """The card offering an incident for one alert group (updated in place)."""

    alert_group_id: int

    def __str__(self) -> str:
        return f"alert:{self.alert_group_id}:card"


MessageName = ThreadStart | RoleCard | DirectChat | AlertPost


def parse(name: str | None) -> MessageName | None:
    """The name a row was given by `str(...)` of one of the above; None for others."""
    kind, _, rest = (name or "").partition(":")
    if kind == "incident" and rest.endswith(":thread") and rest[: -len(":thread")].isdigit():
        return ThreadStart(int(rest[: -len(":thread")]))
    if kind == "handover" and rest.endswith(":card") and rest[: -len(":card")].isdigit():
        return RoleCard(int(rest[: -len(":card")]))
    if kind == "alert" and rest.endswith(":card") and rest[: -len(":card")].isdigit():
        return AlertPost(int(rest[: -len(":card")]))
    if kind == "dm":
        # dm:<tenant>:<user id, itself with colons>:<attempt>
        tenant_id, _, user_and_attempt = rest.partition(":")
        user_id, _, attempt = user_and_attempt.rpartition(":")
        if user_id and attempt:
            return DirectChat(tenant_id, user_id, attempt)
    return None


@dataclass(frozen=True)
class Order:
    """An ordering key: what must be delivered in the order it was enqueued."""

    key: str

    @classmethod
    def incident(cls, incident_id: int) -> Order:
        """Everything about one incident: its thread is created before posts into it."""
        return cls(f"incident:{incident_id}")

    @classmethod
    def card(cls, incident_id: int) -> Order:
        """Refreshes of one incident's live card (after its thread exists, via `after`)."""
        return cls(f"incident:{incident_id}:card")

    @classmethod
    def direct(cls, tenant_id: str, user_id: str) -> Order:
        """A 1:1 chat: created before the first message to it."""
        return cls(f"dm:{tenant_id}:{user_id}")

    @classmethod
    def channel(cls, channel_id: str) -> Order:
        """New posts the bot starts in a team channel (announcements)."""
        return cls(f"channel:{channel_id}")

    @classmethod
    def alert(cls, alert_group_id: int) -> Order:
        """One alert group's card: posted before it is updated."""
        return cls(f"alert:{alert_group_id}")

    @classmethod
    def stakeholders(cls, channel_id: str) -> Order:
        """Posts into a team's stakeholder channel."""
        return cls(f"stakeholders:{channel_id}")
