from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: the task outbox and dispatch, heartbeats and reapers, the fail-soft cache,
    health checks. Every app queues its Celery tasks through ``ops.dispatch``."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from celery.signals import task_prerun

        from ops.dispatch import outbox_message_started

        # A worker that starts a task ends its outbox row: from then on the row's own status
        # and heartbeat say what happened, and the reapers take over.
        task_prerun.connect(outbox_message_started, weak=False, dispatch_uid="ops-outbox")
