"""Read-side queries of the exports app."""

from __future__ import annotations

from django.db.models import QuerySet

from annotate.selectors import user_has_role
from core.roles import Roles
from exports.models import DatasetSnapshot


def snapshot_list_for_user(*, user) -> QuerySet[DatasetSnapshot]:
    """Admins see every snapshot; everyone else those of the projects they are members of."""
    snapshots = DatasetSnapshot.objects.select_related("project", "created_by")
    if not user_has_role(user=user, role=Roles.ADMIN):
        snapshots = snapshots.filter(project__memberships__user=user)
    return snapshots.order_by("-id")


def snapshot_ready_get(*, snapshot_id: int) -> DatasetSnapshot:
    """The snapshot a training run reads; raises DoesNotExist unless it is ready."""
    return DatasetSnapshot.objects.select_related("project").get(
        pk=snapshot_id, status=DatasetSnapshot.Status.READY
    )
