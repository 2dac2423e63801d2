from django.db import models


class OutboxMessage(models.Model):
    """A Celery message that must reach a worker: written in the same transaction as the row
    it is about, sent once that commits, and deleted when a worker starts the task.

    A row that is still here after ``TASK_OUTBOX_GRACE_SECONDS`` was never sent (the broker
    went away between the request's check and the commit) or was lost on the way (a broker
    restarted without persistence); ``ops.services.outbox_sweep`` sends it again.
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
        ordering = ["id"]
        indexes = [models.Index(fields=["not_before"])]

    def __str__(self):
        return f"{self.task_name} {self.task_id} ({self.sends} sends)"
