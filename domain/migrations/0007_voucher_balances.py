from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.models.vouchers import VoucherState
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_vouchers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='VoucherBalance',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org_id', fields.IntField()),
                ('box_id', fields.IntField(default=0)),
                ('voucher_type_id', fields.IntField()),
                ('state', fields.CharEnumField(description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16)),
                ('count', fields.IntField(default=0)),
            ],
            options={'table': 'voucher_balance', 'app': 'models', 'unique_together': (('org_id', 'box_id', 'voucher_type_id', 'state'),), 'pk_attr': 'id', 'table_description': 'How many serials of one type are in one state at one place, box_id 0 being the org'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='VoucherMovement',
            name='from_box_id',
            field=fields.IntField(null=True, db_index=True),
        ),
        ops.AlterField(
            model_name='VoucherMovement',
            name='to_box_id',
            field=fields.IntField(null=True, db_index=True),
        ),
    ]
