"""Tables shared by every feature: idempotency, the outbox and durable jobs.

Model docstrings become table comments, and the SQLite migration runner splits SQL on
semicolons and breaks on quotes: keep both out of model docstrings.

Scheduling columns hold epoch milliseconds (`*_ms`) rather than timestamps: comparisons
then mean the same on SQLite (which stores text) and PostgreSQL, whatever the time zone.
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from bot.store.quiet_model import Unsignalled


class ProcessedActivity(Unsignalled, Model):
    """An incoming activity that changed state. Its key makes retries from Teams harmless."""

    id = fields.BigIntField(primary_key=True)
    # sha256 of conversation id + activity id: fixed length whatever Teams' ids look like.
    key = fields.CharField(max_length=64, unique=True)
    processed_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "processed_activity"


class OutboxStatus(str, Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxOperation(str, Enum):
    SEND = "send"
    REPLY = "reply"
    UPDATE = "update"
    DELETE = "delete"
    CREATE_CONVERSATION = "create_conversation"


class Urgency(IntEnum):
    """Which of a conversation's waiting messages Teams' budget goes to first (lowest first).

    URGENT: what people act on or must know now (role requests and changes, status
    updates, severity and state changes, the room link, commandeer requests and answers).
    ANSWER: the answer to a command. CARD: the live card refreshed in place. ROUTINE: a
    confirmation that several of can be said as one ("Noted 14 entries ...").
    """

    URGENT = 0
    ANSWER = 1
    CARD = 2
    ROUTINE = 3


class OutboxMessage(Unsignalled, Model):
    """A call to the Bot Connector, committed with the change that caused it."""

    id = fields.BigIntField(primary_key=True)
    operation = fields.CharEnumField(OutboxOperation, max_length=32)
    service_url = fields.CharField(max_length=512)
    conversation_id = fields.CharField(max_length=512, null=True)
    # reply-to id for REPLY, the message id for UPDATE and DELETE
    activity_id = fields.CharField(max_length=256, null=True)
    payload: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    # Messages with the same ordering key leave strictly in id order (one thread, one order).
    ordering_key = fields.CharField(max_length=512, db_index=True)
    # Optional name, so that a feature can find what a message produced (a card's id).
    name = fields.CharField(max_length=255, null=True, unique=True)
    # The named message whose answer fills in a missing conversation or activity id
    # (a reply into a thread that the outbox has not created yet).
    after = fields.CharField(max_length=255, null=True)
    # A newer message with the same key replaces this one while it is unsent (card updates).
    coalesce_key = fields.CharField(max_length=255, null=True, db_index=True)
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    due_ms = fields.BigIntField(db_index=True)
    locked_until_ms = fields.BigIntField(default=0)
    last_error = fields.TextField(null=True)
    result: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    # The tenant whose per-app budget the call spends (Teams counts requests per tenant).
    tenant_id = fields.CharField(max_length=64, null=True)
    urgency = fields.IntEnumField(Urgency, default=Urgency.ANSWER)
    # A budget of its own besides the conversation, e.g. one live card refresh per 2 s.
    lane = fields.CharField(max_length=512, null=True)
    # Waiting messages with the same merge key leave as one, saying `merge_text` with {n}.
    merge_key = fields.CharField(max_length=512, null=True, db_index=True)
    merge_text = fields.CharField(max_length=500, null=True)
    # Whom to tell, and how, if Teams refuses this message for good (bot.teams.undelivered).
    on_failure: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    # The HTTP status of the last refusal (0: the connector was unreachable).
    failed_status = fields.IntField(null=True)

    class Meta:
        table = "outbox_message"
        indexes = (("status", "due_ms"),)


class JobStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job(Model):
    """A timer: something to do at `due_ms`, claimed by one replica at a time."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # At most one live job per key (e.g. "reminder:incident:42"); scheduling again replaces it.
    dedupe_key = fields.CharField(max_length=255, null=True, unique=True)
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.PENDING)
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=8)
    due_ms = fields.BigIntField(db_index=True)
    locked_until_ms = fields.BigIntField(default=0)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job"
        indexes = (("status", "due_ms"),)
