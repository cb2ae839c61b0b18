from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0006_external_updates')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Commandeer',
            index=Index(fields=['incident_id', 'status']),
        ),
    ]
