"""Tables of on-call: squads, their members in rotation order, and overrides.

Model docstrings become table comments, and the SQLite migration runner splits SQL on
semicolons and breaks on quotes: keep both out of model docstrings.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Squad(Model):
    """A squad with an on-call rotation: who is primary and secondary when."""

    id = fields.IntField(primary_key=True)
    tenant_id = fields.CharField(max_length=64)
    name = fields.CharField(max_length=64)
    timezone = fields.CharField(max_length=64, default="UTC")
    period = fields.CharField(max_length=8, default="weekly")
    handoff_time = fields.CharField(max_length=5, default="09:00")
    handoff_weekday = fields.SmallIntField(default=0)
    anchor = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)
    # An https link to the squad's runbook (`oncall <squad> runbook <url>`).
    runbook = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "squad"
        unique_together = (("tenant_id", "name"),)


class SquadMember(Model):
    """A member of a squad, at a place in its rotation."""

    id = fields.IntField(primary_key=True)
    squad: fields.ForeignKeyRelation[Squad] = fields.ForeignKeyField(
        "bot.Squad", related_name="members")
    squad_id: int
    person_id = fields.CharField(max_length=256)
    name = fields.CharField(max_length=256)
    aad_object_id = fields.CharField(max_length=64, null=True)
    position = fields.IntField()

    class Meta:
        table = "squad_member"
        unique_together = (("squad", "person_id"),)


class OnCallOverride(Model):
    """Someone covering the primary or secondary slot for a period."""

    id = fields.BigIntField(primary_key=True)
    squad: fields.ForeignKeyRelation[Squad] = fields.ForeignKeyField(
        "bot.Squad", related_name="overrides")
    squad_id: int
    slot = fields.CharField(max_length=16)
    person_id = fields.CharField(max_length=256)
    name = fields.CharField(max_length=256)
    aad_object_id = fields.CharField(max_length=64, null=True)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    source = fields.CharField(max_length=16, default="teams")

    class Meta:
        table = "oncall_override"
        indexes = (("squad_id", "slot", "ends_at"),)


class ChannelSquad(Model):
    """The squad a channel declares incidents for by default."""

    id = fields.IntField(primary_key=True)
    tenant_id = fields.CharField(max_length=64)
    channel_id = fields.CharField(max_length=256)
    squad: fields.ForeignKeyRelation[Squad] = fields.ForeignKeyField(
        "bot.Squad", related_name="channels")
    squad_id: int

    class Meta:
        table = "channel_squad"
        unique_together = (("tenant_id", "channel_id"),)
