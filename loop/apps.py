from django.apps import AppConfig


class LoopConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "loop"
    verbose_name = "Model in the loop"

    def ready(self):
        from core.events import PROMPTS_IMPORTED, event_subscribe
        from loop.services.settings import prompts_imported_score

        # annotate publishes it without importing loop (core.events).
        event_subscribe(PROMPTS_IMPORTED, prompts_imported_score, uid="loop-score-imported")
