"""Grants of privileged roles wait for a second system administrator (S2, issue 13):
table role_grant."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from domain.models.orgs import Role
from domain.models.role_grants import RoleGrantState


class Migration(migrations.Migration):
    dependencies = [('models', '0017_web_sessions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RoleGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='role_grants', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='FIELD_AGENT: field_agent\nREVIEWER: reviewer\nSUPERVISOR: supervisor\nBUSINESS_HEAD: business_head\nOPS_ADMIN: ops_admin\nIT_ADMIN: it_admin\nCALLBACK_AGENT: callback_agent\nAUDITOR: auditor\nSYSADMIN: sysadmin', enum_type=Role, max_length=32)),
                ('state', fields.CharEnumField(default=RoleGrantState.PENDING, description='PENDING: pending\nAPPROVED: approved\nREFUSED: refused\nEXPIRED: expired', enum_type=RoleGrantState, max_length=16)),
                ('asked_by', fields.ForeignKeyField('models.Staff', source_field='asked_by_id', db_constraint=True, to_field='id', related_name='role_grants_asked', on_delete=OnDelete.RESTRICT)),
                ('asked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_by', fields.ForeignKeyField('models.Staff', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='role_grants_decided', on_delete=OnDelete.RESTRICT)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'role_grant', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One privileged role asked for a staff member by one system administrator, given only'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='RoleGrant',
            index=Index(fields=['staff_id', 'state']),
        ),
    ]
