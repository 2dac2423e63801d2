from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from core import events
        from webhooks import conditions
        from webhooks.services import webhook_import_emit

        # annotate and agreement announce these without importing webhooks (core.events).
        events.event_subscribe(
            events.IMPORT_JOB_FINISHED, lambda *, job: webhook_import_emit(job=job),
            uid="webhooks-import",
        )  # fmt: skip
        events.event_subscribe(
            events.CONSENSUS_FLUSHED, conditions.webhook_queue_check, uid="webhooks-queue"
        )
        events.event_subscribe(
            events.PROMPTS_IMPORTED, conditions.webhook_queue_rearm, uid="webhooks-queue-rearm"
        )
        events.event_subscribe(
            events.AGREEMENT_REPORT_STORED, conditions.webhook_agreement_check,
            uid="webhooks-agreement",
        )  # fmt: skip
