from django.apps import AppConfig


class AgreementConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "agreement"

    def ready(self):
        from agreement.services import project_agreement_after_import, prompt_agreement_schedule
        from core.events import JUDGEMENT_CHANGED, PROMPTS_IMPORTED, event_subscribe

        # annotate publishes these without importing agreement (core.events).
        event_subscribe(JUDGEMENT_CHANGED, prompt_agreement_schedule, uid="agreement-prompt")
        event_subscribe(PROMPTS_IMPORTED, project_agreement_after_import, uid="agreement-project")
