"""Judgements for the maths: every annotation of a project (or of some prompts) as
``agreement.metrics.Judgement`` records, read as fast as the database gives them."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from django.db.models import Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Length

from agreement.metrics import Judgement
from agreement.models import AnnotatorScore
from annotate.models import Annotation, Completion, Project, Prompt

# Prompts read per query when streaming a big project, to bound memory and query size.
CHUNK = 5000


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


def json_text(*, field: str) -> Cast:
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


def judgements_load(
    *, project: Project, prompt_ids: Iterable[int] | None = None
) -> ProjectJudgements:
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
    annotations = Annotation.objects.filter(prompt_q)
    if not project.machine_in_consensus:  # machine annotators are compared, not counted
        annotations = annotations.exclude(source=Annotation.Source.MACHINE)
    annotations = annotations.order_by().values_list(
        "prompt_id", "annotator_id", "annotator__username",
        _json_array_text(Annotation, "ranking", "ratings", "flags", "shown_order", "dimensions"),
        "time_ms", "skipped", Cast("created_at", output_field=TextField()), "strength", "tie_kind",
    )  # fmt: skip
    _judgements_append(out, _rows(annotations, prompt_ids), completion_ids, lengths, gold_prompts)
    return out


def _judgements_append(out, rows, completion_ids, lengths, gold_prompts) -> None:
    names = out.usernames
    loads = orjson.loads
    append = out.judgements.append
    for row in rows:
        pid, uid, name, payload, time_ms, skipped, created, strength, tie_kind = row
        cids = completion_ids.get(pid)
        if cids is None:
            continue  # a prompt without completions cannot be ranked
        names[uid] = name
        ranking, ratings, flags, shown, dimensions = loads(payload)
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
                strength=strength,
                tie_kind=tie_kind,
                dimensions=dimensions,
            )
        )


def annotator_weights_get(*, project: Project, usernames: Iterable[str]) -> dict[str, float]:
    return dict(
        AnnotatorScore.objects.filter(
            project=project, annotator__username__in=list(usernames)
        ).values_list("annotator__username", "weight")
    )
