"""Changing a project's loop settings, and queueing the rescoring they call for."""

from __future__ import annotations

from django.db import transaction

from agreement.services import project_agreement_schedule
from annotate.models import Project, Prompt
from core.dispatch import task_enqueue
from core.services import audit_event_record
from loop.models import LoopSettings
from loop.services.scoring import TASK_CHUNK, LoopRefused, loop_settings_for, prompts_pending_ids

SCORING_FIELDS = ("priority", "reward_model", "rule", "shown_k")
PROJECT_FIELDS = ("priority", "shown_k", "machine_in_consensus")  # on annotate's Project


def prompts_score_enqueue(*, project: Project, prompt_ids: list[int], require_broker=True) -> int:
    """Queue the scoring task for ``prompt_ids`` in chunks, sent when the caller commits."""
    from loop import tasks

    for start in range(0, len(prompt_ids), TASK_CHUNK):
        task_enqueue(
            task=tasks.prompts_score_task,
            args=[project.pk, prompt_ids[start : start + TASK_CHUNK]],
            require_broker=require_broker,
        )
    return len(prompt_ids)


def _checked(project: Project, changes: dict) -> dict:
    out = {}
    if "priority" in changes:
        if changes["priority"] not in Project.Priority.values:
            raise LoopRefused(f"must be one of {', '.join(Project.Priority.values)}",
                              field="priority")  # fmt: skip
        out["priority"] = changes["priority"]
    if "rule" in changes:
        if changes["rule"] not in LoopSettings.Rule.values:
            raise LoopRefused(f"must be one of {', '.join(LoopSettings.Rule.values)}", field="rule")
        out["rule"] = changes["rule"]
    for name, least in (("shown_k", 2), ("retrain_every", 1)):
        if name in changes:
            value = changes[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < least):  # fmt: skip
                raise LoopRefused(f"must be an integer of at least {least}, or null", field=name)
            out[name] = value
    if "reward_model" in changes:
        out["reward_model"] = _reward_model(project, changes["reward_model"])
    if "machine_in_consensus" in changes:
        if not isinstance(changes["machine_in_consensus"], bool):
            raise LoopRefused("must be true or false", field="machine_in_consensus")
        out["machine_in_consensus"] = changes["machine_in_consensus"]
    if "retrain_config" in changes:
        if not isinstance(changes["retrain_config"], dict):
            raise LoopRefused("must be an object", field="retrain_config")
        out["retrain_config"] = changes["retrain_config"]
    return out


def _reward_model(project: Project, pk):
    from rewardmodel.models import RewardModel

    if pk is None:
        return None
    model = RewardModel.objects.filter(pk=pk).first() if isinstance(pk, int) else None
    if model is None or model.project_of() not in (None, project):
        raise LoopRefused(f"no reward model {pk!r} for this project", field="reward_model")
    return model


def _state(project: Project, settings: LoopSettings) -> dict:
    return {
        "priority": project.priority, "shown_k": project.shown_k, "rule": settings.rule,
        "reward_model": settings.reward_model_id, "retrain_every": settings.retrain_every,
        "retrain_config": settings.retrain_config,
        "machine_in_consensus": project.machine_in_consensus,
    }  # fmt: skip


@transaction.atomic
def loop_settings_update(*, project: Project, actor=None, **changes) -> LoopSettings:
    """Apply ``changes`` (priority, shown_k, rule, reward_model id, retrain_every,
    retrain_config); raises LoopRefused naming the field. A change to what orders the queue
    queues a rescoring of every pending prompt; back to fifo clears the stored lineage."""
    checked = _checked(project, changes)
    settings = loop_settings_for(project=project)
    before = _state(project, settings)
    for name, value in checked.items():
        setattr(project if name in PROJECT_FIELDS else settings, name, value)
    if "retrain_every" in checked and actor is not None and actor.is_authenticated:
        settings.retrain_by = actor  # the schedule's runs are started on their behalf
    if project.priority == Project.Priority.UNCERTAINTY and settings.reward_model is None:
        raise LoopRefused("uncertainty needs a registered reward model", field="reward_model")
    project.save(update_fields=[*PROJECT_FIELDS, "updated_at"])
    settings.save()
    after = _state(project, settings)
    changed = [k for k in after if before[k] != after[k]]
    if changed:
        audit_event_record(
            action="project.loop_update", obj=project, project=project, actor=actor,
            before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
        )  # fmt: skip
    if "machine_in_consensus" in changed:
        project_agreement_schedule(project_id=project.pk, require_broker=False)
    if any(k in SCORING_FIELDS for k in changed):
        if project.priority == Project.Priority.FIFO:
            Prompt.objects.filter(project=project).update(priority=0.0, priority_lineage=None)
        else:
            prompts_score_enqueue(project=project, prompt_ids=prompts_pending_ids(project=project))
    return settings


@transaction.atomic
def project_rescore(*, project: Project) -> int:
    """Queue a rescoring of every pending prompt (503, nothing queued, when the broker is down);
    under fifo it clears what an earlier mode stored."""
    return prompts_score_enqueue(project=project, prompt_ids=prompts_pending_ids(project=project))


def prompts_imported_score(*, project_id: int, **_payload) -> None:
    """New prompts of a project ordered by priority get theirs (core.events subscriber)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project.priority == Project.Priority.FIFO:
        return
    # The import has committed when it publishes; the outbox rows need a transaction of their own.
    with transaction.atomic():
        ids = prompts_pending_ids(project=project, unscored_only=True)
        prompts_score_enqueue(project=project, prompt_ids=ids, require_broker=False)
