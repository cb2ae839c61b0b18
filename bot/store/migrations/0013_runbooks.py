from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0012_room_attendance')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Squad',
            name='runbook',
            field=fields.CharField(null=True, max_length=500),
        ),
        ops.AddField(
            model_name='Incident',
            name='runbook',
            field=fields.CharField(null=True, max_length=500),
        ),
    ]
