from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    # Other branches add 0012-0015; whoever merges renumbers this one after them.
    dependencies = [('bot', '0014_alerts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChatEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField(
                    'bot.Incident', source_field='incident_id', db_constraint=True, to_field='id',
                    related_name='chat', on_delete=OnDelete.CASCADE)),
                ('message_id', fields.CharField(max_length=256)),
                ('author_id', fields.CharField(max_length=256)),
                ('author_name', fields.CharField(max_length=256)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('text', fields.TextField()),
                ('links', fields.JSONField(null=True)),
                ('attachments', fields.JSONField(null=True)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('event_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'chat_entry', 'app': 'bot',
                     'unique_together': (('incident', 'message_id'),), 'pk_attr': 'id',
                     'table_description': 'A message people wrote in an incident thread, channel or chat without mentioning the bot (CAPTURE_CONVERSATION): its text as Teams showed it, links and attachment references. Edits replace the text, a deletion blanks it. `event_id` is its timeline event.'},
            bases=['Model'],
        ),
    ]
