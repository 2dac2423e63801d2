"""Machine annotators: registering one, and letting it judge a project's prompts.

A machine annotator owns a bot account (no role, no password; it never signs in) so its
judgements are ordinary Annotations with source ``machine``: the queue does not count them
against a prompt's overlap, consensus leaves them out unless ``Project.machine_in_consensus``,
and exports unless asked (``include_machine``). The lineage of each says which judge (and which
model) made it and carries the judge's pair probabilities, which calibration reads.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from annotate.models import Annotation, AnnotationRevision, Project, Prompt
from core.dispatch import task_enqueue
from core.events import JUDGEMENT_CHANGED, event_publish
from core.services import audit_event_record
from loop.judges import DEFAULT_TEMPLATE, TEMPLATE_FIELDS, ChatJudge, Verdict, verdict_from_scores
from loop.models import MachineAnnotator
from loop.services.scoring import LoopRefused
from rewardmodel.services import reward_model_score_members

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
JUDGE_CHUNK = 200


def _checked(project: Project, data: dict) -> dict:
    from loop.services.settings import _reward_model

    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise LoopRefused("lower-case letters, digits, - and _, at most 50", field="name")
    if MachineAnnotator.objects.filter(project=project, name=name).exists():
        raise LoopRefused(f"{name!r} already judges this project", field="name")
    kind = data.get("kind")
    if kind not in MachineAnnotator.Kind.values:
        raise LoopRefused(f"must be one of {', '.join(MachineAnnotator.Kind.values)}", field="kind")
    out = {"name": name, "kind": kind}
    if kind == MachineAnnotator.Kind.REWARD_MODEL:
        if data.get("reward_model") is None:
            raise LoopRefused("a reward-model judge needs a registered model", field="reward_model")
        out["reward_model"] = _reward_model(project, data["reward_model"])
        return out
    try:
        URLValidator(schemes=["http", "https"])(data.get("url") or "")
    except ValidationError as exc:
        raise LoopRefused("must be an http(s) URL, e.g. http://host:8080/v1", field="url") from exc
    if not isinstance(data.get("model"), str) or not data["model"].strip():
        raise LoopRefused("the endpoint's model name is required", field="model")
    template = data.get("template") or DEFAULT_TEMPLATE
    missing = [f for f in TEMPLATE_FIELDS if f not in template]
    if not isinstance(template, str) or missing:
        raise LoopRefused(f"must contain {', '.join(TEMPLATE_FIELDS)}", field="template")
    try:
        template.format(prompt="", a="", b="")
    except (KeyError, IndexError, ValueError) as exc:
        raise LoopRefused(f"only {{prompt}}, {{a}} and {{b}} may be used ({exc})",
                          field="template") from exc  # fmt: skip
    return {**out, "url": data["url"], "model": data["model"].strip(), "template": template}


@transaction.atomic
def machine_annotator_create(*, project: Project, actor=None, **data) -> MachineAnnotator:
    checked = _checked(project, data)
    user = get_user_model()(username=f"machine.{project.pk}.{checked['name']}"[:150])
    user.set_unusable_password()
    user.save()
    machine = MachineAnnotator.objects.create(project=project, user=user, **checked)
    audit_event_record(action="machine_annotator.create", obj=machine, project=project,
                       actor=actor, after={"name": machine.name, "kind": machine.kind})  # fmt: skip
    return machine


def _verdicts(machine: MachineAnnotator, prompts: list[Prompt]) -> list[tuple[Prompt, Verdict]]:
    items = []
    for prompt in prompts:
        completions = sorted(prompt.completions.all(), key=lambda c: c.position)
        if prompt.shown_ids:
            completions = [c for c in completions if c.external_id in prompt.shown_ids]
        items.append((prompt, [c.external_id for c in completions], [c.text for c in completions]))
    if machine.kind == MachineAnnotator.Kind.REWARD_MODEL:
        matrices = reward_model_score_members(
            reward_model=machine.reward_model,
            items=[{"prompt": p.messages if p.messages is not None else p.text, "completions": t}
                   for p, _, t in items],
        )  # fmt: skip
        return [
            (p, verdict_from_scores(ids, m)) for (p, ids, _), m in zip(items, matrices, strict=True)
        ]
    judge = ChatJudge(url=machine.url, model=machine.model, template=machine.template)
    prompt_input = lambda p: p.messages if p.messages is not None else p.text  # noqa: E731
    return [(p, judge.judge(prompt_input(p), ids, texts)) for p, ids, texts in items]


def _lineage(machine: MachineAnnotator, verdict: Verdict) -> dict:
    model = machine.reward_model
    return {
        "judge": machine.name, "kind": machine.kind,
        "model": model.pk if model else machine.model,
        "model_name": model.name if model else machine.url,
        "pair_probs": verdict.pair_probs,
    }  # fmt: skip


def machine_judge(*, machine: MachineAnnotator, prompt_ids: list[int]) -> int:
    """Judge the prompts (of the machine's project) it has not judged yet; returns how many it
    judged. Raises JudgeFailed (chat) or ScoringUnavailable (no torch) and stores nothing of a
    batch that failed."""
    prompts = list(
        Prompt.objects.filter(project=machine.project_id, pk__in=prompt_ids)
        .exclude(annotations__annotator=machine.user)
        .prefetch_related("completions")
        .order_by("pk")
    )
    done = 0
    for start in range(0, len(prompts), JUDGE_CHUNK):
        verdicts = _verdicts(machine, prompts[start : start + JUDGE_CHUNK])
        with transaction.atomic():
            for prompt, verdict in verdicts:
                annotation = Annotation.objects.create(
                    prompt=prompt, annotator=machine.user, ranking=verdict.ranking,
                    shown_order=[cid for group in verdict.ranking for cid in group],
                    source=Annotation.Source.MACHINE, confidence=verdict.confidence,
                    lineage=_lineage(machine, verdict),
                )  # fmt: skip
                AnnotationRevision.objects.create(
                    annotation=annotation, editor=None, action=AnnotationRevision.Action.CREATED,
                    state={"annotator": machine.user.username, "ranking": verdict.ranking,
                           "source": "machine"},
                )  # fmt: skip
                event_publish(JUDGEMENT_CHANGED, prompt_id=prompt.pk, project_id=prompt.project_id)
        done += len(verdicts)
    return done


@transaction.atomic
def machine_judge_enqueue(*, machine: MachineAnnotator, prompt_ids: list[int] | None = None) -> int:
    """Queue the machine over ``prompt_ids`` (default: every prompt of the project)."""
    from loop import tasks

    if prompt_ids is None:
        prompt_ids = list(
            Prompt.objects.filter(project=machine.project_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    for start in range(0, len(prompt_ids), JUDGE_CHUNK):
        task_enqueue(task=tasks.machine_judge_task,
                     args=[machine.pk, prompt_ids[start : start + JUDGE_CHUNK]])  # fmt: skip
    return len(prompt_ids)
