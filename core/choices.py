"""Choices more than one app's models share, so that their values cannot drift apart."""

from django.db import models


class JobStatus(models.TextChoices):
    """The life of a queued background job that either succeeds or fails (imports,
    generation): the values the reaper and the pollers compare against."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
