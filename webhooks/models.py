"""Webhook endpoints of a project and the log of every delivery to them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from annotate.models import Project


class WebhookEndpoint(models.Model):
    """A URL of a project's that wants to hear about some event types."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    # Kept in clear: every delivery is signed with it (HMAC needs the key itself).
    secret = models.CharField(max_length=200)
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    # agreement.below_threshold: which figure of the project's agreement report, and the level
    # under which it fires (once per crossing; see webhooks.conditions).
    agreement_metric = models.CharField(
        max_length=40, default="pairwise_agreement",
        choices=[("pairwise_agreement", "pairwise agreement"),
                 ("krippendorff_alpha_ranking", "Krippendorff's alpha (ranking)")],
    )  # fmt: skip
    agreement_threshold = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.project.slug}: {self.url}"


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint: the delivery log is these rows."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RETRYING = "retrying"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The event's id: the same in every delivery and replay of it, so receivers can dedupe.
    event_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    event_type = models.CharField(max_length=50)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.IntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    latency_ms = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    # When the next attempt is due (also the lease of an attempt in flight); null once final.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.endpoint.url} ({self.status})"

    @property
    def final(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class WebhookCondition(models.Model):
    """Whether a condition event (queue.empty, agreement.below_threshold) currently holds for
    an endpoint: the event is sent when it starts to hold, not again until it has stopped
    holding, so a project whose agreement stays low is announced once, not after every
    recompute."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=60)
    holds = models.BooleanField(default=False)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_type"], name="webhook_condition_once"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.event_type} {'holds' if self.holds else 'does not hold'} for {self.endpoint_id}"
        )
