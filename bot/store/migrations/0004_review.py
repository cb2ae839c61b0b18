from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0003_oncall')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FollowUpAction',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('bot.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='actions', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('text', fields.TextField(unique=False)),
                ('owner_id', fields.CharField(null=True, max_length=256)),
                ('owner_name', fields.CharField(null=True, max_length=256)),
                ('status', fields.CharField(default='open', max_length=16)),
                ('tracker_url', fields.CharField(null=True, max_length=1024)),
                ('tracker_state', fields.CharField(default='none', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'follow_up_action', 'app': 'bot', 'unique_together': (('incident', 'number'),), 'pk_attr': 'id', 'table_description': 'Work that keeps the incident from happening again, and where it is tracked.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Review',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.OneToOneField('bot.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='review', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ready_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ready_by', fields.CharField(null=True, max_length=256)),
                ('root_cause', fields.TextField(default='', unique=False)),
                ('contributing_factors', fields.TextField(default='', unique=False)),
                ('went_well', fields.TextField(default='', unique=False)),
                ('went_badly', fields.TextField(default='', unique=False)),
                ('meeting_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('meeting_url', fields.CharField(null=True, max_length=1024)),
            ],
            options={'table': 'review', 'app': 'bot', 'pk_attr': 'id', 'table_description': 'The Post Incident Review of one incident: due time, written sections, readiness.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SigningSecret',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('secret', fields.CharField(max_length=128)),
            ],
            options={'table': 'signing_secret', 'app': 'bot', 'pk_attr': 'name', 'table_description': 'A random key for signed links, shared by every replica through the database.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='TeamSettings',
            name='cse_id',
            field=fields.CharField(null=True, max_length=256),
        ),
        ops.AddField(
            model_name='TeamSettings',
            name='cse_name',
            field=fields.CharField(null=True, max_length=256),
        ),
        ops.AddField(
            model_name='TeamSettings',
            name='holidays_country',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='TeamSettings',
            name='timezone',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
