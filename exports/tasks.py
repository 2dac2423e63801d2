from celery import shared_task

from exports.models import DatasetSnapshot
from exports.services import snapshot_build


@shared_task(name="exports.snapshot_build", acks_late=True)
def snapshot_build_task(snapshot_id: int) -> None:
    snapshot = DatasetSnapshot.objects.select_related("project").filter(pk=snapshot_id).first()
    if snapshot is None:  # deleted before the worker got to it
        return
    snapshot_build(snapshot=snapshot)
