"""Customer data does not stay in the chat (S5, issue 13): the confidentiality pledge,
the agents' chat messages that carried customer data, the inbound chat rate window."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0018_role_grants')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConfidentialityPledge',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='confidentiality_pledges', on_delete=OnDelete.CASCADE)),
                ('version', fields.CharField(max_length=16)),
                ('channel', fields.CharField(max_length=16)),
                ('confirmed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'confidentiality_pledge', 'app': 'models', 'unique_together': (('staff', 'version'),), 'pk_attr': 'id', 'table_description': "A staff member's confirmation of the confidentiality pledge (保密协议), one per text"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChatCustomerMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('case', fields.ForeignKeyField('models.Case', source_field='case_id', db_constraint=True, to_field='id', related_name='chat_messages', on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=16)),
                ('chat_id', fields.CharField(max_length=64)),
                ('message_id', fields.CharField(max_length=64)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('delete_from', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('gave_up_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'chat_customer_message', 'app': 'models', 'unique_together': (('channel', 'chat_id', 'message_id'),), 'pk_attr': 'id', 'table_description': "An agent's chat message that carried customer data (name, ID number, mobile, photo),"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChatInboundHit',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('sender', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('dropped', fields.BooleanField(default=False)),
            ],
            options={'table': 'chat_inbound_hit', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One inbound chat event of a sender, kept for the length of the sliding rate window.'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='ChatInboundHit',
            index=Index(fields=['channel', 'sender', 'at']),
        ),
    ]
