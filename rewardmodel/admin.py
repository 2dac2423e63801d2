from django.contrib import admin

from rewardmodel.models import RewardModel


@admin.register(RewardModel)
class RewardModelAdmin(admin.ModelAdmin):
    """Runs register their models; adding one here registers a model trained elsewhere."""

    list_display = ["id", "name", "path", "snapshot", "training_run", "created_at"]
    search_fields = ["name", "path", "base_model"]
    raw_id_fields = ["snapshot", "training_run", "created_by"]
