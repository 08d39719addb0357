"""WeCom (issue 15): the chat channel a staff member chose for his notifications."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0024_platform_token')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Staff',
            name='notify_channel',
            field=fields.CharField(null=True, max_length=16),
        ),
    ]
