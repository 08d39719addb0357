from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_inspections_callbacks_audits')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Callback',
            index=Index(fields=['assigned_to_id', 'status']),
        ),
        ops.AddIndex(
            model_name='Callback',
            index=Index(fields=['status', 'reminded_at', 'scheduled_at']),
        ),
        ops.AddIndex(
            model_name='Callback',
            index=Index(fields=['status', 'escalated_at', 'due_at']),
        ),
        ops.AddIndex(
            model_name='Case',
            index=Index(fields=['status', 'callback_drawn_at']),
        ),
    ]
