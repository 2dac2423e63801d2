from django.contrib import admin

from rewardmodel.models import RewardModel
from rewardmodel.services import trained_model_register


class TrainedModelAdmin(admin.ModelAdmin):
    """Runs register their models; adding one here registers a model trained elsewhere (of
    either kind: training's PolicyAdmin stands on this too)."""

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        trained_model_register(model=obj, actor=request.user)


@admin.register(RewardModel)
class RewardModelAdmin(TrainedModelAdmin):
    list_display = ["id", "name", "path", "snapshot", "training_run", "created_at"]
    search_fields = ["name", "path", "base_model"]
    raw_id_fields = ["snapshot", "training_run", "created_by"]
