"""Simulated annotators for demos: plausible, noisy multi-annotator judgements of a project's
existing prompts, written through the ordinary import so they look like any imported data.

Everything it writes is labelled: annotators are ``sim-1`` .. ``sim-N`` (inactive accounts that
cannot log in), the source is ``simulated`` (exports leave them out unless asked) and every
comment says "simulated". Each completion has
a latent quality, taken from the prompt's existing ranking (the Open-Assistant consensus, say) or
gold ranking when there is one and drawn at random otherwise. Each annotator sees it through
their own noise; one favours the output shown first and one is careless, so the dashboard has
outliers to show. Close utilities become ties.
"""

from __future__ import annotations

import io
import json
import random
from datetime import timedelta
from itertools import pairwise

from django.utils import timezone

from annotate.models import Annotation, Project, Prompt
from annotate.services.imports import ImportResult, prompts_import

TIE_GAP = 0.15
DAYS = 14


def _annotator_profiles(n: int, rng: random.Random) -> list[dict]:
    profiles = [
        {"name": f"sim-{i}", "noise": rng.uniform(0.3, 0.9), "position_bias": 0.0, "speed": 1.0}
        for i in range(1, n + 1)
    ]
    if n >= 3:
        profiles[1]["position_bias"] = 1.5
    if n >= 4:
        profiles[-1].update(noise=3.0, speed=0.25)  # clicks through
    return profiles


def _latent_quality(prompt: Prompt, ids: list[str], reference, rng: random.Random) -> dict:
    if reference:
        place = {cid: g for g, group in enumerate(reference) for cid in group}
        worst = len(reference)
        return {cid: -float(place.get(cid, worst)) + rng.gauss(0, 0.2) for cid in ids}
    return {cid: rng.gauss(0, 1) for cid in ids}


def _judgement(ids, quality, profile, flag_keys, rng: random.Random, when) -> dict:
    shown = ids[:]
    rng.shuffle(shown)
    noise = profile["noise"]
    utility = {cid: quality[cid] + noise * rng.gauss(0, 1) for cid in ids}
    utility[shown[0]] += profile["position_bias"]
    order = sorted(ids, key=lambda c: -utility[c])
    ranking = [[order[0]]]
    for prev, cid in pairwise(order):
        if utility[prev] - utility[cid] < TIE_GAP:
            ranking[-1].append(cid)
        else:
            ranking.append([cid])
    seen = {cid: quality[cid] + 0.6 * noise * rng.gauss(0, 1) for cid in ids}
    ratings = {cid: min(7, max(1, round(4 + 1.3 * seen[cid]))) for cid in ids}
    flags = {}
    for cid in ids:
        raised = [key for f, key in enumerate(flag_keys[:2]) if seen[cid] < -1.3 - 0.5 * f]
        if raised:
            flags[cid] = raised
    return {
        "annotator": profile["name"],
        "ranking": ranking,
        "ratings": ratings,
        "flags": flags,
        "shown_order": shown,
        "time_ms": round(rng.lognormvariate(10.6, 0.5) * profile["speed"]),
        "comment": "simulated",
        "created_at": when.isoformat(),
    }


def _choice(ranking, quality, levels: int, rng: random.Random) -> dict:
    """A pairwise strength from how far apart the two are, or a tie's kind."""
    if not levels:
        return {"ranking": ranking}
    if len(ranking) == 1:
        good = sum(quality.values()) / len(quality) > -0.5
        return {"ranking": ranking, "tie_kind": "both_good" if good else "both_bad"}
    gap = abs(quality[ranking[0][0]] - quality[ranking[1][0]]) + abs(rng.gauss(0, 0.3))
    return {"ranking": ranking, "strength": min(levels, 1 + int(gap / 0.6))}


def _judging_extras(judgement: dict, project: Project, quality: dict, rng: random.Random) -> None:
    """Strength, tie kind and dimensions for projects that judge them (docs/judging.md): each
    dimension follows the overall order, reversed for one judgement in five."""
    levels = len(project.strength_levels) if project.is_pairwise else 0
    judgement.update(_choice(judgement["ranking"], quality, levels, rng))
    judgement["dimensions"] = {
        d["key"]: _choice(judgement["ranking"][::-1] if rng.random() < 0.2 else
                          judgement["ranking"], quality, levels, rng)
        for d in project.dimensions or []
    }  # fmt: skip
    if project.rationale == "required":
        judgement["rationale"] = "simulated"


def annotations_simulate(
    *,
    project: Project,
    annotators: int = 5,
    per_prompt: int | None = None,
    seed: int = 0,
    skip_rate: float = 0.02,
    limit: int | None = None,
) -> ImportResult:
    """Add ``per_prompt`` (default: the project's overlap) simulated judgements to every prompt.

    Deterministic for a seed; running it again adds nothing (the import matches judgements by
    prompt and annotator).
    """
    if annotators < 2:
        raise ValueError("simulate at least two annotators, or there is nothing to agree on")
    per_prompt = min(per_prompt or project.overlap, annotators)
    rng = random.Random(seed)
    profiles = _annotator_profiles(annotators, rng)
    flag_keys = project.flag_keys
    # Only projects that judge more than a ranking draw more random numbers, so the others'
    # simulations stay what they were for a seed.
    extras = project.is_pairwise or bool(project.dimensions) or project.rationale == "required"
    now = timezone.now()
    prompts = Prompt.objects.filter(project=project).prefetch_related("completions")[:limit]
    existing = {}
    for pid, ranking in (
        Annotation.objects.filter(prompt__project=project, skipped=False)
        .exclude(annotator__username__startswith="sim-")
        .order_by("created_at")
        .values_list("prompt_id", "ranking")
    ):
        existing.setdefault(pid, ranking)
    lines = []
    for prompt in prompts:
        completions = sorted(prompt.completions.all(), key=lambda c: c.position)
        ids = [c.external_id for c in completions]
        quality = _latent_quality(prompt, ids, prompt.gold_ranking or existing.get(prompt.pk), rng)
        judgements = []
        for profile in rng.sample(profiles, per_prompt):
            when = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
            if rng.random() < skip_rate:
                judgements.append({
                    "annotator": profile["name"], "skipped": True,
                    "skip_reason": "simulated skip", "created_at": when.isoformat(),
                })  # fmt: skip
                continue
            judgement = _judgement(ids, quality, profile, flag_keys, rng, when)
            if extras:
                _judging_extras(judgement, project, quality, rng)
            judgements.append(judgement)
        line = {
            "id": prompt.external_id,
            "completions": [{"id": c.external_id, "text": c.text} for c in completions],
            "annotations": judgements,
        }
        if prompt.messages is not None:
            line["messages"] = prompt.messages
        else:
            line["prompt"] = prompt.text
        lines.append(json.dumps(line, ensure_ascii=False))
    data = io.BytesIO("\n".join(lines).encode())
    result = prompts_import(project=project, source=data, fmt="rankwise")
    Annotation.objects.filter(
        prompt__project=project, annotator__username__in=[p["name"] for p in profiles]
    ).update(source=Annotation.Source.SIMULATED)
    return result
