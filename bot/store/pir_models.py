"""Tables of the review: the Post Incident Review, follow-up actions, link signing.

Model docstrings become table comments, and the SQLite migration runner splits SQL on
semicolons and breaks on quotes: keep both out of model docstrings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from bot.store.incident_models import Incident


class Review(Model):
    """The Post Incident Review of one incident: due time, written sections, readiness."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.OneToOneRelation[Incident] = fields.OneToOneField(
        "bot.Incident", related_name="review")
    incident_id: int
    created_at = fields.DatetimeField()
    due_at = fields.DatetimeField()
    ready_at = fields.DatetimeField(null=True)
    ready_by = fields.CharField(max_length=256, null=True)
    root_cause = fields.TextField(default="")
    contributing_factors = fields.TextField(default="")
    went_well = fields.TextField(default="")
    went_badly = fields.TextField(default="")
    meeting_at = fields.DatetimeField(null=True)
    meeting_url = fields.CharField(max_length=1024, null=True)
    # The Google Doc the review was exported to, when Google is configured.
    doc_url = fields.CharField(max_length=1024, null=True)

    class Meta:
        table = "review"


class FollowUpAction(Model):
    """Work that keeps the incident from happening again, and where it is tracked."""

    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "bot.Incident", related_name="actions")
    incident_id: int
    number = fields.IntField()
    text = fields.TextField()
    owner_id = fields.CharField(max_length=256, null=True)
    owner_name = fields.CharField(max_length=256, null=True)
    status = fields.CharField(max_length=16, default="open")
    tracker_url = fields.CharField(max_length=1024, null=True)
    tracker_state = fields.CharField(max_length=16, default="none")
    created_at = fields.DatetimeField()
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "follow_up_action"
        unique_together = (("incident", "number"),)


class SigningSecret(Model):
    """A random key for signed links, shared by every replica through the database."""

    name = fields.CharField(max_length=32, primary_key=True)
    secret = fields.CharField(max_length=128)

    class Meta:
        table = "signing_secret"
