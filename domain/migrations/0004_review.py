from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.models.cases import CaseEventKind, DecisionKind, ReasonKind
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_cases')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CaseDecision',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('case', fields.ForeignKeyField('models.Case', source_field='case_id', db_constraint=True, to_field='id', related_name='decisions', on_delete=OnDelete.RESTRICT)),
                ('revision', fields.IntField()),
                ('kind', fields.CharEnumField(description='FIRST_APPROVAL: first_approval\nAPPROVE: approve\nRETURN: return\nREJECT: reject\nHOLD: hold', enum_type=DecisionKind, max_length=16)),
                ('reviewer', fields.ForeignKeyField('models.Staff', source_field='reviewer_id', db_constraint=True, to_field='id', related_name='case_decisions', on_delete=OnDelete.RESTRICT)),
                ('reason_codes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('retake_items', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('note', fields.TextField(default='', unique=False)),
                ('decided_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'case_decision', 'app': 'models', 'unique_together': (('case', 'revision', 'kind'),), 'pk_attr': 'id', 'table_description': 'One reviewer decision on one revision of a case, append-only (C6, C7, S2).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReviewReason',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('kind', fields.CharEnumField(description='RETURN: return\nREJECT: reject', enum_type=ReasonKind, max_length=16)),
                ('name_zh', fields.CharField(max_length=100)),
                ('name_en', fields.CharField(max_length=100)),
                ('retake_items', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('active', fields.BooleanField(default=True)),
                ('sort_order', fields.IntField(default=0)),
            ],
            options={'table': 'review_reason', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A managed reason code a reviewer picks when returning or rejecting (C6, C7).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebChatMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='web_chat_messages', on_delete=OnDelete.CASCADE)),
                ('from_bot', fields.BooleanField()),
                ('text', fields.TextField(default='', unique=False)),
                ('buttons', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('photo_sha256', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'web_chat_message', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One line of the browser chat transcript of a staff member, inbound or from the bot.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Case',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Case',
            name='claimed_by',
            field=fields.ForeignKeyField('models.Staff', source_field='claimed_by_id', null=True, db_constraint=True, to_field='id', related_name='claimed_cases', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Case',
            name='decided_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Case',
            name='escalated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Case',
            name='escalation_count',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Case',
            name='first_approved_by',
            field=fields.ForeignKeyField('models.Staff', source_field='first_approved_by_id', null=True, db_constraint=True, to_field='id', related_name='first_approved_cases', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Case',
            name='retake_items',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Case',
            name='sla_reminded_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='CaseEvent',
            name='kind',
            field=fields.CharEnumField(description='CREATED: created\nCUSTOMER_SET: customer_set\nLOCATION_SET: location_set\nPHOTO_ADDED: photo_added\nRISK_HINT_CONFIRMED: risk_hint_confirmed\nSUBMITTED: submitted\nCANCELLED: cancelled\nCLAIMED: claimed\nRELEASED: released\nFIRST_APPROVED: first_approved\nAPPROVED: approved\nRETURNED: returned\nREJECTED: rejected\nHELD: held\nSLA_REMINDED: sla_reminded\nSLA_ESCALATED: sla_escalated', enum_type=CaseEventKind, max_length=32),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='buttons',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='SpecialApproval',
            name='decision_note',
            field=fields.TextField(default='', unique=False),
        ),
    ]
