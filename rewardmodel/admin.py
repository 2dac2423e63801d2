from django.contrib import admin

from rewardmodel.models import RewardModel
from rewardmodel.services import reward_model_register


@admin.register(RewardModel)
class RewardModelAdmin(admin.ModelAdmin):
    """Runs register their models; adding one here registers a model trained elsewhere."""

    list_display = ["id", "name", "path", "snapshot", "training_run", "created_at"]
    search_fields = ["name", "path", "base_model"]
    raw_id_fields = ["snapshot", "training_run", "created_by"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        reward_model_register(model=obj, actor=request.user)
