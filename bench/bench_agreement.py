"""Full agreement recompute (pure maths, no database) on synthetic data, part by part.

Synthetic project (default 100,000 prompts x 3 annotators x K=4; noisy rankings around a latent
truth with ties, Likert ratings, two flags, gold prompts, a few biased and random annotators),
then times every part of the recompute against the 30 s target, and Krippendorff's alpha next
to the `krippendorff` package on the same reliability data.

    nice -n 10 .venv/bin/python bench/bench_agreement.py
    nice -n 10 .venv/bin/python bench/bench_agreement.py --prompts 20000 --k 2-9 --json out.json

Wall and CPU seconds are both shown: on a shared machine the wall time also measures the other
processes (the load average is printed), the CPU time what the recompute itself costs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agreement.consensus import consensus
from agreement.metrics import alpha as kalpha
from agreement.metrics import build_arrays, project_report, synthetic_judgements

TARGET_S = 30.0


class Clock:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def time(self, name: str, fn):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        self.rows.append((name, time.perf_counter() - wall, time.process_time() - cpu))
        return out


def reliability_matrix(arrays, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """[annotators, prompts * K] as the krippendorff package takes it (NaN = missing)."""
    k = arrays.k_max
    m = np.full((len(arrays.annotators), arrays.n_prompts * k), np.nan)
    cols = arrays.row_prompt[rows, None] * k + np.arange(k)[None, :]
    m[arrays.row_annotator[rows, None], cols] = values
    return m


def alpha_comparison(arrays) -> list[dict]:
    import krippendorff

    ranked = np.flatnonzero(arrays.ranked)
    done = np.flatnonzero(~arrays.skipped)
    mask = arrays.row_mask()[done]
    cases = [
        (
            "ranking",
            "ordinal",
            lambda: kalpha.ranking_coincidences(arrays),
            ranked,
            arrays.rank[ranked],
        ),
        (
            "ranking",
            "interval",
            lambda: kalpha.ranking_coincidences(arrays),
            ranked,
            arrays.rank[ranked],
        ),
        (
            "ratings",
            "ordinal",
            lambda: kalpha.rating_coincidences(arrays),
            done,
            arrays.ratings[done],
        ),
        (
            "ratings",
            "interval",
            lambda: kalpha.rating_coincidences(arrays),
            done,
            arrays.ratings[done],
        ),
    ]
    for f, name in enumerate(arrays.flag_names):
        values = np.where(mask, arrays.flags[f, done].astype(float), np.nan)
        cases.append(
            (
                f"flag {name}",
                "nominal",
                lambda f=f: kalpha.flag_coincidences(arrays, f),
                done,
                values,
            )
        )
    out = []
    for what, level, build, rows, values in cases:
        t = time.perf_counter()
        ours = kalpha.alpha_estimate(build(), level).value
        t_ours = time.perf_counter() - t
        matrix = reliability_matrix(arrays, rows, values)
        t = time.perf_counter()
        ref = float(krippendorff.alpha(matrix, level_of_measurement=level))
        t_ref = time.perf_counter() - t
        out.append(
            {
                "data": what,
                "level": level,
                "ours": ours,
                "package": ref,
                "abs_diff": abs(ours - ref),
                "ours_s": t_ours,
                "package_s": t_ref,
                "speedup": t_ref / t_ours,
            }
        )
    return out


def parse_k(text: str) -> int | tuple[int, int]:
    if "-" in text:
        lo, hi = text.split("-")
        return int(lo), int(hi)
    return int(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=100_000)
    ap.add_argument("--annotators-per-prompt", type=int, default=3)
    ap.add_argument("--annotators", type=int, default=30, help="size of the annotator pool")
    ap.add_argument("--k", type=parse_k, default=4, help="completions per prompt, or a range 2-9")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-package", action="store_true", help="skip the krippendorff comparison")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    t = time.perf_counter()
    judgements, gold = synthetic_judgements(
        args.prompts,
        k=args.k,
        annotators_per_prompt=args.annotators_per_prompt,
        n_annotators=args.annotators,
        seed=args.seed,
    )
    generate_s = time.perf_counter() - t
    load_before = os.getloadavg()[0]

    clock = Clock()
    arrays = clock.time("build arrays", lambda: build_arrays(judgements, gold))
    parts: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    report = project_report(arrays, bootstrap=args.bootstrap, seed=args.seed, timings=parts)
    report_wall, report_cpu = time.perf_counter() - wall, time.process_time() - cpu
    labels = {
        "pairwise_and_w": "pairwise agreement, ties, tau-b, W",
        "alpha_ranking": "alpha ranking",
        "alpha_ratings": "alpha ratings (ordinal, interval)",
        "alpha_flags": "alpha flags",
        "per_annotator": "per-annotator (incl. leave-one-out BT)",
        "bootstrap": f"bootstrap ({args.bootstrap} resamples)",
    }
    for key, label in labels.items():
        clock.rows.append((label, parts.get(key, 0.0), float("nan")))
    clock.rows.append(("  = project_report", report_wall, report_cpu))
    result = clock.time("consensus (BT + weight fixed point)", lambda: consensus(arrays))
    records = clock.time("consensus records (dicts)", lambda: list(result.prompts()))
    total_wall = sum(r[1] for r in clock.rows if r[0] in _TOTAL_PARTS)
    total_cpu = sum(r[2] for r in clock.rows if r[0] in _TOTAL_PARTS)
    load_after = os.getloadavg()[0]

    print(
        f"\n{args.prompts:,} prompts x {args.annotators_per_prompt} annotators x K={args.k}, "
        f"{arrays.n_rows:,} judgements, {len(arrays.annotators)} annotators; "
        f"generated in {generate_s:.1f} s; load average {load_before:.1f} -> {load_after:.1f}"
    )
    print(f"\n{'part':<42} {'wall s':>8} {'cpu s':>8}")
    for name, w, c in clock.rows:
        print(f"{name:<42} {w:8.2f} {c:8.2f}")
    verdict = "OK" if total_wall < TARGET_S else "OVER"
    print(
        f"{'TOTAL full recompute':<42} {total_wall:8.2f} {total_cpu:8.2f}   target {TARGET_S:.0f} s: {verdict}"
    )
    print(
        f"\nconsensus: {result.iterations} weight rounds, converged={result.converged}; "
        f"{len(records):,} records"
    )
    print(
        "headline: "
        + ", ".join(
            f"{k}={report[k]:.4f}"
            for k in (
                "pairwise_agreement",
                "pairwise_agreement_with_ties",
                "tie_rate",
                "kendall_w_mean",
            )
        )
    )

    comparison = [] if args.no_package else alpha_comparison(arrays)
    if comparison:
        print(
            f"\n{'alpha':<18} {'level':<9} {'ours':>9} {'package':>9} {'|diff|':>8} {'ours s':>7} {'pkg s':>7} {'x':>6}"
        )
        for r in comparison:
            print(
                f"{r['data']:<18} {r['level']:<9} {r['ours']:9.5f} {r['package']:9.5f} "
                f"{r['abs_diff']:8.1e} {r['ours_s']:7.3f} {r['package_s']:7.2f} {r['speedup']:6.1f}"
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {
                        k: v if not isinstance(v, Path) else str(v) for k, v in vars(args).items()
                    },
                    "parts": [{"part": n, "wall_s": w, "cpu_s": c} for n, w, c in clock.rows],
                    "total_wall_s": total_wall,
                    "total_cpu_s": total_cpu,
                    "load_average": [load_before, load_after],
                    "alpha": comparison,
                },
                indent=1,
            )
        )


_TOTAL_PARTS = {
    "build arrays",
    "  = project_report",
    "consensus (BT + weight fixed point)",
    "consensus records (dicts)",
}


if __name__ == "__main__":
    main()
