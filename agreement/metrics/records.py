"""The neutral judgement record the Django side fills, and its vectorised form.

Every statistic works on `JudgementArrays`: one row per (prompt, annotator) judgement, rows sorted
by prompt so a prompt's rows are contiguous, and per-completion columns padded to the largest K
with NaN. Building it is the only per-record Python loop; everything after is numpy.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from agreement.metrics._common import no_gc

Ranking = tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Judgement:
    """One annotator's submission (or skip) for one prompt.

    ranking: tie groups, best first; empty when skipped or not ranked.
    ratings: completion id -> Likert 1..7 (completions left unrated are simply absent).
    flags: completion id -> names of the flags raised on it; a completion absent here, of a
        judgement that was not skipped, counts as "not flagged" for every flag.
    shown_order: completion ids in the order the interface displayed them.
    completion_lengths: completion id -> length in characters.
    is_gold: the prompt was served as a gold (known-answer) check; informational, counted per
        annotator. Accuracy is scored against the `gold` mapping given to `build_arrays`.
    created_at: POSIX seconds (UTC).
    strength, tie_kind, dimensions: see agreement.metrics.judging.
    """

    prompt_id: Hashable
    annotator: str
    completion_ids: tuple[str, ...]
    ranking: Ranking = ()
    ratings: Mapping[str, int] = field(default_factory=dict)
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    shown_order: tuple[str, ...] = ()
    time_ms: int | None = None
    skipped: bool = False
    completion_lengths: Mapping[str, int] = field(default_factory=dict)
    is_gold: bool = False
    created_at: float | None = None
    # Pairwise-strength projects: the level 1..n of the winner's lead (0: a tie) and the tie's
    # kind; dimension key -> {"ranking", "strength", "tie_kind"} (docs/judging.md).
    strength: int | None = None
    tie_kind: str = ""
    dimensions: Mapping[str, Mapping] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class JudgementArrays:
    """Columnar form of a set of judgements. R rows, P prompts, A annotators, K = k_max."""

    prompt_ids: tuple[Hashable, ...]  # [P]
    annotators: tuple[str, ...]  # [A], sorted
    completion_ids: tuple[tuple[str, ...], ...]  # [P], the prompt's canonical completion order
    n_completions: np.ndarray  # [P] int, K of each prompt
    row_prompt: np.ndarray  # [R] int, non-decreasing
    row_annotator: np.ndarray  # [R] int
    prompt_start: np.ndarray  # [P + 1] row offsets of each prompt
    skipped: np.ndarray  # [R] bool
    rank: np.ndarray  # [R, K] midrank 1..K (ties share the mean position), NaN if missing
    ratings: np.ndarray  # [R, K] float, NaN if missing
    flag_names: tuple[str, ...]  # [F], sorted
    flags: np.ndarray  # [F, R, K] bool
    shown_first: np.ndarray  # [R] int, completion index shown first, -1 if unknown
    lengths: np.ndarray  # [P, K] float, NaN if unknown
    time_ms: np.ndarray  # [R] float, NaN if unknown
    created_at: np.ndarray  # [R] float, NaN if unknown
    is_gold: np.ndarray  # [R] bool
    gold_rank: np.ndarray  # [P, K] midrank of the gold ranking, NaN where no gold

    @property
    def n_rows(self) -> int:
        return int(self.row_prompt.size)

    @property
    def n_prompts(self) -> int:
        return len(self.prompt_ids)

    @property
    def k_max(self) -> int:
        return int(self.rank.shape[1])

    @property
    def ranked(self) -> np.ndarray:
        """[R] bool: the row ranked at least two completions (the only rows rankings use)."""
        return ~self.skipped & (np.isfinite(self.rank).sum(axis=1) >= 2)

    @property
    def completion_mask(self) -> np.ndarray:
        """[P, K] bool: the column is a real completion of the prompt, not padding."""
        return np.arange(self.k_max)[None, :] < self.n_completions[:, None]

    def row_mask(self) -> np.ndarray:
        """[R, K] bool: completion exists for the row's prompt."""
        return self.completion_mask[self.row_prompt]

    def cached(self, key: Hashable, compute):
        """Memoise a value derived from these arrays (never mutated after build_arrays), so
        what both the report and the consensus need (preference signs, annotator-pair table,
        Kendall's W, the equal-weight leave-one-out fit) is computed once per recompute."""
        memo = self.__dict__.setdefault("_memo", {})  # frozen dataclass: bypass __setattr__
        if key not in memo:
            memo[key] = compute()
        return memo[key]


def midranks(row: np.ndarray, col: np.ndarray, grp: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """[n_rows, k] midranks from (row, column, tie-group index) triples, NaN where absent.

    Midranks (a tie over positions 2 and 3 gets 2.5) are what Kendall's W tie correction and
    Spearman-style statistics assume, and they keep position values comparable across prompts.
    """
    out = np.full((n_rows, k), np.nan)
    if row.size == 0:
        return out
    n_groups = int(grp.max()) + 1
    sizes = np.bincount(row * n_groups + grp, minlength=n_rows * n_groups).reshape(n_rows, -1)
    before = np.cumsum(sizes, axis=1) - sizes
    mid = before + (sizes + 1) / 2.0
    out[row, col] = mid[row, grp]
    return out


def _newer(candidate: Judgement, current: Judgement) -> bool:
    # Re-submissions replace earlier ones; without timestamps the later row in input order wins.
    if candidate.created_at is None or current.created_at is None:
        return True
    return candidate.created_at >= current.created_at


def _column(cmap: Mapping[str, int], cid: str, what: str) -> int:
    k = cmap.get(cid)
    if k is None:
        raise ValueError(f"{what}: completion {cid!r} is not one of the prompt's completions")
    return k


def _ranking_triples(
    ranking: Ranking, cmap: Mapping[str, int], r: int, out: tuple[list, list, list], what: str
) -> None:
    rows, cols, grps = out
    for g, group in enumerate(ranking):
        for cid in group:
            rows.append(r)
            cols.append(_column(cmap, cid, what))
            grps.append(g)


def build_arrays(
    judgements: Iterable[Judgement], gold: Mapping[Hashable, Ranking] | None = None
) -> JudgementArrays:
    with no_gc():
        return _build(judgements, gold)


@dataclass(slots=True)
class _Coords:
    """What the per-prompt pass gathers: (row, column, value) coordinates of each field, turned
    into arrays once at the end."""

    completion_ids: list[tuple[str, ...]] = field(default_factory=list)
    n_comp: list[int] = field(default_factory=list)
    shown: list[int] = field(default_factory=list)
    rk_r: list = field(default_factory=list)
    rk_c: list = field(default_factory=list)
    rk_g: list = field(default_factory=list)
    rt_r: list = field(default_factory=list)
    rt_c: list = field(default_factory=list)
    rt_v: list = field(default_factory=list)
    fl_f: list = field(default_factory=list)
    fl_r: list = field(default_factory=list)
    fl_c: list = field(default_factory=list)
    flag_index: dict[str, int] = field(default_factory=dict)
    len_p: list = field(default_factory=list)
    len_c: list = field(default_factory=list)
    len_v: list = field(default_factory=list)


def _build(
    judgements: Iterable[Judgement], gold: Mapping[Hashable, Ranking] | None
) -> JudgementArrays:
    """Vectorise judgements (and gold rankings keyed by prompt id).

    One judgement per (prompt, annotator) is kept: the newest by created_at. The first judgement
    seen for a prompt fixes its completion order; another judgement of that prompt listing a
    different set of completions is a data error and raises ValueError.
    """
    by_prompt = _newest(judgements)
    prompt_ids = tuple(by_prompt)
    groups = [list(per.values()) for per in by_prompt.values()]
    ordered = [j for rows in groups for j in rows]
    n_rows = len(ordered)
    annotators = tuple(sorted({j.annotator for j in ordered}))
    a_index = {a: i for i, a in enumerate(annotators)}
    # Field-at-a-time comprehensions are several times faster than appends in the main loop;
    # numpy turns None into NaN for float arrays.
    row_ann = np.fromiter((a_index[j.annotator] for j in ordered), np.int64, n_rows)
    skipped = np.fromiter((bool(j.skipped) for j in ordered), bool, n_rows)
    is_gold = np.fromiter((bool(j.is_gold) for j in ordered), bool, n_rows)
    times = np.array([j.time_ms for j in ordered], dtype=float)
    created = np.array([j.created_at for j in ordered], dtype=float)

    c = _Coords()
    r0 = 0
    for p, rows in enumerate(groups):
        _gather_prompt(c, p, prompt_ids[p], rows, r0)
        r0 += len(rows)

    n_prompts = len(prompt_ids)
    k_max = max(c.n_comp, default=0)
    i64 = np.int64
    rank = _rank_matrix(c, n_rows, k_max)
    ratings = _filled((n_rows, k_max), c.rt_r, c.rt_c, c.rt_v)
    names_sorted, flags = _flag_cube(c, n_rows, k_max)
    lengths = _filled((n_prompts, k_max), c.len_p, c.len_c, c.len_v)
    row_prompt_a = np.repeat(np.arange(n_prompts, dtype=i64), [len(rows) for rows in groups])
    prompt_start = np.searchsorted(row_prompt_a, np.arange(n_prompts + 1)).astype(i64)

    return JudgementArrays(
        prompt_ids=prompt_ids,
        annotators=annotators,
        completion_ids=tuple(c.completion_ids),
        n_completions=np.asarray(c.n_comp, dtype=i64),
        row_prompt=row_prompt_a,
        row_annotator=row_ann,
        prompt_start=prompt_start,
        skipped=skipped,
        rank=rank,
        ratings=ratings,
        flag_names=tuple(names_sorted),
        flags=flags,
        shown_first=np.asarray(c.shown, dtype=i64),
        lengths=lengths,
        time_ms=times,
        created_at=created,
        is_gold=is_gold,
        gold_rank=_gold_ranks(gold, prompt_ids, c.completion_ids, k_max),
    )


def _newest(judgements: Iterable[Judgement]) -> dict[Hashable, dict[str, Judgement]]:
    """prompt id -> annotator -> the judgement kept, prompts in order of first appearance."""
    by_prompt: dict[Hashable, dict[str, Judgement]] = {}
    for j in judgements:
        per = by_prompt.get(j.prompt_id)
        if per is None:
            per = by_prompt[j.prompt_id] = {}
        prev = per.get(j.annotator)
        if prev is None or _newer(j, prev):
            per[j.annotator] = j
    return by_prompt


def _prompt_columns(pid: Hashable, rows: list[Judgement]) -> tuple[tuple[str, ...], dict]:
    """The prompt's completion order (its first judgement's) and id -> column; raises when a
    judgement of the prompt lists other completions."""
    cids = tuple(rows[0].completion_ids)
    cset = set(cids)
    if len(cset) != len(cids):
        raise ValueError(f"prompt {pid!r}: duplicate completion ids {cids!r}")
    for j in rows:
        if j.completion_ids != cids and set(j.completion_ids) != cset:
            raise ValueError(
                f"prompt {pid!r}: annotator {j.annotator!r} saw completions "
                f"{tuple(j.completion_ids)!r}, others saw {cids!r}"
            )
    return cids, {c: k for k, c in enumerate(cids)}


def _gather_prompt(c: _Coords, p: int, pid: Hashable, rows: list[Judgement], r0: int) -> None:
    """Append prompt p's coordinates (its judgements are rows r0, r0 + 1, ...) to c."""
    cids, cmap = _prompt_columns(pid, rows)
    c.completion_ids.append(cids)
    c.n_comp.append(len(cids))
    # Each field is gathered by one comprehension over all the prompt's judgements: the
    # per-judgement alternative costs a Python frame and three list growths per field and row.
    lengths = next((j.completion_lengths for j in rows if j.completion_lengths), None)
    c.shown.extend([cmap.get(j.shown_order[0], -1) if j.shown_order else -1 for j in rows])
    done = [(r0 + i, j) for i, j in enumerate(rows) if not j.skipped]
    try:
        if lengths:
            c.len_c.extend([cmap[cid] for cid in lengths])
        c.rk_c.extend([cmap[cid] for _, j in done for grp in j.ranking for cid in grp])
        c.rt_c.extend([cmap[cid] for _, j in done for cid in j.ratings])
        flagged = [
            (r, cmap[cid], names) for r, j in done if j.flags for cid, names in j.flags.items()
        ]
    except KeyError as exc:
        raise ValueError(
            f"prompt {pid!r}: completion {exc.args[0]!r} is not one of its completions"
        ) from None
    if lengths:
        c.len_v.extend(lengths.values())
        c.len_p.extend([p] * len(lengths))
    c.rk_g.extend([g for _, j in done for g, grp in enumerate(j.ranking) for _ in grp])
    c.rk_r.extend([r for r, j in done for grp in j.ranking for _ in grp])
    c.rt_v.extend([v for _, j in done for v in j.ratings.values()])
    c.rt_r.extend([r for r, j in done for _ in j.ratings])
    for r, k, names in flagged:
        for name in names:
            c.fl_f.append(c.flag_index.setdefault(name, len(c.flag_index)))
            c.fl_r.append(r)
            c.fl_c.append(k)


def _rank_matrix(c: _Coords, n_rows: int, k_max: int) -> np.ndarray:
    rk_r, rk_c, rk_g = (np.asarray(x, dtype=np.int64) for x in (c.rk_r, c.rk_c, c.rk_g))
    if rk_r.size and np.bincount(rk_r * k_max + rk_c).max() > 1:
        raise ValueError("a ranking lists the same completion twice")
    return midranks(rk_r, rk_c, rk_g, n_rows, k_max)


def _filled(shape: tuple[int, int], rows: list, cols: list, values: list) -> np.ndarray:
    out = np.full(shape, np.nan)
    out[np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)] = np.array(
        values, dtype=float
    )
    return out


def _flag_cube(c: _Coords, n_rows: int, k_max: int) -> tuple[list[str], np.ndarray]:
    # Flag names are sorted so the output does not depend on which judgement came first.
    names_sorted = sorted(c.flag_index)
    remap = np.array([names_sorted.index(n) for n in c.flag_index], dtype=np.int64)
    flags = np.zeros((len(names_sorted), n_rows, k_max), dtype=bool)
    if c.fl_f:
        flags[remap[np.asarray(c.fl_f, dtype=np.int64)], np.asarray(c.fl_r), np.asarray(c.fl_c)] = (
            True
        )
    return names_sorted, flags


def _gold_ranks(
    gold: Mapping[Hashable, Ranking] | None,
    prompt_ids: tuple[Hashable, ...],
    completion_ids: list[tuple[str, ...]],
    k_max: int,
) -> np.ndarray:
    triples: tuple[list, list, list] = ([], [], [])
    if gold:
        for p, pid in enumerate(prompt_ids):
            ranking = gold.get(pid)
            if ranking:
                cmap = {c: k for k, c in enumerate(completion_ids[p])}
                _ranking_triples(ranking, cmap, p, triples, f"gold of prompt {pid!r}")
    row, col, grp = (np.asarray(x, dtype=np.int64) for x in triples)
    return midranks(row, col, grp, len(prompt_ids), k_max)


def to_arrays(
    data: JudgementArrays | Iterable[Judgement], gold: Mapping[Hashable, Ranking] | None = None
) -> JudgementArrays:
    """Accept either prebuilt arrays (shared between report and consensus) or raw judgements."""
    if isinstance(data, JudgementArrays):
        if gold:
            raise ValueError("gold must be given to build_arrays when passing prebuilt arrays")
        return data
    return build_arrays(data, gold)
