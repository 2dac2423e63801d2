"""Small helpers shared by the trainers, the scorer and the benches; stdlib only, so the
Django apps import them too (prompt keys, code version, strict JSON)."""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
from collections.abc import Hashable, Mapping
from importlib import metadata
from typing import Any


def wilson_interval(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion (good at small n and near 0/1)."""
    if n <= 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def prompt_key(prompt: Any) -> str:
    """A prompt as canonical JSON text: a string, or a chat (a list of messages), keys sorted.
    Equal prompts give equal keys, so samples of one prompt can be grouped wherever they are
    read back, and :mod:`rlhf.data` hashes it into the id of a prompt that has none."""
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False)


def paired_change(
    start: Mapping[Hashable, float], end: Mapping[Hashable, float]
) -> dict[str, Any] | None:
    """How each key's value moved from ``start`` to ``end`` (keys in both), with the mean
    change and its 95% t interval over keys.

    Used for held-out PPO evaluations, keyed by prompt: pairing each prompt with itself
    takes the spread between prompts out of the comparison, which a difference of two means
    would carry. ``ci95`` is None for a single key. None when no key is in both.
    """
    rows = [
        {"key": key, "start": start[key], "end": end[key], "delta": end[key] - start[key]}
        for key in start
        if key in end
    ]
    if not rows:
        return None
    deltas = [r["delta"] for r in rows]
    n = len(deltas)
    mean = sum(deltas) / n
    ci95 = None
    if n > 1:
        from scipy import stats

        sd = math.sqrt(sum((d - mean) ** 2 for d in deltas) / (n - 1))
        half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
        ci95 = (mean - half, mean + half)
    return {
        "rows": rows,
        "n": n,
        "mean_delta": mean,
        "ci95": ci95,
        "improved": sum(d > 0 for d in deltas),
    }


def json_safe(value: Any) -> Any:
    """``value`` as strict JSON: NaN and infinities become null (PostgreSQL's jsonb and the
    run page refuse them), tensors and numpy scalars become numbers, keys strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return json_safe(value.item())
    return str(value)


@functools.cache
def code_version() -> str:
    """What wrote a snapshot or a model: ``git:<describe>`` of the checkout holding this
    package, else ``rankwise==<version>`` of the installed distribution, else ``unknown``.

    Cached: a process runs the code it imported at start, whatever the checkout does later.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        if out.stdout.strip():
            return f"git:{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"rankwise=={metadata.version('rankwise')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def quantiles(values: list[float], qs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> dict[str, float]:
    """Linear-interpolated quantiles, keyed ``q05``, ``q25`` ..."""
    if not values:
        return {}
    xs = sorted(values)
    out = {}
    for q in qs:
        pos = q * (len(xs) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(xs) - 1)
        out[f"q{round(q * 100):02d}"] = xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
    return out


def write_json(path: str, data: Any) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")
    os.replace(tmp, path)
