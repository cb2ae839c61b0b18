from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from bot.store.alert_models import AlertState


class Migration(migrations.Migration):
    dependencies = [('bot', '0013_runbooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AlertGroup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.CharField(max_length=40)),
                ('group_key', fields.CharField(max_length=1024)),
                ('status', fields.CharField(max_length=16)),
                ('state', fields.CharEnumField(default=AlertState.OPEN, description='OPEN: open\nDECLARED: declared\nDISMISSED: dismissed', enum_type=AlertState, max_length=16)),
                ('summary', fields.CharField(max_length=200)),
                ('severity', fields.IntField()),
                ('squad', fields.CharField(null=True, max_length=64)),
                ('tenant_id', fields.CharField(max_length=64)),
                ('team_id', fields.CharField(max_length=256)),
                ('channel_id', fields.CharField(max_length=256)),
                ('service_url', fields.CharField(max_length=512)),
                ('card_conversation_id', fields.CharField(null=True, max_length=512)),
                ('card_activity_id', fields.CharField(null=True, max_length=256)),
                ('incident', fields.ForeignKeyField(
                    'bot.Incident', source_field='incident_id', db_constraint=True, to_field='id',
                    related_name='alert_groups', null=True, on_delete=OnDelete.SET_NULL)),
                ('dismissed_by', fields.CharField(null=True, max_length=256)),
                ('alerts', fields.JSONField(default=list)),
                ('external_url', fields.CharField(null=True, max_length=1024)),
                ('first_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'alert_group', 'app': 'bot',
                     'unique_together': (('source', 'group_key'),), 'pk_attr': 'id',
                     'table_description': 'An alert group of one source (its groupKey): its card, and its incident once declared.'},
            bases=['Model'],
        ),
    ]
