"""Machine annotators of a project against its human judgements (``agreement.metrics.machine``).

A machine annotator is whoever wrote judgements with source ``machine`` (``loop`` stores them
with its pair probabilities in ``lineage``); people are every other non-skipped judgement,
simulated ones excepted.
"""

from __future__ import annotations

from collections import defaultdict

from agreement.metrics.machine import MachinePrompt, machine_vs_humans
from annotate.models import Annotation, Project

HUMAN_EXCLUDED = (Annotation.Source.MACHINE, Annotation.Source.SIMULATED)


def machine_agreement_rows(*, project: Project, prompt_ids=None) -> list[dict]:
    """Per machine annotator: its judgement count, agreement with people (CIs) and calibration.
    ``prompt_ids`` limits the comparison (a calibration sample)."""
    machine_q = Annotation.objects.filter(
        prompt__project=project, source=Annotation.Source.MACHINE, skipped=False
    )
    if prompt_ids is not None:
        machine_q = machine_q.filter(prompt_id__in=list(prompt_ids))
    machines: dict[str, dict[int, tuple]] = defaultdict(dict)
    for name, pid, ranking, lineage in machine_q.values_list(
        "annotator__username", "prompt_id", "ranking", "lineage"
    ):
        machines[name][pid] = (ranking, (lineage or {}).get("pair_probs") or {})
    if not machines:
        return []
    every = {pid for judged in machines.values() for pid in judged}
    humans: dict[int, list] = defaultdict(list)
    human_q = (
        Annotation.objects.filter(prompt_id__in=every, skipped=False)
        .exclude(source__in=HUMAN_EXCLUDED)
        .values_list("prompt_id", "ranking")
    )
    for pid, ranking in human_q:
        humans[pid].append(ranking)
    out = []
    for name in sorted(machines):
        judged = machines[name]
        prompts = [MachinePrompt(ranking, probs, humans.get(pid, []))
                   for pid, (ranking, probs) in sorted(judged.items())]  # fmt: skip
        out.append({"annotator": name, "judgements": len(judged), **machine_vs_humans(prompts)})
    return out
