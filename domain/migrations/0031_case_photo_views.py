"""Reviewers see before they approve (issue 16, C6): who opened the photos of which revision
of a case."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0030_web_session_page_note')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CasePhotoView',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('case', fields.ForeignKeyField('models.Case', source_field='case_id', db_constraint=True, to_field='id', related_name='photo_views', on_delete=OnDelete.CASCADE)),
                ('revision', fields.IntField()),
                ('reviewer', fields.ForeignKeyField('models.Staff', source_field='reviewer_id', db_constraint=True, to_field='id', related_name='photo_views', on_delete=OnDelete.CASCADE)),
                ('viewed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'case_photo_view', 'app': 'models', 'unique_together': (('case', 'revision', 'reviewer'),), 'pk_attr': 'id', 'table_description': 'A reviewer opened the photos of one revision of a case (its case page shows the ID'},
            bases=['Model'],
        ),
    ]
