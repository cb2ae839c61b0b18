from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0008_pacing')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Handover',
            name='answer_by',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Handover',
            name='anyone',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
