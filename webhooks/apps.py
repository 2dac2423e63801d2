from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from core.events import IMPORT_JOB_FINISHED, event_subscribe
        from webhooks.services import webhook_import_emit

        # annotate announces finished import jobs without importing webhooks (core.events).
        event_subscribe(
            IMPORT_JOB_FINISHED, lambda *, job: webhook_import_emit(job), uid="webhooks-import"
        )
