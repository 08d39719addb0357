"""One send budget per bot (issue 14): the fenced lease of the process that sends for a
channel (holder, epoch, the 429 pause), the claim token that fences an outbox row's claim,
the platform's id of a sent message and the link of an edit to the message it edits."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0020_ordered_inbound_and_job_slots')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxMessage',
            name='claim_token',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='external_message_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='edit_of',
            field=fields.BigIntField(null=True),
        ),
        ops.CreateModel(
            name='SendLease',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('holder', fields.CharField(max_length=128)),
                ('epoch', fields.IntField(default=0)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('paused_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'send_lease', 'app': 'models', 'pk_attr': 'name', 'table_description': "Which process sends for a channel's bot now: one leader at a time, elected with a"},
            bases=['Model'],
        ),
    ]
