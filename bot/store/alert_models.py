"""Alerts from monitoring systems (bot/incidents/alerts.py): one row per alert group.

Model docstrings become table comments, and the SQLite migration runner splits SQL on
semicolons and breaks on quotes: keep both out of model docstrings.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from bot.store.incident_models import Incident


class AlertState(str, Enum):
    """What people did with the offer on the card."""

    OPEN = "open"  # the card offers to declare
    DECLARED = "declared"  # an incident was declared from it
    DISMISSED = "dismissed"  # someone said it is not an incident


class AlertGroup(Model):
    """An alert group of one source (its groupKey): its card, and its incident once declared."""

    id = fields.BigIntField(primary_key=True)
    source = fields.CharField(max_length=40)
    group_key = fields.CharField(max_length=1024)
    # firing or resolved, as the latest notification said.
    status = fields.CharField(max_length=16)
    state = fields.CharEnumField(AlertState, max_length=16, default=AlertState.OPEN)
    # From the rule that matched when the group first fired.
    summary = fields.CharField(max_length=200)
    severity = fields.IntField()
    squad = fields.CharField(max_length=64, null=True)
    # Where its card is: the tenant, team and incidents channel it was posted in.
    tenant_id = fields.CharField(max_length=64)
    team_id = fields.CharField(max_length=256)
    channel_id = fields.CharField(max_length=256)
    service_url = fields.CharField(max_length=512)
    # The card's thread and activity once Teams answered its creation (bot/teams/deliveries.py).
    card_conversation_id = fields.CharField(max_length=512, null=True)
    card_activity_id = fields.CharField(max_length=256, null=True)
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="alert_groups", null=True, on_delete=fields.SET_NULL)
    incident_id: int | None
    # Who dismissed it (a name, for the card).
    dismissed_by = fields.CharField(max_length=256, null=True)
    # The latest notification: how many alerts, and their links and start times.
    alerts: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    external_url = fields.CharField(max_length=1024, null=True)
    first_at = fields.DatetimeField()
    last_at = fields.DatetimeField()

    class Meta:
        table = "alert_group"
        unique_together = (("source", "group_key"),)
