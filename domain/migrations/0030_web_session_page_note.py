"""Issue 16, forms that help: a web session keeps what its next page shows once (a refused
form's message and typed values, a bulk action's results), so a refused post redirects and a
refresh sends nothing again."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0029_web_notices')]

    initial = False

    operations = [
        ops.AddField(
            model_name='WebSession',
            name='page_note',
            field=fields.TextField(null=True),
        ),
    ]
