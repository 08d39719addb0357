"""WeCom (issue 15): a card or text an edit sent anew points at the message that replaced it,
so that the notice's next edit takes its current message."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0027_chat_cards')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ChatCard',
            name='replaced_by',
            field=fields.CharField(null=True, max_length=128),
        ),
    ]
