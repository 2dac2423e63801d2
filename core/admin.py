import json

from django.contrib import admin
from django.utils.html import format_html

from core.models import AuditEvent, OutboxMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the admin may read but never add, change or delete (logs, job reports)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: admins read the log here; nobody adds, changes or deletes an event."""

    list_display = [
        "created_at", "actor_username", "action", "object_type", "object_repr", "project_slug",
        "source",
    ]  # fmt: skip
    list_filter = ["action", "object_type", "source"]
    search_fields = ["actor_username", "object_repr", "object_id", "project_slug", "request_id"]
    date_hierarchy = "created_at"
    fields = [
        "created_at", "actor", "actor_username", "action", "object_type", "object_id",
        "object_repr", "project_id", "project_slug", "before_json", "after_json", "source",
        "request_id",
    ]  # fmt: skip
    readonly_fields = fields
    list_select_related = ["actor"]

    @admin.display(description="before")
    def before_json(self, obj):
        return _json_block(obj.before)

    @admin.display(description="after")
    def after_json(self, obj):
        return _json_block(obj.after)


def _json_block(value):
    if value is None:
        return "-"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


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
