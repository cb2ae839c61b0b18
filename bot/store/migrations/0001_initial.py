import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from bot.store.models import JobStatus, OutboxOperation, OutboxStatus


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Job',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=64)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('dedupe_key', fields.CharField(null=True, unique=True, max_length=255)),
                ('status', fields.CharEnumField(default=JobStatus.PENDING, description='PENDING: pending\nRUNNING: running\nDONE: done\nFAILED: failed\nCANCELLED: cancelled', enum_type=JobStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('max_attempts', fields.IntField(default=8)),
                ('due_ms', fields.BigIntField(db_index=True)),
                ('locked_until_ms', fields.BigIntField(default=0)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job', 'app': 'bot', 'indexes': [Index(fields=['status', 'due_ms'])], 'pk_attr': 'id', 'table_description': 'A timer: something to do at `due_ms`, claimed by one replica at a time.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('operation', fields.CharEnumField(description='SEND: send\nREPLY: reply\nUPDATE: update\nDELETE: delete\nCREATE_CONVERSATION: create_conversation', enum_type=OutboxOperation, max_length=32)),
                ('service_url', fields.CharField(max_length=512)),
                ('conversation_id', fields.CharField(null=True, max_length=512)),
                ('activity_id', fields.CharField(null=True, max_length=256)),
                ('payload', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('ordering_key', fields.CharField(db_index=True, max_length=512)),
                ('name', fields.CharField(null=True, unique=True, max_length=255)),
                ('status', fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: pending\nSENDING: sending\nSENT: sent\nFAILED: failed', enum_type=OutboxStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('due_ms', fields.BigIntField(db_index=True)),
                ('locked_until_ms', fields.BigIntField(default=0)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('result', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_message', 'app': 'bot', 'indexes': [Index(fields=['status', 'due_ms'])], 'pk_attr': 'id', 'table_description': 'A call to the Bot Connector, committed with the change that caused it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProcessedActivity',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=64)),
                ('processed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'processed_activity', 'app': 'bot', 'pk_attr': 'id', 'table_description': 'An incoming activity that changed state. Its key makes retries from Teams harmless.'},
            bases=['Model'],
        ),
    ]
