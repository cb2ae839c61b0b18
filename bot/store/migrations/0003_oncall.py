from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0002_incidents')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Squad',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant_id', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=64)),
                ('timezone', fields.CharField(default='UTC', max_length=64)),
                ('period', fields.CharField(default='weekly', max_length=8)),
                ('handoff_time', fields.CharField(default='09:00', max_length=5)),
                ('handoff_weekday', fields.SmallIntField(default=0)),
                ('anchor', fields.DateField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'squad', 'app': 'bot', 'unique_together': (('tenant_id', 'name'),), 'pk_attr': 'id', 'table_description': 'A squad with an on-call rotation: who is primary and secondary when.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChannelSquad',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant_id', fields.CharField(max_length=64)),
                ('channel_id', fields.CharField(max_length=256)),
                ('squad', fields.ForeignKeyField('bot.Squad', source_field='squad_id', db_constraint=True, to_field='id', related_name='channels', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'channel_squad', 'app': 'bot', 'unique_together': (('tenant_id', 'channel_id'),), 'pk_attr': 'id', 'table_description': 'The squad a channel declares incidents for by default.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OnCallOverride',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('squad', fields.ForeignKeyField('bot.Squad', source_field='squad_id', db_constraint=True, to_field='id', related_name='overrides', on_delete=OnDelete.CASCADE)),
                ('slot', fields.CharField(max_length=16)),
                ('person_id', fields.CharField(max_length=256)),
                ('name', fields.CharField(max_length=256)),
                ('aad_object_id', fields.CharField(null=True, max_length=64)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('source', fields.CharField(default='teams', max_length=16)),
            ],
            options={'table': 'oncall_override', 'app': 'bot', 'indexes': [Index(fields=['squad_id', 'slot', 'ends_at'])], 'pk_attr': 'id', 'table_description': 'Someone covering the primary or secondary slot for a period.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SquadMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('squad', fields.ForeignKeyField('bot.Squad', source_field='squad_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('person_id', fields.CharField(max_length=256)),
                ('name', fields.CharField(max_length=256)),
                ('aad_object_id', fields.CharField(null=True, max_length=64)),
                ('position', fields.IntField()),
            ],
            options={'table': 'squad_member', 'app': 'bot', 'unique_together': (('squad', 'person_id'),), 'pk_attr': 'id', 'table_description': 'A member of a squad, at a place in its rotation.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Handover',
            name='next_candidates',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Handover',
            name='reason',
            field=fields.CharField(null=True, max_length=256),
        ),
        ops.AddField(
            model_name='Incident',
            name='room_request',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Incident',
            name='squad',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
