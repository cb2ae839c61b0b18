from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('bot', '0005_review_doc')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Commandeer',
            index=Index(fields=['incident_id', 'status']),
        ),
    ]
