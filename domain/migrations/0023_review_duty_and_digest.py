"""Fewer, better messages (issue 14): which reviewers are on duty, and notices held for the
daily digest (outbox status `digest`)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from domain.models.outbox import OutboxStatus


class AlterEnumDescription(ops.AlterField):
    """An enum field gains a value: only the field's description in the models' state
    changes. The column stays the same varchar, so nothing is done to the database (SQLite
    would rebuild the whole table for it, and lose the partial indexes of 0022)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        """Nothing to change in the database."""

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        """Nothing to change in the database."""


class Migration(migrations.Migration):
    dependencies = [('models', '0022_outbox_partial_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReviewerDuty',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.OneToOneField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='reviewer_duty', on_delete=OnDelete.CASCADE)),
                ('on_duty_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('on_duty_until', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('changed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('channel', fields.CharField(max_length=16)),
            ],
            options={'table': 'reviewer_duty', 'app': 'models', 'pk_attr': 'id', 'table_description': "A reviewer's word in chat that he is on duty (`/duty`): since when and until when."},
            bases=['Model'],
        ),
        AlterEnumDescription(
            model_name='OutboxMessage',
            name='status',
            field=fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: pending\nSENDING: sending\nSENT: sent\nDEAD: dead\nWAITING: waiting\nEXPIRED: expired\nDIGEST: digest', enum_type=OutboxStatus, max_length=16),
        ),
    ]
