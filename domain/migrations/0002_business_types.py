from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BusinessType',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('name_zh', fields.CharField(max_length=100)),
                ('name_en', fields.CharField(max_length=100)),
                ('required_photo_kinds', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('voucher_type_code', fields.CharField(null=True, max_length=32)),
                ('review_sla_minutes', fields.IntField(default=15)),
                ('four_eyes', fields.BooleanField(default=False)),
                ('callback_rate', fields.IntField(default=0)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'business_type', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A kind of business captured on site, with its photos, review SLA and checks.'},
            bases=['Model'],
        ),
    ]
