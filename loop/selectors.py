"""Read-side of the loop app: a project's settings and state in one dict (API and dashboard)."""

from __future__ import annotations

from django.db.models import Count, Q

from annotate.models import Annotation, Project, Prompt
from loop.models import LoopSettings, MachineAnnotator


def machine_annotator_list(*, project: Project):
    return MachineAnnotator.objects.filter(project=project).select_related("user")


def machine_annotator_get(*, project: Project, pk: int) -> MachineAnnotator | None:
    """One of the project's machine annotators, with what judging and its answers read."""
    return (
        MachineAnnotator.objects.filter(project=project, pk=pk)
        .select_related("user", "project", "reward_model")
        .first()
    )


def human_judgement_count(*, project: Project) -> int:
    """Non-skipped judgements by people (machine and simulated ones are not)."""
    return (
        Annotation.objects.filter(prompt__project=project, skipped=False)
        .exclude(source__in=[Annotation.Source.MACHINE, Annotation.Source.SIMULATED])
        .count()
    )


def loop_overview(*, project: Project) -> dict:
    settings = LoopSettings.objects.filter(project=project).select_related(
        "reward_model", "retrain_run"
    ).first() or LoopSettings(project=project)
    prompts = Prompt.objects.filter(project=project, is_gold=False).aggregate(
        total=Count("pk"), scored=Count("pk", filter=Q(priority_lineage__isnull=False)),
        subset=Count("pk", filter=Q(shown_ids__isnull=False)),
        prejudged_closed=Count("pk", filter=Q(target_overlap=0)),
    )  # fmt: skip
    model = settings.reward_model
    run = settings.retrain_run
    judgements = human_judgement_count(project=project)
    return {
        "priority": project.priority,
        "shown_k": project.shown_k,
        "machine_in_consensus": project.machine_in_consensus,
        "rule": settings.rule,
        "reward_model": {"id": model.pk, "name": model.name} if model else None,
        "scored_at": settings.scored_at,
        "prompts": prompts,
        "retrain": {
            "every": settings.retrain_every,
            "judgements": judgements,
            "judgements_at_last": settings.retrain_judgements_at,
            "due_in": (
                max(0, settings.retrain_judgements_at + settings.retrain_every - judgements)
                if settings.retrain_every
                else None
            ),
            "run": {"id": run.pk, "status": run.status} if run else None,
            "config": settings.retrain_config,
        },
        "machine_annotators": [
            {
                "id": m.pk,
                "name": m.name,
                "kind": m.kind,
                "hybrid_threshold": m.hybrid_threshold,
                "audit_rate": m.audit_rate,
                "calibration": m.calibration,
                "username": m.user.username,
            }
            for m in MachineAnnotator.objects.filter(project=project).select_related("user")
        ],
    }


def queue_head(*, project: Project, n: int = 10) -> list[dict]:
    """The pending prompts the queue serves first under the project's order (a preview: claims
    and each annotator's own history still decide who gets which)."""
    pending = Prompt.objects.filter(project=project, is_gold=False).exclude(target_overlap=0)
    order = ["-submitted_count", "pk"]
    if project.priority != Project.Priority.FIFO:
        order = ["-priority", *order]
    rows = pending.order_by(*order).values(
        "pk", "external_id", "priority", "priority_lineage", "shown_ids", "submitted_count"
    )[:n]
    return list(rows)
