from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.models.cases import CaseEventKind
from domain.models.vouchers import MisIssueKind, MisIssueStatus, MovementKind
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from typing import Any
from domain.migration_support import EnumMembersChanged


async def restore_mis_issue_index(apps: Any, schema_editor: Any) -> None:
    """SQLite rebuilds mis_issue to make its incident optional and loses the status index;
    create it again where it is missing, under Tortoise's name (PostgreSQL kept it)."""
    await schema_editor.client.execute_script(
        'CREATE INDEX IF NOT EXISTS "idx_mis_issue_status_bbdb32" ON "mis_issue" ("status")')


class Migration(migrations.Migration):
    dependencies = [('models', '0011_delivery')]

    initial = False

    operations = [
        EnumMembersChanged(
            model_name='CaseEvent',
            name='kind',
            field=fields.CharEnumField(description='CREATED: created\nCUSTOMER_SET: customer_set\nLOCATION_SET: location_set\nPHOTO_ADDED: photo_added\nRISK_HINT_CONFIRMED: risk_hint_confirmed\nSUBMITTED: submitted\nCANCELLED: cancelled\nCLAIMED: claimed\nRELEASED: released\nFIRST_APPROVED: first_approved\nAPPROVED: approved\nRETURNED: returned\nREJECTED: rejected\nHELD: held\nSLA_REMINDED: sla_reminded\nSLA_ESCALATED: sla_escalated\nVOUCHER_RESERVED: voucher_reserved\nVOUCHER_ISSUED: voucher_issued\nVOUCHER_RELEASED: voucher_released\nVOUCHER_TO_RECOVER: voucher_to_recover\nVOUCHER_TAKEN_BACK: voucher_taken_back', enum_type=CaseEventKind, max_length=32),
        ),
        ops.AlterField(
            model_name='MisIssue',
            name='incident',
            field=fields.ForeignKeyField('models.Incident', source_field='incident_id', null=True, db_constraint=True, to_field='id', related_name='mis_issues', on_delete=OnDelete.RESTRICT),
        ),
        EnumMembersChanged(
            model_name='MisIssue',
            name='status',
            field=fields.CharEnumField(default=MisIssueStatus.RECOVERING, db_index=True, description='RECOVERING: recovering\nRECOVERED: recovered\nTAKEN_BACK: taken_back\nUNRECOVERABLE: unrecoverable', enum_type=MisIssueStatus, max_length=16),
        ),
        ops.AddField(
            model_name='MisIssue',
            name='escalated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='MisIssue',
            name='escalations',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='MisIssue',
            name='kind',
            field=fields.CharEnumField(default=MisIssueKind.MIS_ISSUE, description='MIS_ISSUE: mis_issue\nCASE_CLOSED: case_closed', enum_type=MisIssueKind, max_length=16),
        ),
        ops.AddField(
            model_name='MisIssue',
            name='reminders_sent',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        EnumMembersChanged(
            model_name='VoucherMovement',
            name='kind',
            field=fields.CharEnumField(description='RECEIVED: received\nALLOCATED: allocated\nRETURNED_TO_VAULT: returned_to_vault\nRESERVED: reserved\nISSUED: issued\nRELEASED: released\nREPORTED_LOST: reported_lost\nVOID_REQUESTED: void_requested\nVOID_REFUSED: void_refused\nVOIDED: voided\nHANDED_OVER: handed_over\nMIS_ISSUED: mis_issued\nCOUNT_ADJUSTMENT: count_adjustment\nTO_RECOVER: to_recover\nTAKEN_BACK: taken_back', enum_type=MovementKind, max_length=24),
        ),
        ops.RunPython(restore_mis_issue_index, ops.RunPython.noop),
    ]
