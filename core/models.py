"""The audit log: who did what to which object, when, from where, with the state before and
after. Rows are only ever added.

An event outlives what it describes: it names its object by type, id and a text label, and
its project by id and slug, never by a foreign key that a delete could cascade through. The
actor is a foreign key for convenience (SET_NULL when the account is deleted) and is stored
by username as well.

Append-only is enforced twice: the ORM refuses updates and deletes (the one exception is the
actor's SET_NULL above), and on PostgreSQL a trigger refuses them for any client, raw SQL
included (migration 0002). TRUNCATE and a database owner who drops the trigger are not
stopped: run the application as a role that owns neither.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from core.context import SOURCES


class AppendOnlyError(Exception):
    """An audit event was about to be changed or deleted."""


def _only_unsets_actor(values: dict) -> bool:
    return set(values) <= {"actor", "actor_id"} and all(v is None for v in values.values())


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # Deleting a user sets its events' actor to NULL through here; the username stays.
        if kwargs and _only_unsets_actor(kwargs):
            return super().update(**kwargs)
        raise AppendOnlyError("audit events are never changed")

    def delete(self):
        raise AppendOnlyError("audit events are never deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("audit events are never changed")


class AuditEvent(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True, help_text="e.g. token.issue")
    object_type = models.CharField(
        max_length=100, help_text="app_label.model, e.g. annotate.project"
    )
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    # No foreign key: the event must outlive the project.
    project_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    project_slug = models.CharField(max_length=100, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    source = models.CharField(max_length=16, choices=[(s, s) for s in SOURCES])
    request_id = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        # Related-object updates (the actor's SET_NULL) go through the guarded queryset too.
        base_manager_name = "objects"
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["actor_username", "id"], name="audit_actor_idx"),
        ]

    def __str__(self):
        who = self.actor_username or self.source
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events are never changed")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are never deleted")


class OutboxMessage(models.Model):
    """A Celery message that must reach a worker: written in the same transaction as the row
    it is about, sent once that commits, and deleted when a worker starts the task.

    A row that is still here after ``TASK_OUTBOX_GRACE_SECONDS`` was never sent (the broker
    went away between the request's check and the commit) or was lost on the way (a broker
    restarted without persistence); ``core.maintenance.outbox_sweep`` sends it again.
    """

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=255, unique=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=100, help_text="Where the router sends the task.")
    created_at = models.DateTimeField(auto_now_add=True)
    not_before = models.DateTimeField(help_text="The message's countdown ends here.")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Last (re)send.")
    sends = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        # The table of the former ops app, kept so that deployments keep their rows
        # (core/migrations/0003 adopts it, or creates it on a fresh database).
        db_table = "ops_outboxmessage"
        ordering = ["id"]
        indexes = [models.Index(fields=["not_before"])]

    def __str__(self):
        return f"{self.task_name} {self.task_id} ({self.sends} sends)"
