"""Consensus for the export and the pages: the stored per-prompt consensus, with a
reviewer's adjudication in place of the computed ranking where there is one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from agreement.consensus import consensus_from_ranking
from agreement.models import Adjudication, PromptConsensus
from agreement.selectors.judgements import CHUNK, gc_paused, json_text
from annotate.models import Project, Prompt


def adjudications_latest(*, prompt_ids: Iterable[int]) -> dict[int, Adjudication]:
    """The newest adjudication of each prompt that has one."""
    latest: dict[int, Adjudication] = {}
    # Meta.ordering puts the newest first within each prompt.
    for adj in Adjudication.objects.filter(prompt_id__in=list(prompt_ids)):
        latest.setdefault(adj.prompt_id, adj)
    return latest


def pair_probs_both(*, stored: dict[str, float]) -> dict[str, float]:
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
    *, project: Project, prompt_ids: Iterable[int] | None = None, chunk_size: int = CHUNK
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(prompt id, consensus) in prompt id order, read ``chunk_size`` prompts at a time.

    A reviewer's adjudicated ranking replaces the computed one (pair_probs 1 / 0 / 0.5 from it,
    ``adjudicated`` True, the computed agreement kept; ``judged`` holds what else the reviewer
    decided, strength, tie kind, gaps and dimensions, when any of it is set). Prompts that nobody ranked and nobody
    adjudicated are absent.
    """
    for chunk in _id_chunks(project, prompt_ids, chunk_size):
        with gc_paused():
            records = _consensus_chunk(project, chunk)
        yield from records


def _consensus_chunk(project: Project, chunk: list[int]) -> list[tuple[int, dict[str, Any]]]:
    rows = PromptConsensus.objects.filter(project=project, prompt_id__in=chunk).values_list(
        "prompt_id", json_text(field="ranking"), json_text(field="pair_probs"), "agreement"
    )
    computed = {
        pid: (orjson.loads(ranking), pair_probs_both(stored=orjson.loads(probs)), agreement)
        for pid, ranking, probs, agreement in rows
    }
    latest = adjudications_latest(prompt_ids=chunk)
    out = []
    for pid in chunk:
        adj = latest.get(pid)
        if adj is not None:
            agreement = computed[pid][2] if pid in computed else None
            probs = consensus_from_ranking(adj.ranking)["pair_probs"]
            record = _consensus_record(adj.ranking, probs, agreement, True)
            judged = {"strength": adj.strength, "tie_kind": adj.tie_kind, "gaps": adj.gaps,
                      "dimensions": adj.dimensions}  # fmt: skip
            if any(v not in (None, "", [], {}) for v in judged.values()):
                record["judged"] = judged  # the reviewer's strength, gaps, dimensions
            out.append((pid, record))
        elif pid in computed:
            out.append((pid, _consensus_record(*computed[pid], False)))
    return out


def prompt_consensus_map(
    *, project: Project, prompt_ids: Iterable[int] | None = None
) -> dict[int, dict[str, Any]]:
    """{prompt id: {"ranking", "pair_probs", "agreement", "adjudicated"}}.

    For a big project, pass a batch of prompt ids at a time, or use ``prompt_consensus_iter``.
    """
    return dict(prompt_consensus_iter(project=project, prompt_ids=prompt_ids))
