"""Scheduler leases and runtime settings."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class JobLease(Model):
    """Who runs a scheduler job until when, so several processes run it once per interval
    (issue 14): `epoch` grows at each taking and fences the holder's record of its run,
    `slot_start` is the start of the interval taken, `finished_at` when that run ended."""

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()
    epoch = fields.BigIntField(default=0)
    slot_start = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job_lease"


class Setting(Model):
    """A runtime setting kept by administrators (value is JSON)."""

    key = fields.CharField(max_length=64, primary_key=True)
    value: dict = fields.JSONField()
    updated_at = fields.DatetimeField(auto_now=True)
    updated_by_id = fields.IntField(null=True)

    class Meta:
        table = "setting"


class PlatformToken(Model):
    """The access token of a chat platform's API (WeCom, issue 15), shared by every process:
    `expires_at` from the platform's `expires_in`, `refreshed_by` the process that fetched it.
    The token is a secret: never logged, never shown on an admin page."""

    channel = fields.CharField(max_length=16, primary_key=True)
    token = fields.CharField(max_length=512)
    expires_at = fields.DatetimeField()
    refreshed_at = fields.DatetimeField()
    refreshed_by = fields.CharField(max_length=128)

    class Meta:
        table = "platform_token"
