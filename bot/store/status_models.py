"""Tables of external communication: what customers were told, and nothing else.

The public status page reads only these two tables, and only the columns listed in
`bot.incidents.status_page`: internal titles, notes, names and timelines live elsewhere,
so a page that can only query here cannot leak them.

Model docstrings become table comments, and the SQLite migration runner splits SQL on
semicolons and breaks on quotes: keep both out of model docstrings.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from bot.store.incident_models import Incident


class PublicStatus(str, Enum):
    """The states customers see, as status pages (and Atlassian Statuspage) name them."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class SyncState(str, Enum):
    """Whether an update also reached Atlassian Statuspage."""

    NONE = "none"
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"


class PublicIncident(Model):
    """An incident as customers see it, with its customer facing title and components."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.CharField(max_length=64)
    incident: fields.OneToOneRelation[Incident] = fields.OneToOneField(
        "bot.Incident", related_name="public")
    incident_id: int
    title = fields.CharField(max_length=200)
    components: fields.JSONField[list[str]] = fields.JSONField(default=list)
    status = fields.CharEnumField(PublicStatus, max_length=16,
                                  default=PublicStatus.INVESTIGATING)
    published_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)
    # The incident id Statuspage gave the first synced update.
    statuspage_id = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "public_incident"
        indexes = (("tenant_id", "updated_at"),)


class PublicUpdate(Model):
    """One update published to customers, and whether Statuspage has it."""

    id = fields.BigIntField(primary_key=True)
    public_incident: fields.ForeignKeyRelation[PublicIncident] = fields.ForeignKeyField(
        "bot.PublicIncident", related_name="updates")
    public_incident_id: int
    status = fields.CharEnumField(PublicStatus, max_length=16)
    text = fields.TextField()
    published_at = fields.DatetimeField()
    sync_state = fields.CharEnumField(SyncState, max_length=16, default=SyncState.NONE)
    sync_error = fields.CharField(max_length=512, null=True)
    synced_at = fields.DatetimeField(null=True)

    class Meta:
        table = "public_update"
        indexes = (("public_incident_id", "published_at"),)
