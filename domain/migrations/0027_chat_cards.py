"""WeCom (issue 15): the cards with buttons sent in chat, so that a press resolves to the
flows' own data once and the card can be updated with its response code."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0026_chat_inbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChatCard',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('recipient', fields.CharField(max_length=64)),
                ('task_id', fields.CharField(unique=True, max_length=128)),
                ('msgid', fields.CharField(max_length=128)),
                ('keys', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('response_code', fields.CharField(null=True, max_length=128)),
                ('code_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('pressed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('pressed_key', fields.CharField(null=True, max_length=16)),
            ],
            options={'table': 'chat_card', 'app': 'models', 'pk_attr': 'id', 'table_description': "A card with buttons a chat platform showed a recipient (WeCom's button_interaction"},
            bases=['Model'],
        ),
    ]
