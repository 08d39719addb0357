"""Multi-process correctness (issue 14): webhook updates registered on arrival so a chat's
updates are handled in update-id order across workers, and scheduler leases held for the
interval they were taken for, with a fencing epoch and the end of the run."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0019_chat_privacy')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChatInbound',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('update_id', fields.BigIntField()),
                ('sender', fields.CharField(max_length=64)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('handled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'chat_inbound', 'app': 'models', 'unique_together': (('channel', 'update_id'),), 'pk_attr': 'id', 'table_description': 'A webhook update registered on arrival, so that the updates of one chat are handled'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='ChatInbound',
            index=Index(fields=['channel', 'sender', 'update_id']),
        ),
        ops.AlterModelOptions(
            name='JobLease',
            options={'table': 'job_lease', 'app': 'models', 'pk_attr': 'name', 'table_description': 'Who runs a scheduler job until when, so several processes run it once per interval'},
        ),
        ops.AddField(
            model_name='JobLease',
            name='epoch',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='JobLease',
            name='slot_start',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='JobLease',
            name='finished_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
