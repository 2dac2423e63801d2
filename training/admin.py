from django.contrib import admin, messages

from rewardmodel.admin import TrainedModelAdmin
from training.models import GenerationJob, Policy, TrainingRun
from training.services import RunStateError, training_run_cancel


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "kind", "status", "step", "total_steps", "attempts",
                    "heartbeat_at", "created_by", "created_at"]  # fmt: skip
    list_filter = ["kind", "status"]
    search_fields = ["name", "base_model"]
    raw_id_fields = ["snapshot", "reward_model", "prompt_project", "created_by"]
    readonly_fields = [f.name for f in TrainingRun._meta.fields if f.name != "name"]
    actions = ["cancel_runs"]

    def has_add_permission(self, request):
        return False  # runs start through the API, which validates config and inputs

    @admin.action(description="Cancel selected runs")
    def cancel_runs(self, request, queryset):
        for run in queryset:
            try:
                training_run_cancel(run=run, user=request.user)
            except RunStateError as exc:
                self.message_user(request, str(exc), messages.WARNING)


@admin.register(Policy)
class PolicyAdmin(TrainedModelAdmin):
    list_display = ["id", "name", "path", "training_run", "reward_model", "created_at"]
    search_fields = ["name", "path"]
    raw_id_fields = ["training_run", "reward_model", "created_by"]


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "model_name", "k", "status", "created_at", "finished_at"]
    list_filter = ["status"]
    raw_id_fields = ["project", "policy", "created_by"]
    readonly_fields = ["status", "error", "result", "celery_task_id", "started_at", "finished_at"]
