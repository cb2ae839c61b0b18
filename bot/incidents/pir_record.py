"""Everything a Post Incident Review is drafted from, as plain values.

Built from the database by `bot.incidents.pir_builder` and rendered by `bot.web.review_html`
and `bot.web.review_markdown`; keeping the record plain makes rendering testable and fast.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.incidents.severity import BUILT_IN, SeverityScale


@dataclass(frozen=True)
class EventLine:
    """One timeline event."""

    at: dt.datetime
    kind: str
    actor: str | None
    text: str


@dataclass(frozen=True)
class HandoverLine:
    """A role request and how it ended."""

    requested_at: dt.datetime
    role: str
    to: str
    from_: str | None
    status: str
    answered_at: dt.datetime | None
    reason: str | None = None


@dataclass(frozen=True)
class HypothesisLine:
    """A hypothesis and how it ended (open, confirmed, disproved)."""

    number: int
    text: str
    status: str
    author: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None


@dataclass(frozen=True)
class CommandeerLine:
    """Someone commandeered and when they answered."""

    name: str
    why: str | None
    requested_by: str
    requested_at: dt.datetime
    status: str
    answered_at: dt.datetime | None
    joined_room_at: dt.datetime | None = None


@dataclass(frozen=True)
class AttendanceLine:
    """One stay in the Incident Command Room: who (their Teams name when matched, else
    the name they gave the room), from when until when (None: still there)."""

    name: str
    matched: bool
    joined_at: dt.datetime
    left_at: dt.datetime | None


@dataclass(frozen=True)
class ActionLine:
    """A follow-up action and where it is tracked."""

    number: int
    text: str
    owner: str | None
    status: str
    url: str | None


@dataclass(frozen=True)
class ExternalUpdateLine:
    """An update published to customers, and whether Statuspage got it."""

    at: dt.datetime
    status: str
    text: str
    # "synced", "pending", "failed: <why>", or "not configured"
    statuspage: str


@dataclass(frozen=True)
class ChatLine:
    """One message of the conversation (`bot.incidents.conversation`): attachments are
    (name, URL or None) references; a deleted message's text says so."""

    at: dt.datetime
    author: str
    text: str
    links: tuple[str, ...] = ()
    attachments: tuple[tuple[str, str | None], ...] = ()
    edited_at: dt.datetime | None = None
    deleted: bool = False


@dataclass(frozen=True)
class PirRecord:
    """The incident as the review needs it."""

    number: int
    title: str
    severity: int
    status: str
    declared_at: dt.datetime
    declared_by: str
    timezone: str
    description: str | None = None
    affected: str | None = None
    impact: str | None = None
    mitigated_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    investigator: str | None = None
    commander: str | None = None
    assistants: tuple[str, ...] = ()
    room_url: str | None = None
    severity_history: tuple[tuple[dt.datetime, int], ...] = ()
    # The organisation's severity levels, which name `severity` (SEVERITY_FILE).
    scale: SeverityScale = BUILT_IN
    handovers: tuple[HandoverLine, ...] = ()
    timeline: tuple[EventLine, ...] = ()
    hypotheses: tuple[HypothesisLine, ...] = ()
    notes: tuple[EventLine, ...] = ()
    updates: tuple[EventLine, ...] = ()
    commandeered: tuple[CommandeerLine, ...] = ()
    actions: tuple[ActionLine, ...] = ()
    # Written by people after the incident (empty sections are shown as prompts).
    root_cause: str = ""
    contributing_factors: str = ""
    went_well: str = ""
    went_badly: str = ""
    # What customers were told: the public incident's title and every external update.
    public_title: str | None = None
    external_updates: tuple[ExternalUpdateLine, ...] = field(default_factory=tuple)
    # Who was in the Incident Command Room, or why that is not known (then no stays).
    attendance: tuple[AttendanceLine, ...] = ()
    attendance_unavailable: str | None = None
    # What people wrote in the incident's place (CAPTURE_CONVERSATION), in order.
    conversation: tuple[ChatLine, ...] = ()
