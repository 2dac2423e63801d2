from django.apps import AppConfig


class AnnotateConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "annotate"
    verbose_name = "Annotation"

    def ready(self):
        from annotate.selectors import project_visible_get
        from core.policy import project_lookup_register

        # The permission table (core.policy) scopes project URLs to members through this.
        project_lookup_register(project_visible_get)
