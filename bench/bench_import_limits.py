"""Hostile import files: what one `manage.py import_data` costs in memory and time.

Two files an admin could upload: a gzip holding one 300 MB line, and a gzip bomb (a few MB
that expand to GiBs of newlines). Each runs in a fresh child process on a fresh SQLite
database; the table gives its peak RSS, CPU seconds and wall time, and the peak RSS as a
ratio of the reference: the same command importing a 10-line file (Django's own footprint).
``--repo`` runs another checkout's manage.py with the same interpreter, e.g. the code before
the import limits, to compare.

    .venv/bin/python bench/bench_import_limits.py
    .venv/bin/python bench/bench_import_limits.py --repo /path/to/old/checkout --timeout 300
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 2**20


def gzip_of(path: Path, parts) -> int:
    """Write the gzip of the concatenated ``parts`` (bytes chunks) without holding them."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    with open(path, "wb") as out:
        for part in parts:
            out.write(packer.compress(part))
        out.write(packer.flush())
    return path.stat().st_size


def long_line(mb: int):
    yield b'{"id": "huge", "prompt": "'
    for _ in range(mb):
        yield b"x" * MiB
    yield b'", "completions": ["a", "b"]}\n'


def newlines(mb: int):
    for _ in range(mb):
        yield b"\n" * MiB


def small_file():
    for i in range(10):
        line = {"id": f"p{i}", "prompt": f"Q{i}?", "completions": ["a", "b"]}
        yield json.dumps(line).encode() + b"\n"


def run_case(repo: Path, data_dir: Path, path: Path, timeout: int) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "RANKWISE_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(repo),
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    cmd = [sys.executable, "manage.py", "import_data", str(path), "--project", "limits",
           "--create"]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)  # fmt: skip
    try:
        out, err = child.communicate(timeout=timeout)
        killed = False
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        killed = True
    wall = time.perf_counter() - started
    # communicate() reaped the child; its usage is in RUSAGE_CHILDREN, so each case runs in a
    # wrapper process of its own (see measured) and reads its own totals.
    text = (err or out).decode(errors="replace").strip().splitlines()
    message = f"killed after {timeout} s" if killed else (text[-1] if text else "")
    return {"rc": child.returncode, "wall": wall, "message": message[:90]}


def measured(repo: Path, data_dir: Path, path: Path, timeout: int) -> dict:
    """Run the case in a fresh wrapper process so RUSAGE_CHILDREN covers this child only."""
    cmd = [sys.executable, __file__, "--one", str(repo), str(data_dir), str(path), str(timeout)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def one(repo: str, data_dir: str, path: str, timeout: str) -> None:
    result = run_case(Path(repo), Path(data_dir), Path(path), int(timeout))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.update(rss_mib=usage.ru_maxrss / 1024, cpu=usage.ru_utime + usage.ru_stime)
    print(json.dumps(result))


def migrate(repo: Path, data_dir: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "RANKWISE_DATA_DIR": str(data_dir)}  # fmt: skip
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=repo, env=env,
                   check=True)  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        return one(*sys.argv[2:6])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose code runs")
    parser.add_argument("--line-mb", type=int, default=300)
    parser.add_argument("--bomb-mb", type=int, default=3072, help="bomb size once expanded")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per case")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        tmp = Path(tmp)
        files = {
            "reference: 10 lines": (tmp / "small.jsonl.gz", small_file()),
            f"one {args.line_mb} MB line": (tmp / "line.jsonl.gz", long_line(args.line_mb)),
            f"bomb: {args.bomb_mb} MiB of newlines": (tmp / "bomb.jsonl.gz",
                                                       newlines(args.bomb_mb)),
        }  # fmt: skip
        sizes = {name: gzip_of(path, parts) for name, (path, parts) in files.items()}
        rows = []
        for name, (path, _) in files.items():
            data_dir = tmp / f"data-{len(rows)}"
            migrate(args.repo, data_dir)
            rows.append((name, sizes[name], measured(args.repo, data_dir, path, args.timeout)))

    reference = rows[0][2]["rss_mib"]
    print(f"code: {args.repo}")
    print(
        f"{'file':32} {'gzip':>9} {'peak RSS':>10} {'x ref':>6} {'CPU s':>7} {'wall s':>7}  outcome"
    )
    for name, size, r in rows:
        print(f"{name:32} {size / MiB:7.2f}MB {r['rss_mib']:8.0f}MB {r['rss_mib'] / reference:6.2f}"
              f" {r['cpu']:7.1f} {r['wall']:7.1f}  rc={r['rc']} {r['message']}")  # fmt: skip


if __name__ == "__main__":
    main()
