from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.models.devices import DeviceEventKind, DeviceState, IncidentKind, IncidentStatus
from domain.models.qualifications import QualificationBasis, QualificationEventKind, QualificationStatus, WithdrawalReason
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_review')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CounterQualification',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.OneToOneField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='counter_qualification', on_delete=OnDelete.RESTRICT)),
                ('certificate_no', fields.CharField(max_length=64)),
                ('obtained_on', fields.DateField()),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'counter_qualification', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A staff member holds the counter qualification, a basis for grants (Q2).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Device',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('asset_tag', fields.CharField(unique=True, max_length=32)),
                ('serial', fields.CharField(unique=True, max_length=64)),
                ('imei', fields.CharField(null=True, unique=True, max_length=15)),
                ('model', fields.CharField(max_length=100)),
                ('purchase_date', fields.DateField(null=True)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='devices', on_delete=OnDelete.RESTRICT)),
                ('state', fields.CharEnumField(default=DeviceState.IN_STOCK, db_index=True, description='IN_STOCK: in_stock\nISSUED: issued\nLOST: lost\nIN_REPAIR: in_repair\nRETIRED: retired', enum_type=DeviceState, max_length=16)),
                ('holder', fields.ForeignKeyField('models.Staff', source_field='holder_id', null=True, db_constraint=True, to_field='id', related_name='devices', on_delete=OnDelete.RESTRICT)),
                ('issued_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('receipt_confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('receipt_flagged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_audited_on', fields.DateField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'device', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A tablet registered by IT, with its current state and holder kept in step (D1).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DeviceEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('device', fields.ForeignKeyField('models.Device', source_field='device_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='REGISTERED: registered\nISSUED: issued\nRECEIPT_CONFIRMED: receipt_confirmed\nRETURNED: returned\nLOST: lost\nFOUND: found\nSENT_TO_REPAIR: sent_to_repair\nREPAIRED: repaired\nRETIRED: retired\nAUDITED: audited', enum_type=DeviceEventKind, max_length=24)),
                ('from_state', fields.CharEnumField(null=True, description='IN_STOCK: in_stock\nISSUED: issued\nLOST: lost\nIN_REPAIR: in_repair\nRETIRED: retired', enum_type=DeviceState, max_length=16)),
                ('to_state', fields.CharEnumField(description='IN_STOCK: in_stock\nISSUED: issued\nLOST: lost\nIN_REPAIR: in_repair\nRETIRED: retired', enum_type=DeviceState, max_length=16)),
                ('holder_id', fields.IntField(null=True)),
                ('holder_label', fields.CharField(default='', max_length=200)),
                ('actor_id', fields.IntField(null=True)),
                ('actor_label', fields.CharField(max_length=200)),
                ('note', fields.TextField(default='', unique=False)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'device_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One append-only entry of the issue and return register of a device (D1).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExamResult',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='exam_results', on_delete=OnDelete.RESTRICT)),
                ('exam', fields.CharField(max_length=200)),
                ('taken_on', fields.DateField()),
                ('score', fields.DecimalField(max_digits=6, decimal_places=1)),
                ('pass_mark', fields.DecimalField(max_digits=6, decimal_places=1)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'exam_result', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One exam sat by one staff member, passed when score reaches the pass mark (Q2).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Incident',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='DEVICE_LOSS: device_loss\nVOUCHER_LOSS: voucher_loss\nPAPERS_LOSS: papers_loss\nDISCREPANCY: discrepancy\nMIS_ISSUE: mis_issue\nMAJOR_ERROR: major_error', enum_type=IncidentKind, max_length=24)),
                ('status', fields.CharEnumField(default=IncidentStatus.OPEN, db_index=True, description='OPEN: open\nCLOSED: closed', enum_type=IncidentStatus, max_length=16)),
                ('major', fields.BooleanField(default=False)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', null=True, db_constraint=True, to_field='id', related_name='incidents', on_delete=OnDelete.RESTRICT)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='incidents', on_delete=OnDelete.RESTRICT)),
                ('device', fields.ForeignKeyField('models.Device', source_field='device_id', null=True, db_constraint=True, to_field='id', related_name='incidents', on_delete=OnDelete.RESTRICT)),
                ('item', fields.CharField(default='', max_length=200)),
                ('occurred_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('place', fields.CharField(default='', max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reported_by', fields.ForeignKeyField('models.Staff', source_field='reported_by_id', null=True, db_constraint=True, to_field='id', related_name='reported_incidents', on_delete=OnDelete.RESTRICT)),
                ('reported_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_by', fields.ForeignKeyField('models.Staff', source_field='closed_by_id', null=True, db_constraint=True, to_field='id', related_name='closed_incidents', on_delete=OnDelete.RESTRICT)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolution', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'incident', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Something that went wrong, with its owner, figures and resolution (D3, Q4).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TrainingRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='training_records', on_delete=OnDelete.RESTRICT)),
                ('course', fields.CharField(max_length=200)),
                ('completed_on', fields.DateField()),
                ('hours', fields.DecimalField(max_digits=6, decimal_places=1)),
                ('trainer', fields.CharField(max_length=100)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'training_record', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A completed training course of one staff member (Q2).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Qualification',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='qualifications', on_delete=OnDelete.RESTRICT)),
                ('business_type', fields.ForeignKeyField('models.BusinessType', source_field='business_type_id', db_constraint=True, to_field='id', related_name='qualifications', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(db_index=True, description='ACTIVE: active\nSUSPENDED: suspended\nREVOKED: revoked\nREVOKED_PERMANENTLY: revoked_permanently\nEXPIRED: expired', enum_type=QualificationStatus, max_length=24)),
                ('basis', fields.CharEnumField(description='COUNTER: counter\nTRAINING_AND_EXAM: training_and_exam', enum_type=QualificationBasis, max_length=24)),
                ('training', fields.ForeignKeyField('models.TrainingRecord', source_field='training_id', null=True, db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('exam', fields.ForeignKeyField('models.ExamResult', source_field='exam_id', null=True, db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('granted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('valid_until', fields.DateField(null=True)),
                ('status_reason', fields.TextField(default='', unique=False)),
                ('expiry_warned_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'qualification', 'app': 'models', 'unique_together': (('staff', 'business_type'),), 'pk_attr': 'id', 'table_description': 'The qualification of one staff member for one business type (Q1 to Q5).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='QualificationEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('qualification', fields.ForeignKeyField('models.Qualification', source_field='qualification_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='GRANTED: granted\nSUSPENDED: suspended\nREINSTATED: reinstated\nREVOKED: revoked\nREVOKED_PERMANENTLY: revoked_permanently\nEXPIRED: expired\nEXPIRY_WARNED: expiry_warned', enum_type=QualificationEventKind, max_length=24)),
                ('actor_id', fields.IntField(null=True)),
                ('actor_label', fields.CharField(max_length=200)),
                ('reason', fields.TextField(default='', unique=False)),
                ('withdrawal_reason', fields.CharEnumField(null=True, description='BUSINESS_DEPT_NOTICE: business_dept_notice\nREPEATED_MAJOR_INCIDENTS: repeated_major_incidents\nMALICIOUS_OPERATION: malicious_operation\nTRANSFER_OR_RESIGNATION: transfer_or_resignation\nJOINT_DECISION: joint_decision', enum_type=WithdrawalReason, max_length=32)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'qualification_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One append-only entry of a qualification history with actor and reason.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Staff',
            name='idle_flagged_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Staff',
            name='idle_kept_until',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='Staff',
            name='retraining_flagged_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
