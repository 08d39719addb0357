from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

from domain.migration_support import ColumnDropped, start_password_clocks


class Migration(migrations.Migration):
    dependencies = [('models', '0014_notification_intents')]

    initial = False

    operations = [
        ops.CreateModel(
            name='KnownLoginAddress',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('credential', fields.ForeignKeyField('models.WebCredential', source_field='credential_id', db_constraint=True, to_field='id', related_name='known_addresses', on_delete=OnDelete.CASCADE)),
                ('address', fields.CharField(max_length=45)),
                ('last_login_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'known_login_address', 'app': 'models', 'unique_together': (('credential', 'address'),), 'pk_attr': 'id', 'table_description': 'An address a web log-in last succeeded from: its attempts escape the account-wide delay.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LoginRefusalTally',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('address', fields.CharField(max_length=45)),
                ('username', fields.CharField(max_length=64)),
                ('outcome', fields.CharField(max_length=16)),
                ('window_start', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('refusals', fields.IntField(default=0)),
                ('last_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'login_refusal_tally', 'app': 'models', 'unique_together': (('address', 'username', 'outcome', 'window_start'),), 'pk_attr': 'id', 'table_description': 'Refused log-ins of one source address and typed user name in one hour (S3).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LoginThrottle',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('failures', fields.IntField(default=0)),
                ('last_failure_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('blocked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'login_throttle', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Failed log-ins under one key and when it may try again (S3).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PasswordHistory',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('credential', fields.ForeignKeyField('models.WebCredential', source_field='credential_id', db_constraint=True, to_field='id', related_name='password_history', on_delete=OnDelete.CASCADE)),
                ('password_hash', fields.CharField(max_length=255)),
                ('set_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'password_history', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A password a web log-in has had, the current one included: recent ones may not return.'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='WebCredential',
            options={'table': 'web_credential', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Web log-in for a staff member: argon2 hash and the state of a forced change (S3).'},
        ),
        ops.AddField(
            model_name='WebCredential',
            name='one_time_password',
            field=fields.BooleanField(default=False),
        ),
        ColumnDropped(model_name='WebCredential', name='failed_attempts'),
        ColumnDropped(model_name='WebCredential', name='locked_until'),
        ops.RunPython(start_password_clocks, ops.RunPython.noop),
    ]
