from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.models.vouchers import CountKind, CountStatus, MovementKind, SerialCheck, VoidKind, VoidStatus, VoucherState
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_ledgers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TailBox',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('device', fields.OneToOneField('models.Device', source_field='device_id', db_constraint=True, to_field='id', related_name='tail_box', on_delete=OnDelete.RESTRICT)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='tail_boxes', on_delete=OnDelete.RESTRICT)),
                ('holder', fields.ForeignKeyField('models.Staff', source_field='holder_id', null=True, db_constraint=True, to_field='id', related_name='tail_boxes', on_delete=OnDelete.RESTRICT)),
                ('frozen', fields.BooleanField(default=False)),
                ('frozen_reason', fields.TextField(default='', unique=False)),
                ('last_count_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_count_matched', fields.BooleanField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'tail_box', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The voucher tail box of one device, with its holder and frozen flag (V1, V3, D3).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BoxCount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('box', fields.ForeignKeyField('models.TailBox', source_field='box_id', db_constraint=True, to_field='id', related_name='counts', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='DAY_END: day_end\nHANDOVER: handover\nINSPECTION: inspection\nALLOCATION_CHECK: allocation_check', enum_type=CountKind, max_length=24)),
                ('status', fields.CharEnumField(default=CountStatus.REQUESTED, db_index=True, description='REQUESTED: requested\nRETRY: retry\nMATCHED: matched\nDISCREPANCY: discrepancy\nUNANSWERED: unanswered', enum_type=CountStatus, max_length=16)),
                ('business_day', fields.CharField(default='', max_length=8)),
                ('holder_id', fields.IntField(null=True)),
                ('expected', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('counted', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('attempts', fields.IntField(default=0)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('answered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', null=True, db_constraint=True, to_field='id', related_name='box_counts', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'box_count', 'app': 'models', 'unique_together': (('box', 'kind', 'business_day'),), 'pk_attr': 'id', 'table_description': 'One count of a tail box per voucher type against the ledger (V3, V4, V5).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VoidRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='void_requests', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='LOST: lost\nMIS_ISSUED: mis_issued\nEXPIRED: expired', enum_type=VoidKind, max_length=16)),
                ('status', fields.CharEnumField(default=VoidStatus.PENDING, db_index=True, description='PENDING: pending\nVOIDED: voided\nREFUSED: refused', enum_type=VoidStatus, max_length=16)),
                ('reason', fields.TextField(unique=False)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', null=True, db_constraint=True, to_field='id', related_name='void_requests', on_delete=OnDelete.RESTRICT)),
                ('requested_by', fields.ForeignKeyField('models.Staff', source_field='requested_by_id', null=True, db_constraint=True, to_field='id', related_name='requested_voids', on_delete=OnDelete.RESTRICT)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('business_head_signed_by', fields.ForeignKeyField('models.Staff', source_field='business_head_signed_by_id', null=True, db_constraint=True, to_field='id', related_name='business_head_void_signatures', on_delete=OnDelete.RESTRICT)),
                ('business_head_signed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ops_head_signed_by', fields.ForeignKeyField('models.Staff', source_field='ops_head_signed_by_id', null=True, db_constraint=True, to_field='id', related_name='ops_head_void_signatures', on_delete=OnDelete.RESTRICT)),
                ('ops_head_signed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('refused_by', fields.ForeignKeyField('models.Staff', source_field='refused_by_id', null=True, db_constraint=True, to_field='id', related_name='refused_voids', on_delete=OnDelete.RESTRICT)),
                ('refused_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('refusal_note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'void_request', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A request to void serials, needing the business head and the operations head (V6).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VoucherType',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('name_zh', fields.CharField(max_length=100)),
                ('name_en', fields.CharField(max_length=100)),
                ('serial_pattern', fields.CharField(max_length=200)),
                ('serial_check', fields.CharEnumField(default=SerialCheck.NONE, description='NONE: none\nLUHN: luhn', enum_type=SerialCheck, max_length=16)),
                ('active', fields.BooleanField(default=True)),
            ],
            options={'table': 'voucher_type', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A kind of important blank voucher with its serial pattern and check rule (V1).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Voucher',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('voucher_type', fields.ForeignKeyField('models.VoucherType', source_field='voucher_type_id', db_constraint=True, to_field='id', related_name='vouchers', on_delete=OnDelete.RESTRICT)),
                ('serial', fields.CharField(max_length=64)),
                ('state', fields.CharEnumField(db_index=True, description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='vouchers', on_delete=OnDelete.RESTRICT)),
                ('box', fields.ForeignKeyField('models.TailBox', source_field='box_id', null=True, db_constraint=True, to_field='id', related_name='vouchers', on_delete=OnDelete.RESTRICT)),
                ('case', fields.ForeignKeyField('models.Case', source_field='case_id', null=True, db_constraint=True, to_field='id', related_name='vouchers', on_delete=OnDelete.RESTRICT)),
                ('state_before_void', fields.CharField(null=True, max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'voucher', 'app': 'models', 'unique_together': (('voucher_type', 'serial'),), 'pk_attr': 'id', 'table_description': 'One voucher serial, in exactly one place at every moment (V1, V6).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VoidRequestItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('void_request', fields.ForeignKeyField('models.VoidRequest', source_field='void_request_id', db_constraint=True, to_field='id', related_name='items', on_delete=OnDelete.RESTRICT)),
                ('voucher', fields.ForeignKeyField('models.Voucher', source_field='voucher_id', db_constraint=True, to_field='id', related_name='void_items', on_delete=OnDelete.RESTRICT)),
                ('previous_state', fields.CharEnumField(description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16)),
                ('previous_box_id', fields.IntField(null=True)),
            ],
            options={'table': 'void_request_item', 'app': 'models', 'unique_together': (('void_request', 'voucher'),), 'pk_attr': 'id', 'table_description': 'One serial of a void request, with the state it returns to on refusal (V6).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VoucherCap',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='voucher_caps', on_delete=OnDelete.RESTRICT)),
                ('voucher_type', fields.ForeignKeyField('models.VoucherType', source_field='voucher_type_id', db_constraint=True, to_field='id', related_name='caps', on_delete=OnDelete.RESTRICT)),
                ('max_in_boxes', fields.IntField()),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'voucher_cap', 'app': 'models', 'unique_together': (('org', 'voucher_type'),), 'pk_attr': 'id', 'table_description': 'The most vouchers of one type the boxes of one org may hold together (V2).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VoucherMovement',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('voucher', fields.ForeignKeyField('models.Voucher', source_field='voucher_id', db_constraint=True, to_field='id', related_name='movements', on_delete=OnDelete.RESTRICT)),
                ('voucher_type_id', fields.IntField(db_index=True)),
                ('kind', fields.CharEnumField(description='RECEIVED: received\nALLOCATED: allocated\nRETURNED_TO_VAULT: returned_to_vault\nRESERVED: reserved\nISSUED: issued\nRELEASED: released\nREPORTED_LOST: reported_lost\nVOID_REQUESTED: void_requested\nVOID_REFUSED: void_refused\nVOIDED: voided\nHANDED_OVER: handed_over\nCOUNT_ADJUSTMENT: count_adjustment', enum_type=MovementKind, max_length=24)),
                ('from_state', fields.CharEnumField(null=True, description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16)),
                ('to_state', fields.CharEnumField(description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16)),
                ('org_id', fields.IntField(db_index=True)),
                ('from_box_id', fields.IntField(null=True)),
                ('to_box_id', fields.IntField(null=True)),
                ('case_id', fields.IntField(null=True)),
                ('actor_id', fields.IntField(null=True)),
                ('actor_label', fields.CharField(max_length=200)),
                ('note', fields.TextField(default='', unique=False)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'voucher_movement', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One append-only movement of one serial, with actor and both places (V1 to V6).'},
            bases=['Model'],
        ),
    ]
