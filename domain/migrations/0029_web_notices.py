"""Web notifications (issue 16): the notices the admin's bell counts and lists, one per outbox
notification, written with it."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0028_chat_card_replaced_by')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WebNotice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('recipient', fields.ForeignKeyField('models.Staff', source_field='recipient_id', db_constraint=True, to_field='id', related_name='web_notices', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=64)),
                ('subject_type', fields.CharField(max_length=32)),
                ('subject_id', fields.BigIntField()),
                ('subject_revision', fields.IntField(null=True)),
                ('template', fields.TextField(unique=False)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('idempotency_key', fields.CharField(unique=True, max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('read_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'web_notice', 'app': 'models', 'indexes': [Index(fields=['recipient_id', 'read_at'])], 'pk_attr': 'id', 'table_description': 'One notification to one staff member as the admin shows it, written with its outbox'},
            bases=['Model'],
        ),
    ]
