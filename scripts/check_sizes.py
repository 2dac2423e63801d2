"""Module and function sizes (issue #14): no module over 400 lines, no function over 80, outside
tests, benchmarks and migrations. Prints the offenders; exits 1 when one is not in KNOWN.

KNOWN lists what was already too long when the check came in, each with its current length:
it may shrink (then lower or drop the entry), never grow, and nothing new may join it. It is
empty now: the last four offenders were split into named helpers.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

MAX_MODULE = 400
MAX_FUNCTION = 80
ROOT = Path(__file__).resolve().parent.parent

# path or path:function -> the length it had when the check came in
KNOWN: dict[str, int] = {}


def _sources() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    skip = ("tests/", "bench/", "client/tests/")
    return [ROOT / p for p in out if not p.startswith(skip) and "/migrations/" not in p]


def offenders() -> dict[str, int]:
    found: dict[str, int] = {}
    for path in _sources():
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        rel = str(path.relative_to(ROOT))
        lines = text.count("\n")
        if lines > MAX_MODULE:
            found[rel] = lines
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION:
                    found[f"{rel}:{node.name}"] = length
    return found


def main() -> int:
    bad = 0
    for name, length in sorted(offenders().items()):
        allowed = KNOWN.get(name)
        verdict = "known" if allowed is not None and length <= allowed else "NEW"
        bad += verdict == "NEW"
        print(f"{verdict:5} {length:5} {name}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
