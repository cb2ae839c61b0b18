from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from bot.store.status_models import PublicStatus, SyncState


class Migration(migrations.Migration):
    dependencies = [('bot', '0005_review_doc')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PublicIncident',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant_id', fields.CharField(max_length=64)),
                ('incident', fields.OneToOneField('bot.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='public', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=200)),
                ('components', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharEnumField(default=PublicStatus.INVESTIGATING, description='INVESTIGATING: investigating\nIDENTIFIED: identified\nMONITORING: monitoring\nRESOLVED: resolved', enum_type=PublicStatus, max_length=16)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('statuspage_id', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'public_incident', 'app': 'bot', 'indexes': [Index(fields=['tenant_id', 'updated_at'])], 'pk_attr': 'id', 'table_description': 'An incident as customers see it, with its customer facing title and components.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PublicUpdate',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_incident', fields.ForeignKeyField('bot.PublicIncident', source_field='public_incident_id', db_constraint=True, to_field='id', related_name='updates', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(description='INVESTIGATING: investigating\nIDENTIFIED: identified\nMONITORING: monitoring\nRESOLVED: resolved', enum_type=PublicStatus, max_length=16)),
                ('text', fields.TextField(unique=False)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sync_state', fields.CharEnumField(default=SyncState.NONE, description='NONE: none\nPENDING: pending\nSYNCED: synced\nFAILED: failed', enum_type=SyncState, max_length=16)),
                ('sync_error', fields.CharField(null=True, max_length=512)),
                ('synced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'public_update', 'app': 'bot', 'indexes': [Index(fields=['public_incident_id', 'published_at'])], 'pk_attr': 'id', 'table_description': 'One update published to customers, and whether Statuspage has it.'},
            bases=['Model'],
        ),
    ]
