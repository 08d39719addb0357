from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.models.callbacks import CallbackOutcome, CallbackStatus
from domain.models.case_audits import AuditErrorCode, CaseAuditStatus
from domain.models.inspections import InspectionKind, InspectionResult, InspectionStatus
from domain.models.devices import DeviceEventKind, IncidentKind
from domain.models.vouchers import MisIssueStatus, MovementKind, VoucherState
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from domain.migration_support import (
    EnumMembersChanged,
    mark_earlier_approvals_drawn,
    restore_lost_indexes,
)

class Migration(migrations.Migration):
    dependencies = [('models', '0008_voucher_case_events')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditDraw',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='audit_draws', on_delete=OnDelete.RESTRICT)),
                ('week', fields.CharField(max_length=8)),
                ('seed', fields.CharField(max_length=64)),
                ('share_percent', fields.IntField()),
                ('population', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('drawn_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'audit_draw', 'app': 'models', 'unique_together': (('org', 'week'),), 'pk_attr': 'id', 'table_description': 'One weekly draw of one org: share, seed and population, so it can be redone (K3).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Callback',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('case', fields.OneToOneField('models.Case', source_field='case_id', db_constraint=True, to_field='id', related_name='callback', on_delete=OnDelete.RESTRICT)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='callbacks', on_delete=OnDelete.RESTRICT)),
                ('business_type', fields.ForeignKeyField('models.BusinessType', source_field='business_type_id', db_constraint=True, to_field='id', related_name='callbacks', on_delete=OnDelete.RESTRICT)),
                ('field_agent', fields.ForeignKeyField('models.Staff', source_field='field_agent_id', db_constraint=True, to_field='id', related_name='called_back_cases', on_delete=OnDelete.RESTRICT)),
                ('assigned_to', fields.ForeignKeyField('models.Staff', source_field='assigned_to_id', null=True, db_constraint=True, to_field='id', related_name='assigned_callbacks', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=CallbackStatus.SCHEDULED, db_index=True, description='SCHEDULED: scheduled\nATTEMPTED: attempted\nCOMPLETED: completed\nUNREACHABLE: unreachable\nCANCELLED: cancelled', enum_type=CallbackStatus, max_length=16)),
                ('outcome', fields.CharEnumField(null=True, description='CONFIRMED: confirmed\nDENIED: denied\nCOMPLAINT: complaint', enum_type=CallbackOutcome, max_length=16)),
                ('draw', fields.IntField()),
                ('scheduled_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('answers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('satisfaction', fields.IntField(null=True)),
                ('comment', fields.TextField(default='', unique=False)),
                ('completed_by', fields.ForeignKeyField('models.Staff', source_field='completed_by_id', null=True, db_constraint=True, to_field='id', related_name='completed_callbacks', on_delete=OnDelete.RESTRICT)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', null=True, db_constraint=True, to_field='id', related_name='callbacks', on_delete=OnDelete.RESTRICT)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'callback', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One callback of one approved case, with its slot, deadline, agent and outcome (K1).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CallbackAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('callback', fields.ForeignKeyField('models.Callback', source_field='callback_id', db_constraint=True, to_field='id', related_name='attempt_log', on_delete=OnDelete.RESTRICT)),
                ('number', fields.IntField()),
                ('agent', fields.ForeignKeyField('models.Staff', source_field='agent_id', null=True, db_constraint=True, to_field='id', related_name='callback_attempts', on_delete=OnDelete.RESTRICT)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reached', fields.BooleanField()),
                ('outcome', fields.CharEnumField(null=True, description='CONFIRMED: confirmed\nDENIED: denied\nCOMPLAINT: complaint', enum_type=CallbackOutcome, max_length=16)),
                ('note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'callback_attempt', 'app': 'models', 'unique_together': (('callback', 'number'),), 'pk_attr': 'id', 'table_description': 'One call of a callback: who called, when, and whether the customer was reached (K1).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CaseAudit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('draw', fields.ForeignKeyField('models.AuditDraw', source_field='draw_id', db_constraint=True, to_field='id', related_name='case_audits', on_delete=OnDelete.RESTRICT)),
                ('case', fields.OneToOneField('models.Case', source_field='case_id', db_constraint=True, to_field='id', related_name='case_audit', on_delete=OnDelete.RESTRICT)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='case_audits', on_delete=OnDelete.RESTRICT)),
                ('field_agent', fields.ForeignKeyField('models.Staff', source_field='field_agent_id', db_constraint=True, to_field='id', related_name='audited_captures', on_delete=OnDelete.RESTRICT)),
                ('reviewer', fields.ForeignKeyField('models.Staff', source_field='reviewer_id', null=True, db_constraint=True, to_field='id', related_name='audited_reviews', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=CaseAuditStatus.PENDING, db_index=True, description='PENDING: pending\nOK: ok\nERROR: error', enum_type=CaseAuditStatus, max_length=16)),
                ('error_code', fields.CharEnumField(null=True, description='WRONG_BUSINESS_TYPE: wrong_business_type\nMISSING_PAPER: missing_paper\nPORTRAIT_MISMATCH_PASSED: portrait_mismatch_passed\nVOUCHER_NOT_RECORDED: voucher_not_recorded\nRISK_HINT_NOT_GIVEN: risk_hint_not_given\nDATA_MISMATCH: data_mismatch\nOTHER: other', enum_type=AuditErrorCode, max_length=32)),
                ('against_agent', fields.BooleanField(default=False)),
                ('against_reviewer', fields.BooleanField(default=False)),
                ('note', fields.TextField(default='', unique=False)),
                ('audited_by', fields.ForeignKeyField('models.Staff', source_field='audited_by_id', null=True, db_constraint=True, to_field='id', related_name='case_audits_done', on_delete=OnDelete.RESTRICT)),
                ('audited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'case_audit', 'app': 'models', 'pk_attr': 'id', 'table_description': "One drawn case in the auditors' queue and its finding against agent or reviewer (K2)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InspectionSample',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='inspection_samples', on_delete=OnDelete.RESTRICT)),
                ('launched_by', fields.ForeignKeyField('models.Staff', source_field='launched_by_id', null=True, db_constraint=True, to_field='id', related_name='inspection_samples', on_delete=OnDelete.RESTRICT)),
                ('launched_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('seed', fields.CharField(max_length=64)),
                ('percent', fields.IntField(null=True)),
                ('count', fields.IntField(null=True)),
                ('population', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('chosen', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'inspection_sample', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One surprise draw of boxes, with its seed and population so it can be checked (K3).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Inspection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='MONTHLY: monthly\nSURPRISE: surprise', enum_type=InspectionKind, max_length=16)),
                ('period', fields.CharField(max_length=16)),
                ('box', fields.ForeignKeyField('models.TailBox', source_field='box_id', db_constraint=True, to_field='id', related_name='inspections', on_delete=OnDelete.RESTRICT)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='inspections', on_delete=OnDelete.RESTRICT)),
                ('sample', fields.ForeignKeyField('models.InspectionSample', source_field='sample_id', null=True, db_constraint=True, to_field='id', related_name='inspections', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=InspectionStatus.SCHEDULED, db_index=True, description='SCHEDULED: scheduled\nIN_PROGRESS: in_progress\nCOMPLETED: completed\nOVERDUE: overdue', enum_type=InspectionStatus, max_length=16)),
                ('result', fields.CharEnumField(null=True, description='OK: ok\nDISCREPANCY: discrepancy', enum_type=InspectionResult, max_length=16)),
                ('due_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('holder', fields.ForeignKeyField('models.Staff', source_field='holder_id', null=True, db_constraint=True, to_field='id', related_name='held_inspections', on_delete=OnDelete.RESTRICT)),
                ('supervisor', fields.ForeignKeyField('models.Staff', source_field='supervisor_id', null=True, db_constraint=True, to_field='id', related_name='supervised_inspections', on_delete=OnDelete.RESTRICT)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expected', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('holder_counted', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('holder_counted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('supervisor_counted', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('supervisor_counted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', null=True, db_constraint=True, to_field='id', related_name='inspections', on_delete=OnDelete.RESTRICT)),
                ('reminders_sent', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('escalated_org_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'inspection', 'app': 'models', 'unique_together': (('box', 'kind', 'period'),), 'pk_attr': 'id', 'table_description': 'One two-person inspection of one tail box: holder and supervisor count each voucher'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MisIssue',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('voucher', fields.ForeignKeyField('models.Voucher', source_field='voucher_id', db_constraint=True, to_field='id', related_name='mis_issues', on_delete=OnDelete.RESTRICT)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='mis_issues', on_delete=OnDelete.RESTRICT)),
                ('case', fields.ForeignKeyField('models.Case', source_field='case_id', null=True, db_constraint=True, to_field='id', related_name='mis_issues', on_delete=OnDelete.RESTRICT)),
                ('box_id', fields.IntField(null=True)),
                ('holder', fields.ForeignKeyField('models.Staff', source_field='holder_id', null=True, db_constraint=True, to_field='id', related_name='mis_issues', on_delete=OnDelete.RESTRICT)),
                ('customer_note', fields.TextField(default='', unique=False)),
                ('status', fields.CharEnumField(default=MisIssueStatus.RECOVERING, db_index=True, description='RECOVERING: recovering\nRECOVERED: recovered\nUNRECOVERABLE: unrecoverable', enum_type=MisIssueStatus, max_length=16)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='mis_issues', on_delete=OnDelete.RESTRICT)),
                ('reported_by', fields.ForeignKeyField('models.Staff', source_field='reported_by_id', null=True, db_constraint=True, to_field='id', related_name='reported_mis_issues', on_delete=OnDelete.RESTRICT)),
                ('reported_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('recover_by', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_by', fields.ForeignKeyField('models.Staff', source_field='resolved_by_id', null=True, db_constraint=True, to_field='id', related_name='resolved_mis_issues', on_delete=OnDelete.RESTRICT)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolution', fields.TextField(default='', unique=False)),
                ('void_request', fields.ForeignKeyField('models.VoidRequest', source_field='void_request_id', null=True, db_constraint=True, to_field='id', related_name='mis_issues', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'mis_issue', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A serial handed to a customer by mistake, tracked from the report until it is'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Case',
            name='callback_drawn_at',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        EnumMembersChanged(
            model_name='VoidRequestItem',
            name='previous_state',
            field=fields.CharEnumField(description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nMIS_ISSUED: mis_issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16),
        ),
        EnumMembersChanged(
            model_name='Voucher',
            name='state',
            field=fields.CharEnumField(db_index=True, description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nMIS_ISSUED: mis_issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16),
        ),
        EnumMembersChanged(
            model_name='VoucherBalance',
            name='state',
            field=fields.CharEnumField(description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nMIS_ISSUED: mis_issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16),
        ),
        EnumMembersChanged(
            model_name='VoucherMovement',
            name='from_state',
            field=fields.CharEnumField(null=True, description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nMIS_ISSUED: mis_issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16),
        ),
        EnumMembersChanged(
            model_name='VoucherMovement',
            name='kind',
            field=fields.CharEnumField(description='RECEIVED: received\nALLOCATED: allocated\nRETURNED_TO_VAULT: returned_to_vault\nRESERVED: reserved\nISSUED: issued\nRELEASED: released\nREPORTED_LOST: reported_lost\nVOID_REQUESTED: void_requested\nVOID_REFUSED: void_refused\nVOIDED: voided\nHANDED_OVER: handed_over\nMIS_ISSUED: mis_issued\nCOUNT_ADJUSTMENT: count_adjustment', enum_type=MovementKind, max_length=24),
        ),
        EnumMembersChanged(
            model_name='VoucherMovement',
            name='to_state',
            field=fields.CharEnumField(description='IN_VAULT: in_vault\nIN_BOX: in_box\nRESERVED: reserved\nISSUED: issued\nMIS_ISSUED: mis_issued\nLOST: lost\nVOID_PENDING: void_pending\nVOIDED: voided', enum_type=VoucherState, max_length=16),
        ),
        EnumMembersChanged(
            model_name='DeviceEvent',
            name='kind',
            field=fields.CharEnumField(description='REGISTERED: registered\nISSUED: issued\nRECEIPT_CONFIRMED: receipt_confirmed\nHANDED_OVER: handed_over\nRETURNED: returned\nLOST: lost\nFOUND: found\nSENT_TO_REPAIR: sent_to_repair\nREPAIRED: repaired\nRETIRED: retired\nAUDITED: audited', enum_type=DeviceEventKind, max_length=24),
        ),
        EnumMembersChanged(
            model_name='Incident',
            name='kind',
            field=fields.CharEnumField(description='DEVICE_LOSS: device_loss\nVOUCHER_LOSS: voucher_loss\nPAPERS_LOSS: papers_loss\nDISCREPANCY: discrepancy\nMIS_ISSUE: mis_issue\nMAJOR_ERROR: major_error\nCOMPLAINT: complaint', enum_type=IncidentKind, max_length=24),
        ),
        ops.RunPython(mark_earlier_approvals_drawn, ops.RunPython.noop),
        ops.RunPython(restore_lost_indexes, ops.RunPython.noop),
    ]
