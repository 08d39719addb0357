from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.models.cases import CaseEventKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_voucher_balances')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='CaseEvent',
            name='kind',
            field=fields.CharEnumField(description='CREATED: created\nCUSTOMER_SET: customer_set\nLOCATION_SET: location_set\nPHOTO_ADDED: photo_added\nRISK_HINT_CONFIRMED: risk_hint_confirmed\nSUBMITTED: submitted\nCANCELLED: cancelled\nCLAIMED: claimed\nRELEASED: released\nFIRST_APPROVED: first_approved\nAPPROVED: approved\nRETURNED: returned\nREJECTED: rejected\nHELD: held\nSLA_REMINDED: sla_reminded\nSLA_ESCALATED: sla_escalated\nVOUCHER_RESERVED: voucher_reserved\nVOUCHER_ISSUED: voucher_issued\nVOUCHER_RELEASED: voucher_released', enum_type=CaseEventKind, max_length=32),
        ),
    ]
