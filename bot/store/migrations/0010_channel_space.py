from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0009_role_requests')]

    initial = False

    operations = [
        ops.AddField(
            model_name='TeamSettings',
            name='space',
            field=fields.CharField(default='thread', db_default='thread', max_length=16),
        ),
        ops.AddField(
            model_name='TeamSettings',
            name='aad_group_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='TeamSettings',
            name='channel_pattern',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddField(
            model_name='TeamSettings',
            name='channel_limit_warned',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Incident',
            name='space_state',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Incident',
            name='space_group_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Incident',
            name='space_name',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
