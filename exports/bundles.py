"""Read side of an export: a project's prompts with their completions, judgements and
consensus, in chunks, in constant memory.

Consensus comes from the agreement app (``agreement.selectors.prompt_consensus_map``: its stored
consensus, or a reviewer's adjudicated ranking in its place); a prompt it has not computed yet
gets the fallback of ``exports.consensus``. "Reviewed" means adjudicated (or judged in review).

Prompts stream from one ``.iterator(chunk_size=...)`` query; each chunk then fetches its
completions and judgements in one query each, so memory holds one chunk whatever the project's
size and the query count grows with chunks, not prompts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from agreement.selectors import prompt_consensus_map
from annotate.models import Annotation, Completion, Project, Prompt
from exports.consensus import Consensus, fallback_consensus
from exports.lines import CompletionRow, JudgementRow, PromptBundle

DEFAULT_CHUNK_SIZE = 500


def prompt_count(*, project: Project, as_of: datetime) -> int:
    return Prompt.objects.filter(project=project, created_at__lte=as_of).count()


def project_is_conversational(*, project: Project, as_of: datetime) -> bool:
    return Prompt.objects.filter(
        project=project, created_at__lte=as_of, messages__isnull=False
    ).exists()


def prompt_bundles(
    *,
    project: Project,
    as_of: datetime,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    full: bool = True,
    dimensions: bool = False,
) -> Iterator[list[PromptBundle]]:
    """Chunks of PromptBundles in prompt id order; judgements in creation (id) order.

    ``full=False`` reads only what pairs need (ranking, flags, skipped, author, date, source,
    strength, gaps; the per-dimension choices too with ``dimensions``).
    """
    prompts = (
        Prompt.objects.filter(project=project, created_at__lte=as_of)
        .order_by("id")
        .values_list("id", "external_id", "text", "messages", "metadata", "gold_ranking")
    )
    chunk: list[PromptBundle] = []
    for pid, external_id, text, messages, metadata, gold in prompts.iterator(chunk_size):
        chunk.append(
            PromptBundle(
                id=pid,
                external_id=external_id,
                text=text,
                messages=messages,
                completions=[],
                annotations=[],
                metadata=metadata or {},
                gold_ranking=gold,
            )
        )
        if len(chunk) >= chunk_size:
            yield _fill(project, chunk, as_of, full, dimensions)
            chunk = []
    if chunk:
        yield _fill(project, chunk, as_of, full, dimensions)


def _fill(
    project: Project, chunk: list[PromptBundle], as_of: datetime, full: bool, dimensions: bool
) -> list[PromptBundle]:
    by_id = {b.id: b for b in chunk}
    completions = (
        Completion.objects.filter(prompt_id__in=by_id)
        .order_by("prompt_id", "position")
        .values_list("prompt_id", "external_id", "text", "model_name", "metadata")
    )
    for pid, cid, text, model_name, metadata in completions:
        by_id[pid].completions.append(CompletionRow(cid, text, model_name, metadata or {}))

    annotations = Annotation.objects.filter(prompt_id__in=by_id, created_at__lte=as_of).order_by(
        "prompt_id", "id"
    )
    if full:
        rows = annotations.values_list(
            "prompt_id", "annotator__username", "ranking", "ratings", "flags", "comment",
            "skipped", "skip_reason", "time_ms", "shown_order", "created_at", "source",
            "strength", "tie_kind", "gaps", "dimensions", "rationale", "lineage",
        )  # fmt: skip
        for pid, *fields in rows:
            by_id[pid].annotations.append(JudgementRow(*fields))
    else:
        # Pairs need no ratings, comments or display order: do not fetch and decode them.
        fields = ["prompt_id", "annotator__username", "ranking", "flags", "skipped",
                  "created_at", "source", "strength", "gaps"]  # fmt: skip
        if dimensions:
            fields.append("dimensions")
        for row in annotations.values_list(*fields):
            pid, name, ranking, flags, skipped, created_at, source, strength, gaps, *dims = row
            judgement = JudgementRow(
                name, ranking, flags=flags, skipped=skipped, created_at=created_at, source=source,
                strength=strength, gaps=gaps, dimensions=dims[0] if dims else {},
            )  # fmt: skip
            by_id[pid].annotations.append(judgement)

    stored = prompt_consensus_map(project=project, prompt_ids=list(by_id))
    for bundle in chunk:
        record = stored.get(bundle.id)
        if record is not None:
            bundle.consensus = Consensus(
                ranking=record["ranking"],
                agreement=record["agreement"],
                pair_probs=record["pair_probs"] or {},
                judged=record.get("judged"),
            )
        else:
            bundle.consensus = _fallback(bundle)
        bundle.adjudicated = record is not None and bool(record["adjudicated"])
        bundle.reviewed = bundle.adjudicated or any(
            a.source == Annotation.Source.REVIEW for a in bundle.annotations
        )
    return chunk


def _fallback(bundle: PromptBundle) -> Consensus | None:
    """Until the agreement app has computed a prompt, a consensus from its rankings alone."""
    rankings = [a.ranking for a in bundle.annotations if not a.skipped and a.ranking]
    if not rankings:
        return None
    return fallback_consensus(bundle.completion_ids, rankings)
