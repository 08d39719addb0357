"""Fewer, better messages (issue 14): which reviewers are on duty."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.models.orgs import Staff


class ReviewerDuty(Model):
    """A reviewer's word in chat that he is on duty (`/duty`): since when and until when.

    He is on duty while `on_duty_until` lies ahead; his duty lapses by itself at the end of
    the business day he went on duty (24:00 in the business time zone), and `/duty off` ends
    it at once (`on_duty_until` None). Every change is also in the audit log.
    """

    id = fields.IntField(primary_key=True)
    staff: fields.OneToOneRelation[Staff] = fields.OneToOneField(
        "models.Staff", related_name="reviewer_duty", on_delete=fields.CASCADE
    )
    on_duty_since = fields.DatetimeField(null=True)
    on_duty_until = fields.DatetimeField(null=True, db_index=True)
    changed_at = fields.DatetimeField()
    channel = fields.CharField(max_length=16)

    class Meta:
        table = "reviewer_duty"

