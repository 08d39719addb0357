from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.models.orgs import OrgLevel, Role
from domain.models.outbox import OutboxStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('actor_id', fields.IntField(null=True, db_index=True)),
                ('actor_label', fields.CharField(max_length=128)),
                ('action', fields.CharField(db_index=True, max_length=64)),
                ('object_type', fields.CharField(db_index=True, max_length=32)),
                ('object_id', fields.CharField(default='', max_length=64)),
                ('org_id', fields.IntField(null=True)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('row_hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One recorded action, row_hash covers the row and the hash of the row before.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChatSession',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('external_user_id', fields.CharField(max_length=64)),
                ('chat_id', fields.CharField(max_length=64)),
                ('locale', fields.CharField(null=True, max_length=8)),
                ('flow', fields.CharField(default='', max_length=32)),
                ('step', fields.CharField(default='', max_length=32)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'chat_session', 'app': 'models', 'unique_together': (('channel', 'external_user_id'),), 'pk_attr': 'id', 'table_description': 'Flow state of one chat account, kept in the database so restarts lose nothing.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobLease',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('holder', fields.CharField(max_length=128)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job_lease', 'app': 'models', 'pk_attr': 'name', 'table_description': 'Who runs a scheduler job until when, so several processes run it once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Org',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=100)),
                ('name_en', fields.CharField(default='', max_length=100)),
                ('level', fields.CharEnumField(description='PROVINCE: province\nBRANCH: branch\nSUBBRANCH: subbranch\nOUTLET: outlet', enum_type=OrgLevel, max_length=16)),
                ('parent', fields.ForeignKeyField('models.Org', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('path', fields.CharField(default='/', db_index=True, max_length=255)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'org', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One node of the org tree, path is the materialised chain of ids, e.g. /1/4/9/.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProcessedUpdate',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('update_id', fields.CharField(max_length=64)),
                ('processed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'processed_update', 'app': 'models', 'unique_together': (('channel', 'update_id'),), 'pk_attr': 'id', 'table_description': 'Marks an inbound update as handled so a redelivery does nothing twice.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Setting',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('value', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('updated_by_id', fields.IntField(null=True)),
            ],
            options={'table': 'setting', 'app': 'models', 'pk_attr': 'key', 'table_description': 'A runtime setting kept by administrators (value is JSON).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Staff',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('employee_no', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=100)),
                ('org', fields.ForeignKeyField('models.Org', source_field='org_id', db_constraint=True, to_field='id', related_name='staff', on_delete=OnDelete.RESTRICT)),
                ('active', fields.BooleanField(default=True)),
                ('locale', fields.CharField(null=True, max_length=8)),
                ('phone', fields.CharField(default='', max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_active_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'staff', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A person (real name, employee number, org) who may hold several roles.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BindCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='bind_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('created_by', fields.ForeignKeyField('models.Staff', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='issued_bind_codes', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'bind_code', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A one-time code that binds a chat account, only its hash is stored.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChatBinding',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='chat_bindings', on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=16)),
                ('external_user_id', fields.CharField(max_length=64)),
                ('chat_id', fields.CharField(max_length=64)),
                ('bound_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'chat_binding', 'app': 'models', 'unique_together': (('staff', 'channel'), ('channel', 'external_user_id')), 'pk_attr': 'id', 'table_description': 'The one chat account of a staff member on one channel (Q6).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('recipient', fields.ForeignKeyField('models.Staff', source_field='recipient_id', db_constraint=True, to_field='id', related_name='outbox_messages', on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=16)),
                ('template', fields.TextField(unique=False)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('idempotency_key', fields.CharField(unique=True, max_length=128)),
                ('status', fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: pending\nSENDING: sending\nSENT: sent\nDEAD: dead', enum_type=OutboxStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_message', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A notification for one staff member, template is a msgid filled with params.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StaffRole',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='roles', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='FIELD_AGENT: field_agent\nREVIEWER: reviewer\nSUPERVISOR: supervisor\nBUSINESS_HEAD: business_head\nOPS_ADMIN: ops_admin\nIT_ADMIN: it_admin\nCALLBACK_AGENT: callback_agent\nAUDITOR: auditor\nSYSADMIN: sysadmin', enum_type=Role, max_length=32)),
            ],
            options={'table': 'staff_role', 'app': 'models', 'unique_together': (('staff', 'role'),), 'pk_attr': 'id', 'table_description': 'One role held by one staff member.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebCredential',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.OneToOneField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='credential', on_delete=OnDelete.CASCADE)),
                ('username', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=255)),
                ('must_change_password', fields.BooleanField(default=True)),
                ('failed_attempts', fields.IntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('password_changed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'web_credential', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Web log-in for a staff member: argon2 hash, lock-out and first-log-in state (S3).'},
            bases=['Model'],
        ),
    ]
