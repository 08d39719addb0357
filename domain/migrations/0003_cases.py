from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.models.cases import CaseEventKind, CaseStatus, PhotoKind, SpecialApprovalStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_business_types')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Case',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('case_no', fields.CharField(null=True, unique=True, max_length=32)),
                ('business_type', fields.ForeignKeyField('models.BusinessType', source_field='business_type_id', db_constraint=True, to_field='id', related_name='cases', on_delete=OnDelete.RESTRICT)),
                ('agent', fields.ForeignKeyField('models.Staff', source_field='agent_id', db_constraint=True, to_field='id', related_name='cases', on_delete=OnDelete.RESTRICT)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='cases', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=CaseStatus.DRAFT, db_index=True, description='DRAFT: draft\nSUBMITTED: submitted\nIN_REVIEW: in_review\nAPPROVED: approved\nRETURNED: returned\nREJECTED: rejected\nON_HOLD: on_hold\nCANCELLED: cancelled', enum_type=CaseStatus, max_length=16)),
                ('revision', fields.IntField(default=1)),
                ('customer_name', fields.CharField(default='', max_length=50)),
                ('id_number_enc', fields.TextField(null=True, unique=False)),
                ('id_number_hash', fields.CharField(null=True, db_index=True, max_length=64)),
                ('mobile_enc', fields.TextField(null=True, unique=False)),
                ('mobile_hash', fields.CharField(null=True, db_index=True, max_length=64)),
                ('latitude', fields.FloatField(null=True)),
                ('longitude', fields.FloatField(null=True)),
                ('risk_hint_confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('review_due_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'case_record', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A customer case captured on site by a field agent (C1, C3, C4, C10, C11).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CaseCounter',
            fields=[
                ('day', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=8)),
                ('last_no', fields.IntField(default=0)),
            ],
            options={'table': 'case_counter', 'app': 'models', 'pk_attr': 'day', 'table_description': 'The last case number handed out on one business day, day is YYYYMMDD.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CaseEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('case', fields.ForeignKeyField('models.Case', source_field='case_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.RESTRICT)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor_id', fields.IntField(null=True)),
                ('actor_label', fields.CharField(max_length=200)),
                ('kind', fields.CharEnumField(description='CREATED: created\nCUSTOMER_SET: customer_set\nLOCATION_SET: location_set\nPHOTO_ADDED: photo_added\nRISK_HINT_CONFIRMED: risk_hint_confirmed\nSUBMITTED: submitted\nCANCELLED: cancelled', enum_type=CaseEventKind, max_length=32)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'case_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One entry of the append-only case timeline (C9).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CasePhoto',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('case', fields.ForeignKeyField('models.Case', source_field='case_id', db_constraint=True, to_field='id', related_name='photos', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='ID_FRONT: id_front\nID_BACK: id_back\nONSITE_WITH_AGENT: onsite_with_agent\nSIGNED_FORM: signed_form\nOTHER: other', enum_type=PhotoKind, max_length=32)),
                ('revision', fields.IntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('width', fields.IntField()),
                ('height', fields.IntField()),
                ('original_name', fields.CharField(default='', max_length=255)),
                ('content_type', fields.CharField(default='', max_length=100)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'case_photo', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One uploaded photo of a case revision, append-only and never replaced (C9).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SpecialApproval',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='special_approvals', on_delete=OnDelete.RESTRICT)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='special_approvals', on_delete=OnDelete.RESTRICT)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reason', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=SpecialApprovalStatus.REQUESTED, description='REQUESTED: requested\nAPPROVED: approved\nREFUSED: refused', enum_type=SpecialApprovalStatus, max_length=16)),
                ('decided_by', fields.ForeignKeyField('models.Staff', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='decided_special_approvals', on_delete=OnDelete.SET_NULL)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'special_approval', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An out-of-hours window in which one staff member may capture cases (C2).'},
            bases=['Model'],
        ),
    ]
