from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from bot.store.models import Urgency


class Migration(migrations.Migration):
    dependencies = [('bot', '0007_scale_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PaceHold',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('budget_key', fields.CharField(unique=True, max_length=512)),
                ('until_ms', fields.BigIntField()),
                ('slow_until_ms', fields.BigIntField()),
            ],
            options={'table': 'pace_hold', 'app': 'bot', 'pk_attr': 'id', 'table_description': 'A budget Teams throttled: nothing until `until_ms`, then a slower pace until `slow_until_ms`.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaceSlot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('budget_key', fields.CharField(max_length=512)),
                ('at_ms', fields.BigIntField()),
            ],
            options={'table': 'pace_slot', 'app': 'bot', 'indexes': [Index(fields=['budget_key', 'at_ms'])], 'pk_attr': 'id', 'table_description': 'One Bot Connector call spent from a budget (a conversation, a tenant, a lane).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='failed_status',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='lane',
            field=fields.CharField(null=True, max_length=512),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='merge_key',
            field=fields.CharField(null=True, db_index=True, max_length=512),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='merge_text',
            field=fields.CharField(null=True, max_length=500),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='on_failure',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='tenant_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='urgency',
            field=fields.IntEnumField(default=Urgency.ANSWER, description='URGENT: 0\nANSWER: 1\nCARD: 2\nROUTINE: 3', enum_type=Urgency, generated=False),
        ),
    ]
