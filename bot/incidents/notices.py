"""What the domain wants said, to whom; the transport decides how it looks in Teams."""

from __future__ import annotations

from dataclasses import dataclass

from bot.incidents.people import Person


@dataclass(frozen=True)
class Routine:
    """A confirmation that can be said once for many: when several with the same `topic`
    wait to be said in one conversation, `many` is said instead, "{n}" their count."""

    topic: str
    many: str


@dataclass(frozen=True)
class Reply:
    """A short answer to the person who gave the command, where they gave it; `routine`
    when it only confirms what the record now shows (the answer may then be merged)."""

    text: str
    routine: Routine | None = None


@dataclass(frozen=True)
class ThreadOpened:
    """A new incident: open its thread with the live card, and announce it."""

    incident_id: int


@dataclass(frozen=True)
class ThreadPost:
    """A message in the incident's thread, mentioning `mentions` (notified by Teams)."""

    incident_id: int
    text: str
    mentions: tuple[Person, ...] = ()


@dataclass(frozen=True)
class CardChanged:
    """The incident changed: update its live card in place."""

    incident_id: int


@dataclass(frozen=True)
class RoleRequested:
    """Ask someone, in the thread, to accept or decline a role."""

    handover_id: int


@dataclass(frozen=True)
class HandoverAnswered:
    """A role request was answered or expired: update its card."""

    handover_id: int


@dataclass(frozen=True)
class CommandeerRequested:
    """Message someone 1:1 that the Commander needs them (`after_install`: again, now that
    the bot was installed for them)."""

    commandeer_id: int
    after_install: bool = False


@dataclass(frozen=True)
class CommandeerInThread:
    """Someone the bot cannot message privately: ask them in the incident's thread with
    the same card, mentioning them and whoever asked, saying why (`reason`)."""

    commandeer_id: int
    reason: str


@dataclass(frozen=True)
class DirectMessage:
    """A private message to one person about an incident."""

    incident_id: int
    person: Person
    text: str


@dataclass(frozen=True)
class StakeholderPost:
    """A status update for the team's stakeholder channel."""

    incident_id: int
    text: str


@dataclass(frozen=True)
class CheckInRequested:
    """Ask the Investigator privately how they are doing."""

    incident_id: int
    person: Person


@dataclass(frozen=True)
class PublicForm:
    """Ask for what customers will read: the public title and components on the first
    external update (`text` prefilled), or a closing update once the incident is over."""

    incident_id: int
    text: str
    status: str
    closing: bool = False


@dataclass(frozen=True)
class SpaceReady:
    """The incident's place is decided (its own channel, or a thread after all): the
    message opening its thread, held until now, may go to `Incident.channel_id`."""

    incident_id: int


@dataclass(frozen=True)
class ChannelPost:
    """A new post in a team channel (`channel_id`) about an incident: its text, then a
    link labelled `label` (when both are given)."""

    incident_id: int
    channel_id: str
    text: str
    label: str = ""
    link: str = ""


@dataclass(frozen=True)
class AlertCard:
    """An alert group's card in the incidents channel (bot/incidents/alerts.py): posted
    when `new`, else updated in place to show the group's current state."""

    alert_group_id: int
    new: bool = False


Notice = (
    Reply | ThreadOpened | ThreadPost | CardChanged | RoleRequested
    | HandoverAnswered | CommandeerRequested | CommandeerInThread | DirectMessage
    | StakeholderPost | CheckInRequested | PublicForm | SpaceReady | ChannelPost | AlertCard
)
