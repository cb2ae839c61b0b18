from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0011_private_incidents')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RoomSession',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('bot.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='room_sessions', on_delete=OnDelete.CASCADE)),
                ('meeting_id', fields.CharField(max_length=32)),
                ('participant_key', fields.CharField(max_length=128)),
                ('name', fields.CharField(max_length=256)),
                ('email', fields.CharField(null=True, max_length=256)),
                ('person_id', fields.CharField(null=True, max_length=256)),
                ('person_name', fields.CharField(null=True, max_length=256)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('left_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'room_session', 'app': 'bot', 'unique_together': (('incident', 'participant_key', 'joined_at'),), 'pk_attr': 'id', 'table_description': 'One stay of one participant in an incident room, and the Teams person it matched.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Commandeer',
            name='joined_room_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Incident',
            name='room_meeting_id',
            field=fields.CharField(null=True, db_index=True, max_length=32),
        ),
    ]
