"""Tables of the incident domain: incidents, roles, handovers, the timeline and its parts.

Model docstrings become table comments, and the SQLite migration runner splits SQL on
semicolons and breaks on quotes: keep both out of model docstrings.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from bot.store.quiet_model import Unsignalled


class TeamSettings(Model):
    """Per team settings, set from Teams with the setup command."""

    id = fields.IntField(primary_key=True)
    tenant_id = fields.CharField(max_length=64)
    team_id = fields.CharField(max_length=256)
    service_url = fields.CharField(max_length=512)
    incidents_channel_id = fields.CharField(max_length=256, null=True)
    stakeholder_channel_id = fields.CharField(max_length=256, null=True)
    # The Customer Support Engineer told when a review is ready.
    cse_id = fields.CharField(max_length=256, null=True)
    cse_name = fields.CharField(max_length=256, null=True)
    # Working-day rules for review due times (the TIMEZONE / HOLIDAYS_COUNTRY defaults apply
    # when unset).
    timezone = fields.CharField(max_length=64, null=True)
    holidays_country = fields.CharField(max_length=16, null=True)
    # Where an incident is talked about: "thread" (a reply chain in the incidents channel)
    # or "channel" (a channel of its own, made through Graph: bot/incidents/spaces.py).
    space = fields.CharField(max_length=16, default="thread", db_default="thread")
    # The team's Entra group id (Graph's team id), which Teams sends as
    # channelData.team.aadGroupId; captured by `setup space channel`.
    aad_group_id = fields.CharField(max_length=64, null=True)
    # The incident channel's name pattern (None: spaces.DEFAULT_PATTERN).
    channel_pattern = fields.CharField(max_length=128, null=True)
    # Admins were told the team nears Teams' channel limit (said once).
    channel_limit_warned = fields.BooleanField(default=False, db_default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "team_settings"
        unique_together = (("tenant_id", "team_id"),)


class IncidentCounter(Model):
    """The last incident number given out in a tenant."""

    tenant_id = fields.CharField(max_length=64, primary_key=True)
    last_number = fields.IntField(default=0)

    class Meta:
        table = "incident_counter"


class IncidentStatus(str, Enum):
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ReviewState(str, Enum):
    PENDING = "pending"
    DONE = "done"
    WAIVED = "waived"


class Incident(Model):
    """One incident, with its current roles and where its thread lives."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.CharField(max_length=64)
    number = fields.IntField()
    title = fields.CharField(max_length=200)
    description = fields.TextField(null=True)
    affected = fields.TextField(null=True)
    impact = fields.TextField(null=True)
    severity = fields.SmallIntField()
    status = fields.CharEnumField(IncidentStatus, max_length=16,
                                  default=IncidentStatus.INVESTIGATING)
    review_state = fields.CharEnumField(ReviewState, max_length=16, default=ReviewState.PENDING)
    declared_at = fields.DatetimeField()
    mitigated_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    declared_by_id = fields.CharField(max_length=256)
    declared_by_name = fields.CharField(max_length=256)
    investigator_id = fields.CharField(max_length=256, null=True)
    investigator_name = fields.CharField(max_length=256, null=True)
    investigator_aad = fields.CharField(max_length=64, null=True)
    commander_id = fields.CharField(max_length=256, null=True)
    commander_name = fields.CharField(max_length=256, null=True)
    commander_aad = fields.CharField(max_length=64, null=True)
    service_url = fields.CharField(max_length=512)
    team_id = fields.CharField(max_length=256, null=True)
    channel_id = fields.CharField(max_length=256)
    thread_id = fields.CharField(max_length=512, null=True, db_index=True)
    card_activity_id = fields.CharField(max_length=256, null=True)
    # Its own channel (channel space): the Graph team (group) id and the channel's name,
    # set once Graph made it; `space_state` is None in thread space, else "creating",
    # "open" (channel_id is its channel), "fallback" (a thread after all) or "archived".
    space_state = fields.CharField(max_length=16, null=True)
    space_group_id = fields.CharField(max_length=64, null=True)
    space_name = fields.CharField(max_length=64, null=True)
    # A private incident (`declare private`) is talked about in a Teams group chat of its
    # members only (bot/incidents/privacy.py): `chat_id` once Graph made it; `space_state`
    # is then "creating", "chat" (made, the app not yet installed), "private" (its place)
    # or "fallback" (the declarer's 1:1 chat after all).
    private = fields.BooleanField(default=False, db_default=False)
    chat_id = fields.CharField(max_length=256, null=True)
    last_update = fields.TextField(null=True)
    last_update_at = fields.DatetimeField(null=True)
    room_provider = fields.CharField(max_length=16, null=True)
    room_url = fields.CharField(max_length=1024, null=True)
    room_note = fields.CharField(max_length=512, null=True)
    # The latest room request: an older request finishing late must not replace its result.
    room_request = fields.CharField(max_length=64, null=True)
    # The room's meeting id while its attendance is followed (a Zoom room with
    # ZOOM_WEBHOOK_SECRET_TOKEN set, bot.incidents.attendance); None otherwise.
    room_meeting_id = fields.CharField(max_length=32, null=True, db_index=True)
    squad = fields.CharField(max_length=64, null=True)
    # The runbook of the squad it was declared for, as it was then (the squad's, else the
    # process file's).
    runbook = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "incident"
        unique_together = (("tenant_id", "number"),)
        # (channel_id, space_state): a post in a channel is looked up as a post in an
        # incident's own channel by every command and, with conversation capture, every
        # message (bot.incidents.conversation.place_of); without it that is a scan.
        indexes = (("tenant_id", "status"), ("channel_id", "space_state"))


class IncidentMember(Model):
    """Someone who may see a private incident: its declarer, the people asked for a role,
    the commandeered. `in_chat` once Graph added them to its group chat."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="members")
    incident_id: int
    person_id = fields.CharField(max_length=256)
    name = fields.CharField(max_length=256)
    aad_object_id = fields.CharField(max_length=64, null=True)
    in_chat = fields.BooleanField(default=False)
    added_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incident_member"
        unique_together = (("incident", "person_id"),)


class Participant(Model):
    """Someone helping with an incident: an extra investigator."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="participants")
    incident_id: int
    person_id = fields.CharField(max_length=256)
    name = fields.CharField(max_length=256)
    aad_object_id = fields.CharField(max_length=64, null=True)
    role = fields.CharField(max_length=32)
    added_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "participant"
        unique_together = (("incident", "person_id", "role"),)


class HandoverStatus(str, Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


class Handover(Model):
    """A request for someone to take a role, which only they can accept or decline."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="handovers")
    incident_id: int
    role = fields.CharField(max_length=32)
    to_id = fields.CharField(max_length=256)
    to_name = fields.CharField(max_length=256)
    to_aad = fields.CharField(max_length=64, null=True)
    from_id = fields.CharField(max_length=256, null=True)
    from_name = fields.CharField(max_length=256, null=True)
    requested_by_id = fields.CharField(max_length=256)
    requested_by_name = fields.CharField(max_length=256)
    status = fields.CharEnumField(HandoverStatus, max_length=16, default=HandoverStatus.PENDING)
    requested_at = fields.DatetimeField()
    answered_at = fields.DatetimeField(null=True)
    card_activity_id = fields.CharField(max_length=256, null=True)
    # Why this person was asked (primary on-call, ...) and whom to ask next if they do not
    # accept: the on-call defaults walk this list.
    reason = fields.CharField(max_length=256, null=True)
    # When the request expires unanswered (the card says what happens then).
    answer_by = fields.DatetimeField(null=True)
    # Asked of anyone in the channel (nobody to ask): `to_*` is whoever took it.
    anyone = fields.BooleanField(default=False, db_default=False)
    next_candidates: fields.JSONField[list[dict[str, Any]] | None] = fields.JSONField(null=True)

    class Meta:
        table = "handover"
        indexes = (("incident_id", "role", "status"),)


class CommandeerStatus(str, Enum):
    PENDING = "pending"
    JOINING = "joining"
    DECLINED = "declined"
    EXPIRED = "expired"


class Commandeer(Model):
    """Someone pulled into an incident by the Commander, and what they answered."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="commandeers")
    incident_id: int
    person_id = fields.CharField(max_length=256)
    name = fields.CharField(max_length=256)
    aad_object_id = fields.CharField(max_length=64, null=True)
    why = fields.TextField(null=True)
    requested_by_id = fields.CharField(max_length=256)
    requested_by_name = fields.CharField(max_length=256)
    status = fields.CharEnumField(CommandeerStatus, max_length=16,
                                  default=CommandeerStatus.PENDING)
    requested_at = fields.DatetimeField()
    answered_at = fields.DatetimeField(null=True)
    # When they were first seen in the Incident Command Room (Zoom attendance).
    joined_room_at = fields.DatetimeField(null=True)

    class Meta:
        table = "commandeer"
        # The review lists an incident's commandeered people: without this index every
        # review read the whole table (a scan growing with the incident history).
        indexes = (("incident_id", "status"),)


class RoomSession(Model):
    """One stay of one participant in an incident room, and the Teams person it matched."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="room_sessions")
    incident_id: int
    meeting_id = fields.CharField(max_length=32)
    # The provider's participant key (Zoom: participant_uuid); with joined_at, one stay.
    participant_key = fields.CharField(max_length=128)
    name = fields.CharField(max_length=256)
    email = fields.CharField(max_length=256, null=True)
    person_id = fields.CharField(max_length=256, null=True)
    person_name = fields.CharField(max_length=256, null=True)
    joined_at = fields.DatetimeField()
    left_at = fields.DatetimeField(null=True)

    class Meta:
        table = "room_session"
        unique_together = (("incident", "participant_key", "joined_at"),)


class TimelineEvent(Unsignalled, Model):
    """Something that happened in an incident, who did it and when."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="timeline")
    incident_id: int
    at = fields.DatetimeField()
    kind = fields.CharField(max_length=32)
    actor_id = fields.CharField(max_length=256, null=True)
    actor_name = fields.CharField(max_length=256, null=True)
    text = fields.TextField()
    data: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)

    class Meta:
        table = "timeline_event"
        indexes = (("incident_id", "at"),)


class ChatEntry(Model):
    """A message people wrote in an incident thread, channel or chat without mentioning the
    bot (CAPTURE_CONVERSATION): its text as Teams showed it, links and attachment
    references. Edits replace the text, a deletion blanks it. `event_id` is its timeline
    event."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="chat")
    incident_id: int
    message_id = fields.CharField(max_length=256)
    author_id = fields.CharField(max_length=256)
    author_name = fields.CharField(max_length=256)
    sent_at = fields.DatetimeField()
    text = fields.TextField()
    links: fields.JSONField[list[str] | None] = fields.JSONField(null=True)
    attachments: fields.JSONField[list[dict[str, str]] | None] = fields.JSONField(null=True)
    edited_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    event_id = fields.BigIntField(null=True)

    class Meta:
        table = "chat_entry"
        unique_together = (("incident", "message_id"),)


class ItemStatus(str, Enum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISPROVED = "disproved"
    DONE = "done"


class Hypothesis(Model):
    """A possible root cause, open until confirmed or disproved."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="hypotheses")
    incident_id: int
    number = fields.IntField()
    text = fields.TextField()
    status = fields.CharEnumField(ItemStatus, max_length=16, default=ItemStatus.OPEN)
    author_id = fields.CharField(max_length=256)
    author_name = fields.CharField(max_length=256)
    created_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "hypothesis"
        unique_together = (("incident", "number"),)


class Task(Model):
    """A piece of work someone was given during the incident."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="tasks")
    incident_id: int
    number = fields.IntField()
    text = fields.TextField()
    assignee_id = fields.CharField(max_length=256, null=True)
    assignee_name = fields.CharField(max_length=256, null=True)
    status = fields.CharEnumField(ItemStatus, max_length=16, default=ItemStatus.OPEN)
    created_by_id = fields.CharField(max_length=256)
    created_by_name = fields.CharField(max_length=256)
    created_at = fields.DatetimeField()
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "task"
        unique_together = (("incident", "number"),)


class DirectConversation(Model):
    """The 1 to 1 chat between the bot and a person, once it exists."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.CharField(max_length=64)
    user_id = fields.CharField(max_length=256)
    conversation_id = fields.CharField(max_length=512)
    service_url = fields.CharField(max_length=512)

    class Meta:
        table = "direct_conversation"
        unique_together = (("tenant_id", "user_id"),)
