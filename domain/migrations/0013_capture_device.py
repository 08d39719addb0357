from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('models', '0012_voucher_controls')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Case',
            name='device',
            field=fields.ForeignKeyField('models.Device', source_field='device_id', null=True, db_constraint=True, to_field='id', related_name='cases', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Case',
            name='location_skipped',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Case',
            name='customer_answers',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
