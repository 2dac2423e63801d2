"""Hybrid routing: a machine pre-judges the prompts it is sure of; people audit a sample of
those and judge the rest.

1. Calibration (``hybrid_calibrate``): on the prompts both the machine and people judged (the
   calibration sample), each prompt's machine confidence (its least sure adjacent pair) and its
   errors (completion pairs both ordered strictly, ordered differently). For each candidate
   threshold t the prompts at confidence >= t are "covered"; the expected error rate at t is
   their errors over their compared pairs, with a Wilson 95% upper bound. The threshold is the
   lowest t whose upper bound stays within ``max_error`` over at least ``min_prompts`` covered
   prompts: the most coverage the sample vouches for (``rlhf.uncertainty.hybrid_threshold``;
   the bound, not the sample's own rate, because choosing by the rate overpromised on real
   data).
2. Routing (``hybrid_route``): pending prompts no person judged yet, which the machine judged at
   confidence >= the threshold, are pre-judged: a share ``audit_rate`` of them (drawn at
   random) goes to one person as an audit (``target_overlap`` 1), the others close to people
   (``target_overlap`` 0) and keep the machine's label. Everything else goes to people as usual.
   Routing turns ``Project.machine_in_consensus`` on: the project asked for machine labels, so
   they enter consensus and exports, where every label carries its source.
"""

from __future__ import annotations

import random

from django.db import transaction
from django.db.models import Count, Q

from agreement.metrics.machine import pair_comparison, ranking_positions
from annotate.models import Annotation, Project, Prompt
from core.services import audit_event_record
from loop.models import MachineAnnotator
from loop.services.scoring import LoopRefused
from rlhf.uncertainty import hybrid_threshold

HUMAN_EXCLUDED = (Annotation.Source.MACHINE, Annotation.Source.SIMULATED)


def _sample(machine: MachineAnnotator) -> list[tuple[float, int, int]]:
    """(confidence, errors, compared pairs) per prompt of the calibration sample."""
    mine = dict(
        Annotation.objects.filter(
            annotator=machine.user, skipped=False, confidence__isnull=False
        ).values_list("prompt_id", "confidence")
    )
    rankings = dict(
        Annotation.objects.filter(annotator=machine.user, prompt_id__in=mine).values_list(
            "prompt_id", "ranking"
        )
    )
    errors: dict[int, list[int]] = {}
    humans = (
        Annotation.objects.filter(prompt_id__in=mine, skipped=False)
        .exclude(source__in=HUMAN_EXCLUDED)
        .values_list("prompt_id", "ranking")
    )
    for pid, ranking in humans:
        agree, strict, _, _ = pair_comparison(
            ranking_positions(rankings[pid]), ranking_positions(ranking)
        )
        tally = errors.setdefault(pid, [0, 0])
        tally[0] += strict - agree
        tally[1] += strict
    return [(mine[pid], e, n) for pid, (e, n) in errors.items() if n > 0]


def hybrid_calibrate(*, machine: MachineAnnotator, max_error: float = 0.1,
                     min_prompts: int = 20, actor=None) -> dict:  # fmt: skip
    """Choose the machine's confidence threshold on the calibration sample and store it."""
    if not 0 < max_error < 1:
        raise LoopRefused("must be between 0 and 1", field="max_error")
    sample = _sample(machine)
    chosen, curve = hybrid_threshold(sample, max_error, min_prompts)
    result = {"sample": len(sample), "max_error": max_error, "min_prompts": min_prompts,
              "chosen": chosen, "curve": curve}  # fmt: skip
    machine.calibration = result
    machine.hybrid_threshold = chosen["threshold"] if chosen else None
    machine.save(update_fields=["calibration", "hybrid_threshold"])
    audit_event_record(action="machine_annotator.calibrate", obj=machine, project=machine.project,
                       actor=actor, after={"threshold": machine.hybrid_threshold})  # fmt: skip
    return result


@transaction.atomic
def hybrid_route(*, machine: MachineAnnotator, audit_rate: float, seed=None, actor=None) -> dict:
    """Pre-judge the prompts the machine is sure of (see the module); returns the counts."""
    if machine.hybrid_threshold is None:
        raise LoopRefused("calibrate the machine on a human-judged sample first",
                          field="hybrid_threshold")  # fmt: skip
    if not 0 <= audit_rate <= 1:
        raise LoopRefused("must be between 0 and 1", field="audit_rate")
    project: Project = machine.project
    sure = Annotation.objects.filter(
        annotator=machine.user, confidence__gte=machine.hybrid_threshold
    ).values("prompt_id")
    candidates = list(
        Prompt.objects.filter(project=project, is_gold=False, target_overlap__isnull=True,
                              pk__in=sure)
        .annotate(people=Count("annotations", filter=~Q(annotations__source__in=HUMAN_EXCLUDED)))
        .filter(people=0)
        .order_by("pk")
    )  # fmt: skip
    rng = random.Random(seed)
    audited = [p.pk for p in candidates if rng.random() < audit_rate]
    closed = [p.pk for p in candidates if p.pk not in set(audited)]
    Prompt.objects.filter(pk__in=audited).update(target_overlap=1)
    Prompt.objects.filter(pk__in=closed).update(target_overlap=0)
    machine.audit_rate = audit_rate
    machine.save(update_fields=["audit_rate"])
    if not project.machine_in_consensus:
        project.machine_in_consensus = True
        project.save(update_fields=["machine_in_consensus", "updated_at"])
    counts = {
        "prejudged": len(candidates),
        "audited": len(audited),
        "closed": len(closed),
        "threshold": machine.hybrid_threshold,
        "expected_error": (machine.calibration.get("chosen") or {}).get("error_rate"),
        "expected_error_upper": (machine.calibration.get("chosen") or {}).get("error_upper"),
    }
    audit_event_record(action="project.hybrid_route", obj=project, project=project, actor=actor,
                       after=counts)  # fmt: skip
    return counts
