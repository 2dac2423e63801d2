"""Celery entry points: look the row up, call the service."""

from celery import shared_task

from annotate.models import Project
from loop.services.scoring import prompt_priorities_store


@shared_task(name="loop.prompts_score", ignore_result=True)
def prompts_score_task(project_id: int, prompt_ids: list[int]) -> None:
    project = Project.objects.filter(pk=project_id).first()
    if project is not None:  # deleted since it was queued
        prompt_priorities_store(project=project, prompt_ids=prompt_ids)


@shared_task(name="loop.retrain_check", ignore_result=True)
def retrain_check_task() -> None:
    from loop.services.retraining import retrain_check

    retrain_check()


@shared_task(name="loop.machine_judge", ignore_result=True)
def machine_judge_task(machine_id: int, prompt_ids: list[int]) -> None:
    from loop.models import MachineAnnotator
    from loop.services.judges import machine_judge

    machine = MachineAnnotator.objects.filter(pk=machine_id).select_related("user").first()
    if machine is not None:
        machine_judge(machine=machine, prompt_ids=prompt_ids)
