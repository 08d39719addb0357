"""WeCom (issue 15): the access token of a platform's API, shared by every process."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0023_review_duty_and_digest')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PlatformToken',
            fields=[
                ('channel', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=16)),
                ('token', fields.CharField(max_length=512)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('refreshed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('refreshed_by', fields.CharField(max_length=128)),
            ],
            options={'table': 'platform_token', 'app': 'models', 'pk_attr': 'channel', 'table_description': "The access token of a chat platform's API (WeCom, issue 15), shared by every process:"},
            bases=['Model'],
        ),
    ]
