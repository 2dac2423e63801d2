from django.contrib import admin

from ops.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Messages not yet started by a worker: what the sweeper will (re)send."""

    list_display = ["id", "task_name", "task_id", "queue", "created_at", "sent_at", "sends",
                    "last_error"]  # fmt: skip
    list_filter = ["task_name", "queue"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
