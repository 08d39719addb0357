from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.models.outbox import OutboxStatus
from tortoise import fields
from tortoise.indexes import Index
from domain.migration_support import EnumMembersChanged

class Migration(migrations.Migration):
    dependencies = [('models', '0010_sweep_indexes')]

    initial = False

    operations = [
        EnumMembersChanged(
            model_name='OutboxMessage',
            name='status',
            field=fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: pending\nSENDING: sending\nSENT: sent\nDEAD: dead\nWAITING: waiting\nEXPIRED: expired', enum_type=OutboxStatus, max_length=16),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='OutboxMessage',
            index=Index(fields=['status', 'expires_at']),
        ),
        ops.AddField(
            model_name='ChatBinding',
            name='language_code',
            field=fields.CharField(null=True, max_length=16),
        ),
    ]
