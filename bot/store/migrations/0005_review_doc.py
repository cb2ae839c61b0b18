from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0004_review')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Review',
            name='doc_url',
            field=fields.CharField(null=True, max_length=1024),
        ),
    ]
