"""What the replicas share to spend Teams' rate limits together (bot.teams.pacing).

Model docstrings become table comments: keep semicolons and quotes out of them.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class PaceSlot(Model):
    """One Bot Connector call spent from a budget (a conversation, a tenant, a lane)."""

    id = fields.BigIntField(primary_key=True)
    budget_key = fields.CharField(max_length=512)
    at_ms = fields.BigIntField()

    class Meta:
        table = "pace_slot"
        indexes = (("budget_key", "at_ms"),)


class PaceHold(Model):
    """A budget Teams throttled: nothing until `until_ms`, then a slower pace until `slow_until_ms`."""

    id = fields.BigIntField(primary_key=True)
    budget_key = fields.CharField(max_length=512, unique=True)
    until_ms = fields.BigIntField()
    slow_until_ms = fields.BigIntField()

    class Meta:
        table = "pace_hold"
