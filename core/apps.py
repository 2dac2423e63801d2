from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from celery.signals import task_prerun

        from core.dispatch import outbox_message_started

        # A worker that starts a task ends its outbox row: from then on the row's own status
        # and heartbeat say what happened, and the reapers take over.
        task_prerun.connect(outbox_message_started, weak=False, dispatch_uid="ops-outbox")
