from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0010_channel_space')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Incident',
            name='private',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Incident',
            name='chat_id',
            field=fields.CharField(null=True, max_length=256),
        ),
        ops.CreateModel(
            name='IncidentMember',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField(
                    'bot.Incident', source_field='incident_id', db_constraint=True, to_field='id',
                    related_name='members', on_delete=OnDelete.CASCADE)),
                ('person_id', fields.CharField(max_length=256)),
                ('name', fields.CharField(max_length=256)),
                ('aad_object_id', fields.CharField(null=True, max_length=64)),
                ('in_chat', fields.BooleanField(default=False)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incident_member', 'app': 'bot',
                     'unique_together': (('incident', 'person_id'),), 'pk_attr': 'id',
                     'table_description': 'Someone who may see a private incident: its declarer, the people asked for a role, the commandeered. `in_chat` once Graph added them to its group chat.'},
            bases=['Model'],
        ),
    ]
