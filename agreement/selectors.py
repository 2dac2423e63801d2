"""Read side of the agreement app: judgements for the maths, consensus for the export, the report
for pages and the API, the review queue.

The statistics themselves live in ``agreement.metrics`` and ``agreement.consensus``; this module
only moves rows in and out of them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db.models import Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Length

from agreement.consensus import consensus_from_ranking
from agreement.metrics import Judgement, project_report
from agreement.models import Adjudication, AnnotatorScore, ProjectAgreement, PromptConsensus
from annotate.constants import Roles
from annotate.models import Annotation, Completion, Project, Prompt
from annotate.selectors import project_list_for_user, user_has_role

# Prompts read per query when streaming a big project, to bound memory and query size.
CHUNK = 5000
REPORT_BOOTSTRAP = 1000


# --- permissions ----------------------------------------------------------------------------


def user_can_review(user, project: Project) -> bool:
    """Admins everywhere; reviewers in the projects they are members of."""
    if not user.is_authenticated:
        return False
    if user.is_superuser or user_has_role(user, Roles.ADMIN):
        return True
    return (
        user_has_role(user, Roles.REVIEWER) and project.memberships.filter(user_id=user.pk).exists()
    )


def project_for_reviewer(user, slug: str) -> Project | None:
    project = project_list_for_user(user).filter(slug=slug).first()
    if project is None or not user_can_review(user, project):
        return None
    return project


# --- judgements for the maths ---------------------------------------------------------------


@dataclass
class ProjectJudgements:
    judgements: list[Judgement] = field(default_factory=list)
    gold: dict[int, list[list[str]]] = field(default_factory=dict)
    completion_ids: dict[int, tuple[str, ...]] = field(default_factory=dict)
    usernames: dict[int, str] = field(default_factory=dict)


def _prompt_filter(project: Project, prompt_ids: Iterable[int] | None, prefix: str = "") -> Q:
    if prompt_ids is None:
        return Q(**{f"{prefix}project": project})
    return Q(**{f"{prefix}project": project, f"{prefix}id__in": list(prompt_ids)})


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector around a bulk load.

    Building a few hundred thousand small records with the collector on makes it traverse the
    growing heap again and again: 4x the CPU time of the load itself at 300k judgements. The
    records hold no reference cycles, so nothing is lost by collecting once afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _json_text(field: str) -> Cast:
    return Cast(field, output_field=TextField())


def _json_array_text(model, *fields: str) -> RawSQL:
    """The JSON columns as one JSON array, in text: one ``orjson.loads`` per row instead of
    Django's json.loads per value, which was most of the read time at 300k judgements (building
    JSON on the server instead costs the database 5x more).

    Plain SQL (CAST and ||, which PostgreSQL and SQLite read alike): Django's Concat compiles to
    nested COALESCEs whose compilation alone cost the per-submission path a few milliseconds.
    """
    table = model._meta.db_table
    columns = [f'CAST("{table}"."{model._meta.get_field(f).column}" AS TEXT)' for f in fields]
    return RawSQL("'[' || " + " || ',' || ".join(columns) + " || ']'", [])


def _rows(queryset, prompt_ids):
    # A whole project streams through a server-side cursor; a few prompts (the per-submission
    # path) are one plain query, without the cursor's extra round trips.
    return queryset.iterator(chunk_size=CHUNK) if prompt_ids is None else queryset


def _timestamp(text: str) -> float:
    # Timestamps come as text too (fromisoformat is C; the driver's loader is not). SQLite
    # stores them naive, in UTC.
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def judgements_load(project: Project, prompt_ids: Iterable[int] | None = None) -> ProjectJudgements:
    """Every judgement of the project (or of some of its prompts) as ``Judgement`` records.

    Annotators are identified by username, so the report names them; prompts by database id.
    """
    with gc_paused():
        return _judgements_load(project, prompt_ids)


def _judgements_load(project: Project, prompt_ids: Iterable[int] | None) -> ProjectJudgements:
    prompt_ids = None if prompt_ids is None else list(prompt_ids)
    out = ProjectJudgements()
    prompt_q = _prompt_filter(project, prompt_ids, "prompt__")

    lengths: dict[int, dict[str, int]] = {}
    ids: dict[int, list[str]] = {}
    completions = (
        Completion.objects.filter(prompt_q)
        .order_by("prompt_id", "position")
        .values_list("prompt_id", "external_id", Length("text"))
    )
    for pid, cid, n in _rows(completions, prompt_ids):
        if pid in ids:
            ids[pid].append(cid)
            lengths[pid][cid] = n
        else:
            ids[pid] = [cid]
            lengths[pid] = {cid: n}
    completion_ids = out.completion_ids = {pid: tuple(c) for pid, c in ids.items()}

    out.gold = dict(
        Prompt.objects.filter(_prompt_filter(project, prompt_ids), is_gold=True)
        .exclude(gold_ranking=None)
        .values_list("id", "gold_ranking")
    )
    gold_prompts = set(out.gold)

    # No ORDER BY (Meta.ordering is by id): it would force an index walk instead of a hash join.
    annotations = Annotation.objects.filter(prompt_q).order_by().values_list(
        "prompt_id", "annotator_id", "annotator__username",
        _json_array_text(Annotation, "ranking", "ratings", "flags", "shown_order"), "time_ms",
        "skipped",
        Cast("created_at", output_field=TextField()),
    )  # fmt: skip
    _judgements_append(out, _rows(annotations, prompt_ids), completion_ids, lengths, gold_prompts)
    return out


def _judgements_append(out, rows, completion_ids, lengths, gold_prompts) -> None:
    names = out.usernames
    loads = orjson.loads
    append = out.judgements.append
    for row in rows:
        pid, uid, name, json_text, time_ms, skipped, created = row
        cids = completion_ids.get(pid)
        if cids is None:
            continue  # a prompt without completions cannot be ranked
        names[uid] = name
        ranking, ratings, flags, shown = loads(json_text)
        append(
            Judgement(
                prompt_id=pid,
                annotator=name,
                completion_ids=cids,
                ranking=ranking,
                ratings=ratings,
                flags=flags,
                shown_order=shown,
                time_ms=time_ms,
                skipped=bool(skipped),
                completion_lengths=lengths[pid],
                is_gold=pid in gold_prompts,
                created_at=_timestamp(created),
            )
        )


def annotator_weights_get(project: Project, usernames: Iterable[str]) -> dict[str, float]:
    return dict(
        AnnotatorScore.objects.filter(
            project=project, annotator__username__in=list(usernames)
        ).values_list("annotator__username", "weight")
    )


# --- consensus for the export ---------------------------------------------------------------


def adjudications_latest(prompt_ids: Iterable[int]) -> dict[int, Adjudication]:
    """The newest adjudication of each prompt that has one."""
    latest: dict[int, Adjudication] = {}
    # Meta.ordering puts the newest first within each prompt.
    for adj in Adjudication.objects.filter(prompt_id__in=list(prompt_ids)):
        latest.setdefault(adj.prompt_id, adj)
    return latest


def pair_probs_both(stored: dict[str, float]) -> dict[str, float]:
    """Both orientations of each stored pair: {"A>B": p} gives "B>A" = 1 - p too."""
    out = {}
    for pair, p in stored.items():
        a, b = pair.split(">", 1)
        out[pair] = p
        out[f"{b}>{a}"] = round(1.0 - p, 4)
    return out


def _consensus_record(ranking, pair_probs, agreement, adjudicated: bool) -> dict[str, Any]:
    return {
        "ranking": ranking,
        "pair_probs": pair_probs,
        "agreement": agreement,
        "adjudicated": adjudicated,
    }


def _id_chunks(
    project: Project, prompt_ids: Iterable[int] | None, size: int
) -> Iterator[list[int]]:
    if prompt_ids is not None:
        wanted = sorted(set(prompt_ids))
        for lo in range(0, len(wanted), size):
            yield wanted[lo : lo + size]
        return
    last = 0
    prompts = Prompt.objects.filter(project=project).order_by("id")
    while True:
        chunk = list(prompts.filter(id__gt=last).values_list("id", flat=True)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1]


def prompt_consensus_iter(
    project: Project, prompt_ids: Iterable[int] | None = None, *, chunk_size: int = CHUNK
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(prompt id, consensus) in prompt id order, read ``chunk_size`` prompts at a time.

    A reviewer's adjudicated ranking replaces the computed one (pair_probs 1 / 0 / 0.5 from it,
    ``adjudicated`` True, the computed agreement kept). Prompts that nobody ranked and nobody
    adjudicated are absent.
    """
    for chunk in _id_chunks(project, prompt_ids, chunk_size):
        with gc_paused():
            records = _consensus_chunk(project, chunk)
        yield from records


def _consensus_chunk(project: Project, chunk: list[int]) -> list[tuple[int, dict[str, Any]]]:
    rows = PromptConsensus.objects.filter(project=project, prompt_id__in=chunk).values_list(
        "prompt_id", _json_text("ranking"), _json_text("pair_probs"), "agreement"
    )
    computed = {
        pid: (orjson.loads(ranking), pair_probs_both(orjson.loads(probs)), agreement)
        for pid, ranking, probs, agreement in rows
    }
    latest = adjudications_latest(chunk)
    out = []
    for pid in chunk:
        adj = latest.get(pid)
        if adj is not None:
            agreement = computed[pid][2] if pid in computed else None
            probs = consensus_from_ranking(adj.ranking)["pair_probs"]
            out.append((pid, _consensus_record(adj.ranking, probs, agreement, True)))
        elif pid in computed:
            out.append((pid, _consensus_record(*computed[pid], False)))
    return out


def prompt_consensus_map(
    project: Project, prompt_ids: Iterable[int] | None = None
) -> dict[int, dict[str, Any]]:
    """{prompt id: {"ranking", "pair_probs", "agreement", "adjudicated"}}.

    For a big project, pass a batch of prompt ids at a time, or use ``prompt_consensus_iter``.
    """
    return dict(prompt_consensus_iter(project, prompt_ids))


# --- the report -----------------------------------------------------------------------------


def project_report_compute(
    project: Project, *, bootstrap: int = REPORT_BOOTSTRAP, seed: int = 0
) -> dict[str, Any]:
    """A fresh report from the annotations, without storing anything."""
    data = judgements_load(project)
    return project_report(data.judgements, data.gold, bootstrap=bootstrap, seed=seed)


def project_report_get(project: Project) -> dict[str, Any]:
    """The stored report of the last full recompute, or a fresh one if there is none yet.

    ``meta`` says which: ``stored`` (false for a fresh, unsaved report), ``computed_at`` and
    ``stale`` (judgements changed since; per-prompt consensus is current, these figures are not).
    """
    stored = ProjectAgreement.objects.filter(project=project).first()
    if stored is None:
        report = project_report_compute(project)
        meta = {"stored": False, "computed_at": None, "stale": False}
    else:
        report = stored.report
        meta = {
            "stored": True,
            "computed_at": stored.computed_at.isoformat(),
            "stale": stored.stale,
            "duration_ms": stored.duration_ms,
        }
    return {**report, "project": project.slug, "meta": meta}


# --- review queue ---------------------------------------------------------------------------


def review_queue_qs(project: Project) -> QuerySet[PromptConsensus]:
    """Prompts below the project's agreement threshold or whose consensus missed the gold
    ranking, not yet adjudicated; lowest agreement first."""
    low = Q(agreement__lt=project.agreement_threshold) | Q(gold_missed=True)
    return (
        PromptConsensus.objects.filter(low, project=project)
        .exclude(prompt__adjudications__isnull=False)
        .select_related("prompt")
        .order_by("-gold_missed", "agreement", "prompt_id")
    )


def review_queue_list(project: Project, *, limit: int = 200) -> list[dict[str, Any]]:
    """Queue entries; ``ready`` once no more annotators are coming (adaptive overlap done)."""
    ceiling = project.overlap_ceiling
    entries = []
    for row in review_queue_qs(project)[:limit]:
        prompt = row.prompt
        target = prompt.overlap_target(project)
        entries.append({
            "prompt": prompt,
            "consensus": row,
            "target": target,
            "ready": row.n_judgements >= target and (target >= ceiling or row.gold_missed),
            "reason": "gold missed" if row.gold_missed else "low agreement",
        })  # fmt: skip
    # Ready prompts first: the others may still resolve with the extra judgements on the way.
    entries.sort(key=lambda e: not e["ready"])
    return entries


def review_queue_count(project: Project) -> int:
    return review_queue_qs(project).count()


def prompt_review_get(prompt: Prompt) -> dict[str, Any]:
    """Everything a reviewer needs for one prompt: every judgement side by side (one row per
    completion, one column per annotator), the consensus and the adjudication history."""
    completions = list(prompt.completions.order_by("position"))
    annotations = list(
        prompt.annotations.select_related("annotator").order_by("skipped", "created_at")
    )
    positions = [
        {cid: g + 1 for g, group in enumerate(a.ranking) for cid in group} for a in annotations
    ]
    consensus = PromptConsensus.objects.filter(prompt=prompt).first()
    adjudications = list(prompt.adjudications.select_related("reviewer"))
    shown = adjudications[0].ranking if adjudications else (consensus and consensus.ranking)
    consensus_rank = {cid: g + 1 for g, group in enumerate(shown or []) for cid in group}
    rows = [
        {
            "completion": c,
            "cells": [
                {
                    "rank": pos.get(c.external_id),
                    "rating": a.ratings.get(c.external_id),
                    "flags": a.flags.get(c.external_id, []),
                }
                for a, pos in zip(annotations, positions, strict=True)
            ],
            "consensus_rank": consensus_rank.get(c.external_id),
        }
        for c in completions
    ]
    return {
        "prompt": prompt,
        "completion_ids": [c.external_id for c in completions],
        "annotations": annotations,
        "rows": rows,
        "consensus": consensus,
        "consensus_rank": consensus_rank,
        "adjudications": adjudications,
    }


# --- presentation of the report -------------------------------------------------------------

HEADLINE = (
    ("pairwise_agreement", "Pairwise agreement", "pairwise_agreement"),
    ("pairwise_agreement_with_ties", "Agreement, ties as answers", "pairwise_agreement_with_ties"),
    ("tie_rate", "Tie rate", "tie_rate"),
    ("kendall_w_mean", "Kendall's W (mean)", "kendall_w_mean"),
    ("krippendorff_alpha.ranking", "Krippendorff's alpha, ranking", "krippendorff_alpha_ranking"),
    ("krippendorff_alpha.ratings.ordinal", "Krippendorff's alpha, ratings (ordinal)", None),
    ("krippendorff_alpha.ratings.interval", "Krippendorff's alpha, ratings (interval)", None),
)
# Outlier rules of the annotator table; the page's legend states them.
OUTLIER_Z = -2.0
OUTLIER_P = 0.05  # family-wise, Bonferroni-divided by the number of annotators tested
GOLD_ACCURACY_MIN = 0.7


def _dotted(record: dict, key: str):
    value: Any = record
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def headline_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    reasons = report.get("reasons") or {}
    intervals = report.get("confidence_intervals") or {}
    rows = []
    for key, label, ci_key in HEADLINE:
        ci = intervals.get(ci_key) if ci_key else None
        rows.append({
            "key": key,
            "label": label,
            "value": _dotted(report, key),
            "reason": reasons.get(key),
            "ci": ci if isinstance(ci, list | tuple) else None,
            "ci_reason": reasons.get(f"confidence_intervals.{ci_key}") if ci_key else None,
        })  # fmt: skip
    return rows


def _z_scores(values: dict[str, float]) -> dict[str, float]:
    # A display rule for the table, not a reported statistic: how far each annotator's agreement
    # sits from the others', in standard deviations.
    if len(values) < 3:
        return {}
    n = len(values)
    mean = sum(values.values()) / n
    sd = (sum((v - mean) ** 2 for v in values.values()) / (n - 1)) ** 0.5
    if sd == 0:
        return {}
    return {name: (v - mean) / sd for name, v in values.items()}


def annotator_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's per-annotator figures, each with ``z`` and the ``outliers`` rules it trips."""
    annotators = report.get("annotators") or []
    agreement = {
        a["annotator"]: a["pairwise_agreement"]
        for a in annotators
        if a.get("pairwise_agreement") is not None
    }
    z = _z_scores(agreement)
    tested = [a for a in annotators if isinstance(a.get("position_bias"), dict)]
    p_cut = OUTLIER_P / max(len(tested), 1)
    rows = []
    for a in annotators:
        outliers = []
        if z.get(a["annotator"], 0.0) < OUTLIER_Z:
            outliers.append("agreement far below the others")
        bias = a.get("position_bias")
        if (
            isinstance(bias, dict)
            and bias.get("p_value", 1.0) < p_cut
            and bias["rate"] > bias["chance_rate"]
        ):
            outliers.append("favours the output shown first")
        gold = a.get("gold_accuracy")
        if gold is not None and gold < GOLD_ACCURACY_MIN:
            outliers.append("low gold accuracy")
        rows.append({**a, "z": z.get(a["annotator"]), "outliers": outliers})
    return rows


def report_anonymise(report: dict[str, Any]) -> dict[str, Any]:
    """The report with annotator names replaced by stable pseudonyms (annotator-1, ...)."""
    names = sorted(a["annotator"] for a in report.get("annotators") or [])
    alias = {name: f"annotator-{i}" for i, name in enumerate(names, 1)}
    out = dict(report)
    out["annotators"] = [
        {**a, "annotator": alias[a["annotator"]]} for a in report.get("annotators") or []
    ]
    out["annotator_pairs"] = [
        {**p, "annotators": [alias.get(n, n) for n in p["annotators"]]}
        for p in report.get("annotator_pairs") or []
    ]
    return out
