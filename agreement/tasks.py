"""Celery entry points: look the row up, call the service."""

from celery import shared_task

from agreement.services import (
    pending_consensus_sweep,
    project_agreement_recompute,
    project_consensus_flush,
)
from annotate.models import Project


@shared_task(name="agreement.project_consensus_flush", ignore_result=True)
def project_consensus_flush_task(project_id: int) -> None:
    project_consensus_flush(project_id=project_id)


@shared_task(name="agreement.pending_consensus_sweep", ignore_result=True)
def pending_consensus_sweep_task() -> None:
    pending_consensus_sweep()


@shared_task(name="agreement.project_agreement_recompute", ignore_result=True)
def project_agreement_task(project_id: int) -> None:
    project = Project.objects.filter(pk=project_id).first()
    if project is not None:  # deleted since it was queued
        project_agreement_recompute(project=project)
