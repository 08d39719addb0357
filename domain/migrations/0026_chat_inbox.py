"""WeCom (issue 15): a durable, channel-neutral inbox of pushed chat messages, stored before
they are answered and handled per sender in arrival order."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from domain.models.chat_inbox import InboxStatus


class Migration(migrations.Migration):
    dependencies = [('models', '0025_notify_channel')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChatInboxMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('dedupe_key', fields.CharField(max_length=128)),
                ('sender', fields.CharField(max_length=64)),
                ('payload', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=InboxStatus.PENDING, description='PENDING: pending\nHANDLED: handled\nDEAD: dead', enum_type=InboxStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('claim_token', fields.CharField(null=True, max_length=64)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('handled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'chat_inbox', 'app': 'models', 'unique_together': (('channel', 'dedupe_key'),), 'pk_attr': 'id', 'table_description': 'A message a chat platform pushed to us, stored before it is answered and handled later,'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='ChatInboxMessage',
            index=Index(fields=['channel', 'status', 'sender', 'id']),
        ),
    ]
